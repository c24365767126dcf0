"""Exported models (sketchkeras.export) against Keras on real Quick, Draw! drawings.

Each format the running backend exports is exported from the bundled QD-35 model and run by its own runtime
(onnxruntime, the TFLite interpreter, TensorFlow's SavedModel loader) on 105 real simplified drawings of the 35
classes; the probabilities must match Keras' to 1e-4, with the same top-1.
"""

import json
import warnings

import keras
import numpy as np
import pytest

from sketchkeras import SketchClassifier, bundled_model_dir, canonical_strokes, pad_strokes, qd35_classes
from sketchkeras.export import FORMATS, export_model
from sketchkeras_cli import EXPORT_FORMATS, main

BACKEND = keras.backend.backend()
EXPORTABLE = [name for name, (_, backends) in FORMATS.items() if BACKEND in backends and name != "web"]
REFUSED = [name for name, (_, backends) in FORMATS.items() if BACKEND not in backends]


@pytest.fixture(scope="module")
def model():
    return SketchClassifier.from_pretrained(bundled_model_dir())


@pytest.fixture(scope="module")
def drawings(quickdraw_dir, model):
    """The first 3 simplified drawings of each QD-35 class, as canonical strokes (105 in all)."""
    strokes = []
    for word in qd35_classes():
        with (quickdraw_dir / "simplified" / f"{word}.ndjson").open() as lines:
            for _, line in zip(range(3), lines):
                strokes.append(canonical_strokes(json.loads(line)["drawing"], "simplified", model.max_points))
    return strokes


@pytest.fixture(scope="module")
def expected(model, drawings):
    """Keras' own probabilities, from one batch padded to max_points."""
    x, lengths = pad_strokes(drawings, model.max_points)
    return np.asarray(model.predict_on_batch({"strokes": x, "lengths": lengths}))


def _runtime(format, path):
    """A function `(strokes, lengths) -> probabilities` that runs the exported file with its own runtime."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path)
        return lambda strokes, lengths: session.run(None, {"strokes": strokes, "lengths": lengths})[0]
    import tensorflow as tf

    if format == "litert":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice that ai-edge-litert replaces it
            runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner()
        return lambda strokes, lengths: next(iter(runner(strokes=strokes, lengths=lengths).values()))
    loaded = tf.saved_model.load(str(path))
    return lambda strokes, lengths: loaded.serve({"strokes": strokes, "lengths": lengths}).numpy()


@pytest.mark.parametrize("format", EXPORTABLE)
def test_an_exported_model_gives_keras_probabilities_on_real_drawings(format, model, drawings, expected, tmp_path):
    path = export_model(model, tmp_path, format)
    assert path == tmp_path / FORMATS[format][0]
    run = _runtime(format, path)
    got = []
    for strokes in drawings:
        x, lengths = pad_strokes([strokes], model.max_points)
        got.append(np.asarray(run(x, lengths))[0])
    got = np.array(got)
    assert got.shape == expected.shape == (105, 35)
    assert np.abs(got - expected).max() <= 1e-4
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    description = json.loads((tmp_path / "model.json").read_text())
    assert description["labels"] == model.labels and description["max_points"] == 256
    assert description["inputs"] == {
        "strokes": {"shape": [1, 256, 3], "dtype": "float32"},
        "lengths": {"shape": [1], "dtype": "int32"},
    }
    assert description["output"]["shape"] == [1, 35] and description["exported_under"] == BACKEND


@pytest.mark.parametrize("format", REFUSED)
def test_a_format_this_backend_cannot_export_names_the_backends_that_can(format, model, tmp_path):
    with pytest.raises(ValueError, match=f"run the export with KERAS_BACKEND={FORMATS[format][1][0]}"):
        export_model(model, tmp_path, format)
    assert not any(tmp_path.iterdir())


def test_an_unknown_format_is_refused(model, tmp_path):
    with pytest.raises(ValueError, match=r"unknown export format 'tflite'; choose one of \['litert', 'onnx'"):
        export_model(model, tmp_path, "tflite")


def test_the_command_exports_a_shipped_model_by_name(tmp_path, capsys):
    assert main(["export", "qd35", "--format", "onnx", "--out", str(tmp_path / "qd35")]) == 0
    assert (
        capsys.readouterr().out == f"wrote {tmp_path / 'qd35' / 'model.onnx'} and {tmp_path / 'qd35' / 'model.json'}\n"
    )
    assert json.loads((tmp_path / "qd35" / "model.json").read_text())["labels"] == qd35_classes()


def test_the_command_explains_a_format_this_backend_cannot_export(tmp_path, capsys):
    format = "litert" if BACKEND != "tensorflow" else "unknown"
    status = main(["export", "qd35", "--format", format, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    if BACKEND == "tensorflow":
        assert status == 2 and "invalid choice: 'unknown'" in err
    else:
        assert status == 1
        assert err == (
            f"sketchkeras export: error: Keras exports litert from the tensorflow backend, not {BACKEND}; the model "
            "gives the same numbers under every backend, so run the export with KERAS_BACKEND=tensorflow\n"
        )


def test_the_command_offers_the_formats_export_model_takes():
    assert EXPORT_FORMATS == tuple(FORMATS)
