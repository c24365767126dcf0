"""Exported models for apps that run no Python: ONNX, LiteRT (TFLite), TensorFlow SavedModel, a static web page.

`export_model(model, directory, format)` writes a folder. For `"onnx"`,
`"litert"` and `"saved_model"` it holds the model, exported by Keras' own
`model.export`, and `model.json`, which says what goes in and comes out:

* input `strokes`: float32 `(1, max_points, 3)`, one drawing's canonical
  strokes (`sketchkeras.canonical_strokes`), right-padded with zero rows;
* input `lengths`: int32 `(1,)`, how many of those rows are the drawing's
  (at most `max_points`);
* output: float32 `(1, len(labels))`, the probabilities over `labels`.

The shapes are fixed (no masks, no dynamic steps), which every exporter and
runtime handles. Padding never changes the result. The README's "Export"
section states the preprocessing (Google's simplification, canonical
strokes) exactly, for code outside Python.

Keras exports each format from some backends only; a model gives the same
numbers under every backend, so use one that can:

| format | file | exports under |
|---|---|---|
| `onnx` | `model.onnx` | jax (jax2onnx), tensorflow (tf2onnx), torch (torch.onnx) |
| `litert` | `model.tflite` | tensorflow |
| `saved_model` | `saved_model/` | jax (jax2tf), tensorflow |
| `web` | `index.html` and its files | any (`sketchkeras.static_page`) |

Example:
>>> import json, tempfile
>>> import onnxruntime
>>> from sketchkeras import SketchBackbone, SketchClassifier, canonical_strokes, pad_strokes
>>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["circle", "line"])
>>> path = export_model(model, tempfile.mkdtemp(), "onnx")
>>> path.name, json.loads((path.parent / "model.json").read_text())["labels"]
('model.onnx', ['circle', 'line'])
>>> strokes, lengths = pad_strokes([canonical_strokes([[[0, 90, 255], [0, 200, 40]]])], model.max_points)
>>> session = onnxruntime.InferenceSession(path)
>>> probabilities = session.run(None, {"strokes": strokes, "lengths": lengths})[0]
>>> bool(abs(probabilities - model.predict_strokes([strokes[0, : lengths[0]]])).max() < 1e-4)
True
"""

import importlib.util
import json
import warnings
from pathlib import Path

import keras

from sketchkeras.classifier import SketchClassifier
from sketchkeras.static_page import write_static_page

# format -> (what it writes in the folder, the backends Keras exports it from)
FORMATS = {
    "onnx": ("model.onnx", ("jax", "tensorflow", "torch")),
    "litert": ("model.tflite", ("tensorflow",)),
    "saved_model": ("saved_model", ("jax", "tensorflow")),
    "web": ("index.html", ("jax", "tensorflow", "torch")),
}
_KERAS_FORMATS = {"onnx": "onnx", "litert": "litert", "saved_model": "tf_saved_model"}
# What Keras' exporter needs beyond the backend (the `export` extra): ONNX's converter for each backend.
_CONVERTERS = {("onnx", "jax"): "jax2onnx", ("onnx", "tensorflow"): "tf2onnx", ("onnx", "torch"): "onnxscript"}


def export_model(model, directory, format):
    """Exports a model to `directory` in `format` (see the module docstring); returns the written model's path.

    Args:
        model: a `SketchClassifier`, or any source `SketchClassifier.from_pretrained`
            takes (a shipped name such as `"qd35"`, a directory, a Hub id).
        directory: the output folder, created if needed; files already
            there under the same names are replaced.
        format: `"onnx"`, `"litert"`, `"saved_model"` or `"web"`.

    Raises:
        ModuleNotFoundError: the converter the format needs is not
            installed (`pip install "sketchkeras[export]"`).
        ValueError: an unknown format, or one that the running Keras
            backend cannot export (the message names the backends that can).

    Example:
    >>> import tempfile
    >>> export_model("qd35", tempfile.mkdtemp(), "web").name
    'index.html'
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {sorted(FORMATS)}")
    name, backends = FORMATS[format]
    backend = keras.backend.backend()
    if backend not in backends:
        raise ValueError(
            f"Keras exports {format} from the {' or '.join(backends)} backend, not {backend}; the model gives the "
            f"same numbers under every backend, so run the export with KERAS_BACKEND={backends[0]}"
        )
    converter = _CONVERTERS.get((format, backend))
    if converter and importlib.util.find_spec(converter) is None:
        raise ModuleNotFoundError(
            f"{format} export needs {converter}: pip install 'sketchkeras[export]'", name=converter
        )
    if not isinstance(model, SketchClassifier):
        model = SketchClassifier.from_pretrained(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if format == "web":
        return write_static_page(model, directory) / name
    path = directory / name
    signature = {
        "strokes": keras.InputSpec(shape=(1, model.max_points, 3), dtype="float32", name="strokes"),
        "lengths": keras.InputSpec(shape=(1,), dtype="int32", name="lengths"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' own deprecation and tracing notices
        model.export(str(path), format=_KERAS_FORMATS[format], input_signature=[signature], verbose=False)
    description = {
        "format": format,
        "file": name,
        "labels": model.labels,
        "max_points": model.max_points,
        "inputs": {
            "strokes": {"shape": [1, model.max_points, 3], "dtype": "float32"},
            "lengths": {"shape": [1], "dtype": "int32"},
        },
        "output": {"shape": [1, len(model.labels)], "dtype": "float32", "values": "probabilities over labels"},
        "preprocessing": "canonical strokes (dx, dy, pen_lifted) as sketchkeras.canonical_strokes makes them, "
        "right-padded with zero rows to max_points; see the sketchkeras README, section Export",
        "exported_under": backend,
    }
    (directory / "model.json").write_text(json.dumps(description, indent=1) + "\n")
    return path
