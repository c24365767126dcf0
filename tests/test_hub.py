"""Sharing models offline: Keras' directory layout, the Hub cache, pushes to a local Hub, the model card.

Nothing here reaches the network. Hub repositories are read from a cache
laid out as huggingface_hub lays out its own. Pushes go through the real
huggingface_hub client, over HTTP, to a small stand-in for the Hub on
127.0.0.1 that answers only the requests `create_repo` and `upload_folder`
make.
"""

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import h5py
import huggingface_hub
import keras
import numpy as np
import pytest
import yaml
from huggingface_hub import EvalResultEntry, ModelCard, eval_result_entries_to_yaml, parse_eval_result_entries
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

from sketchkeras import (
    SketchBackbone,
    SketchClassifier,
    SketchPreprocessor,
    UnsafeModelError,
    bundled_model_dir,
    categories,
    load_quickdraw,
    pad_strokes,
    qd35_classes,
    split_dataset,
)
from sketchkeras.hub import EVAL_RESULTS_FILE, InvalidModelError, load_results
from sketchkeras_cli import main

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch", "tensorflow")
CLASSES = ["cat", "dog", "pig", "owl"]
REPO = "owner/sketch"
MAIN, OLD = "a" * 40, "b" * 40
LAYOUT = {"config.json", "metadata.json", "model.weights.h5", "sketchkeras.json", "README.md"}


@pytest.fixture(scope="module")
def trained(quickdraw_dir):
    """A small classifier trained on real drawings, with the real metrics of its test split."""
    keras.utils.set_random_seed(0)
    files = [quickdraw_dir / "simplified" / f"{word}.ndjson" for word in CLASSES]
    splits = split_dataset(load_quickdraw(files, classes=CLASSES, max_per_class=40), validation_size=0, test_size=0.25)
    train, test = splits["train"], splits["test"]
    model = SketchClassifier(SketchBackbone(conv_layers=[(16, 5, 2)], rnn_units=[16]), CLASSES, SketchPreprocessor(64))
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    x, lengths = pad_strokes([np.asarray(s, "float32") for s in train["strokes"]], 64)
    start = time.perf_counter()
    model.fit({"strokes": x, "lengths": lengths}, np.array(train["word"]), batch_size=40, epochs=2, verbose=0)
    seconds = time.perf_counter() - start
    strokes = [np.asarray(s, "float32") for s in test["strokes"]]
    truth = np.array(test["word"])
    ranks = np.argmax(np.argsort(-model.predict_strokes(strokes), axis=1, kind="stable") == truth[:, None], axis=1)
    metrics = {
        "top1": float(np.mean(ranks == 0)),
        "top3": float(np.mean(ranks < 3)),
        "map3": float(np.mean(np.where(ranks < 3, 1 / (ranks + 1), 0))),
        "test_drawings": len(truth),
        "per_class": {label: float(np.mean(ranks[truth == i] == 0)) for i, label in enumerate(CLASSES)},
        "dataset": "cat, dog, pig and owl from the shared Quick, Draw! sample",
    }
    training = {
        "backend": keras.backend.backend(),
        "epochs": 2,
        "optimizer": "Adam",
        "learning_rate": 0.003,
        "batch_size": 40,
        "train_drawings": len(x),
        "train_seconds": round(seconds, 1),
    }
    return SimpleNamespace(model=model, metrics=metrics, training=training, strokes=strokes)


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved") / "sketch-4"
    trained.model.save_pretrained(directory, metrics=trained.metrics, training=trained.training)
    return directory


def _files(directory):
    return {p.name: p.read_bytes() for p in Path(directory).iterdir() if p.is_file()}


def _python_blocks(card_text):
    return re.findall(r"```python\n(.*?)```", card_text, re.S)


def _assert_same_weights(model, expected):
    assert isinstance(model, SketchClassifier) and model.labels == expected.labels
    for theirs, ours in zip(model.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(theirs, ours)


def _run_snippets(card_text):
    """Runs the card's Python snippets as written; returns what they print."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in _python_blocks(card_text):
            exec(block, {"__name__": "__card__"})
    return out.getvalue()


# --- directories ------------------------------------------------------------


def test_directory_is_keras_layout_plus_results_and_card(saved, trained):
    assert _files(saved).keys() == LAYOUT
    assert json.loads((saved / "sketchkeras.json").read_text()) == {
        "metrics": trained.metrics,
        "training": trained.training,
    }
    loaded = SketchClassifier.from_pretrained(saved)
    assert isinstance(loaded, SketchClassifier)
    assert loaded.labels == CLASSES and loaded.max_points == 64
    ours = trained.model.predict_strokes(trained.strokes)
    np.testing.assert_allclose(loaded.predict_strokes(trained.strokes), ours, atol=1e-6, rtol=0)
    # Keras alone reads the same directory
    np.testing.assert_allclose(keras.saving.load_model(saved).predict_strokes(trained.strokes), ours, atol=1e-6, rtol=0)


def test_a_saved_model_holds_no_training_state_and_loads_uncompiled(saved, trained, tmp_path):
    assert trained.model.compiled  # trained with Adam: its optimizer has moments for every weight
    with h5py.File(saved / "model.weights.h5", "r") as file:
        assert sorted(file) == ["layers", "vars"]
    assert json.loads((saved / "config.json").read_text())["compile_config"] == {}
    # A model saved by earlier sketchkeras kept AdamW's state and compile settings: it loads, uncompiled.
    older = tmp_path / "older"
    keras.saving.save_model(trained.model, str(older), zipped=False)
    with h5py.File(older / "model.weights.h5", "r") as file:
        assert "optimizer" in file
    assert json.loads((older / "config.json").read_text())["compile_config"]["optimizer"]
    loaded = SketchClassifier.from_pretrained(older)
    assert not loaded.compiled
    _assert_same_weights(loaded, trained.model)


_PREDICT = """
import json, sys, numpy as np, sketchkeras
model = sketchkeras.SketchClassifier.from_pretrained(sys.argv[1])
strokes = [np.asarray(s, "float32") for s in json.loads(open(sys.argv[2]).read())]
print("PROBS " + json.dumps(model.predict_strokes(strokes).tolist()))
"""


@pytest.mark.parametrize("other", [b for b in BACKENDS if b != keras.backend.backend()])
def test_saved_directory_predicts_the_same_under_another_backend(other, saved, trained, tmp_path):
    (tmp_path / "strokes.json").write_text(json.dumps([s.tolist() for s in trained.strokes]))
    out = subprocess.run(
        [sys.executable, "-c", _PREDICT, str(saved), str(tmp_path / "strokes.json")],
        env={**os.environ, "KERAS_BACKEND": other},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    theirs = np.array(json.loads(next(line[6:] for line in out.stdout.splitlines() if line.startswith("PROBS "))))
    np.testing.assert_allclose(theirs, trained.model.predict_strokes(trained.strokes), atol=1e-5, rtol=0)


def _lambda_config():
    return keras.saving.serialize_keras_object(keras.layers.Lambda(lambda x: x * 2))


def _nest(config, part, key, value):
    """`config` with its `part` (backbone or preprocessor) replaced by `value`, or with `value` at `key` inside it."""
    config = json.loads(json.dumps(config))
    if key is None:
        config["config"][part] = value
    else:
        config["config"][part]["config"][key] = value
    return config


# sketchkeras 0.1.0's flat config of the QD-35 model (tests/data/qd35-0.1.0).
_FLAT_CONFIG = json.loads((Path(__file__).parent / "data" / "qd35-0.1.0" / "config.json").read_text())["config"]


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda config: _lambda_config(), "describes keras.layers.Lambda"),
        (
            lambda config: {
                **config,
                "module": "evil.payload",
                "class_name": "Payload",
                "registered_name": "evil>Payload",
            },
            "describes evil>Payload",
        ),
        (
            lambda config: {**config, "config": {**config["config"], "rnn": _lambda_config()}},
            "asks for keras.layers.Lambda inside the SketchClassifier's settings",
        ),
        (
            lambda config: {**config, "config": {**config["config"], "backbone": _lambda_config()}},
            "'backbone' describes keras.layers.Lambda, not sketchkeras' SketchBackbone",
        ),
        (
            lambda config: _nest(config, "backbone", "rnn", _lambda_config()),
            "asks for keras.layers.Lambda inside the backbone's settings",
        ),
        (
            lambda config: _nest(config, "preprocessor", None, {"module": "evil.payload", "class_name": "Payload"}),
            "'preprocessor' describes evil.payload.Payload, not sketchkeras' SketchPreprocessor",
        ),
        (
            lambda config: {**config, "config": _FLAT_CONFIG | {"rnn": _lambda_config()}},
            "asks for keras.layers.Lambda inside the SketchClassifier's settings",
        ),
    ],
    ids=[
        "lambda-layer",
        "unknown-module",
        "nested-lambda",
        "lambda-backbone",
        "lambda-in-backbone",
        "evil-preprocessor",
        "lambda-in-0.1.0-config",
    ],
)
def test_tampered_config_is_refused_before_keras_reads_it(tamper, message, saved, tmp_path):
    for name, data in _files(saved).items():
        (tmp_path / name).write_bytes(data)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(tamper(config)))
    with pytest.raises(UnsafeModelError, match=message):
        SketchClassifier.from_pretrained(tmp_path)
    assert "evil" not in sys.modules


def test_bad_results_are_refused_before_anything_is_written(trained, tmp_path):
    model, metrics = trained.model, trained.metrics
    bad = [
        ({**metrics, "top_1": 0.5}, None, "unknown \\['top_1'\\]"),
        ({k: v for k, v in metrics.items() if k != "map3"}, None, "missing \\['map3'\\]"),
        ({**metrics, "top1": 81.0}, None, "top1 must be a fraction"),
        ({**metrics, "per_class": {"zebra": 0.5}}, None, "labels the model does not have: \\['zebra'\\]"),
        (None, {"backend": "jax"}, "missing \\['epochs', 'optimizer', 'train_drawings'\\]"),
    ]
    for metrics, training, message in bad:
        with pytest.raises(ValueError, match=message):
            model.save_pretrained(tmp_path / "out", metrics=metrics, training=training)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "results, message",
    [
        (None, "no sketchkeras.json, so this is not a saved sketchkeras model"),
        (b"{", "sketchkeras.json: not valid JSON"),
        (b'{"metrics": null}', "sketchkeras.json: not a results file \\(a JSON object of 'metrics' and 'training'\\)"),
        (b"[]", "sketchkeras.json: holds an array, not the JSON object a saved model's results is"),
        (b'{"metrics": null, "training": [1]}', "sketchkeras.json: training must be a JSON object or null"),
        (b'{"metrics": null, "training": {"epochs": 3}}', "sketchkeras.json: training: missing \\['backend'"),
    ],
    ids=["missing", "not JSON", "no training key", "an array", "training a list", "keys missing"],
)
def test_a_bad_results_file_is_a_clear_error_naming_it(results, message, saved, tmp_path):
    copy = shutil.copytree(saved, tmp_path / "copy")
    (copy / "sketchkeras.json").unlink()
    if results is not None:
        (copy / "sketchkeras.json").write_bytes(results)
    error = FileNotFoundError if results is None else InvalidModelError
    with pytest.raises(error, match=message):
        load_results(copy)


# --- loading checks every file, and the config against the weights ---------------


@pytest.fixture
def bundled_copy(tmp_path):
    directory = tmp_path / "qd35"
    shutil.copytree(bundled_model_dir(), directory)
    return directory


@pytest.fixture
def cats(quickdraw_dir, tmp_path):
    """The first 4 real cats of Google's simplified file, and a file holding just them."""
    with open(quickdraw_dir / "simplified" / "cat.ndjson") as file:
        lines = [next(file) for _ in range(4)]
    (tmp_path / "cats.ndjson").write_text("".join(lines))
    return SimpleNamespace(drawings=[json.loads(line)["drawing"] for line in lines], file=tmp_path / "cats.ndjson")


@pytest.mark.parametrize(
    "name, labels, first_guesses",
    [
        ("qd35", qd35_classes, ["cat"] * 4),
        # The 345-class model's test top-1 is 0.38 (its model card): two of these four cats are cats to it.
        ("quickdraw345", categories, ["cat", "dog", "bear", "cat"]),
    ],
)
def test_the_shipped_models_load_offline_with_their_weights(name, labels, first_guesses, cats, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = SketchClassifier.from_preset(name)
    assert model.labels == labels() and sorted(model.get_config()) == ["backbone", "labels", "preprocessor"]
    assert [top[0][0] for top in model.predict_drawings(cats.drawings, top_k=1)] == first_guesses
    assert sum(path.stat().st_size for path in bundled_model_dir(name).rglob("*")) < 5_000_000


def test_a_model_saved_by_0_1_0_loads_in_the_nested_layout(cats):
    flat = Path(__file__).parent / "data" / "qd35-0.1.0"  # the QD-35 model as sketchkeras 0.1.0 shipped it
    assert "backbone" not in json.loads((flat / "config.json").read_text())["config"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        old = SketchClassifier.from_pretrained(flat)
    new = SketchClassifier.from_pretrained("qd35")
    assert sorted(old.get_config()) == ["backbone", "labels", "preprocessor"] and old.max_points == 256
    _assert_same_weights(old, new)
    assert [top[0][0] for top in old.predict_drawings(cats.drawings, top_k=1)] == ["cat"] * 4


def test_an_unchanged_copy_loads_exactly_as_keras_loads_it(bundled_copy, cats):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ours = SketchClassifier.from_pretrained(bundled_copy)
    theirs = keras.saving.load_model(bundled_model_dir(), compile=False)
    _assert_same_weights(ours, theirs)
    assert [top[0][0] for top in ours.predict_drawings(cats.drawings, top_k=1)] == ["cat"] * 4


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"normalization": None},
            r"stored weights no model variable uses: "
            r"layers/sketch_backbone/layers/stroke_encoder/norms/batch_normalization \(4 weights\), "
            r"layers/sketch_backbone/layers/stroke_encoder/norms/batch_normalization_1 \(4 weights\), "
            r"layers/sketch_backbone/layers/stroke_encoder/norms/batch_normalization_2 \(4 weights\)\. Refusing",
        ),
        (
            {"rnn_units": [128, 128, 128]},
            r"model variables with no stored weight: "
            r"layers/sketch_backbone/layers/stroke_encoder/rnns/container_2/fused_lstm/cell "
            r"\(3 weights\)\. Refusing",
        ),
        (
            {"rnn_units": [64, 128]},
            r"shapes that differ: "
            r"layers/sketch_backbone/layers/stroke_encoder/rnns/container/fused_lstm/cell/vars/0 stored \(96, 512\), "
            r"model \(96, 256\), ",
        ),
        (
            {"normalization": "layer"},
            r"no stored weight: "
            r"layers/sketch_backbone/layers/stroke_encoder/norms/layer_normalization \(2 weights\), .*; "
            r"stored weights no model variable uses: "
            r"layers/sketch_backbone/layers/stroke_encoder/norms/batch_normalization \(4 weights\)",
        ),
    ],
    ids=["no-normalization", "third-lstm", "narrower-lstm", "layer-normalization"],
)
def test_a_config_that_disagrees_with_its_weights_is_refused(settings, message, bundled_copy, cats, capsys):
    config = json.loads((bundled_copy / "config.json").read_text())
    config["config"]["backbone"]["config"].update(settings)
    (bundled_copy / "config.json").write_text(json.dumps(config))
    weights = re.escape(str(bundled_copy / "model.weights.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # refused, not warned about
        expected = f"^{weights}: the weights do not fit the model config.json .*{message}"
        with pytest.raises(InvalidModelError, match=expected):
            SketchClassifier.from_pretrained(bundled_copy)
    assert main(["predict", str(bundled_copy), str(cats.file)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and re.fullmatch(f"sketchkeras predict: error: {weights}: the weights do not fit .*\n", err)


def _random(data):
    return np.random.default_rng(0).bytes(len(data))


_DAMAGE = {
    "config-list": ("config.json", lambda data: b"[]", "holds an array, not the JSON object a saved model's"),
    "config-string": ("config.json", lambda data: b'"SketchClassifier"', "holds a string, not the JSON object"),
    "config-truncated": ("config.json", lambda data: data[:30], "not valid JSON: Unterminated string .* column 12"),
    "config-not-utf8": (
        "config.json",
        lambda data: b"\xff" + data,
        "not valid JSON: 'utf-8' codec can't decode byte 0xff",
    ),
    "weights-missing": ("model.weights.h5", None, "no such file, so the model has no weights to load"),
    "weights-random": (
        "model.weights.h5",
        _random,
        r"not a readable Keras weights file \(HDF5\): .*signature not found",
    ),
    "weights-truncated": ("model.weights.h5", lambda data: data[: len(data) // 2], r"not a readable .*truncated file"),
}


@pytest.mark.parametrize("name, damage, message", _DAMAGE.values(), ids=_DAMAGE.keys())
def test_an_unreadable_file_is_a_clear_error_naming_it(name, damage, message, bundled_copy, cats, capsys):
    path = bundled_copy / name
    if damage is None:
        path.unlink()
    else:
        path.write_bytes(damage(path.read_bytes()))
    error = FileNotFoundError if damage is None else InvalidModelError  # OSError, ValueError: one line in the CLI
    with pytest.raises(error, match=f"^{re.escape(str(path))}: {message}"):
        SketchClassifier.from_pretrained(bundled_copy)
    assert main(["predict", str(bundled_copy), str(cats.file)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and re.fullmatch(f"sketchkeras predict: error: {re.escape(str(path))}: {message}.*\n", err)


# --- the model card -----------------------------------------------------------


def test_card_parses_and_reports_the_metrics_passed_in(saved, trained):
    metrics, training = trained.metrics, trained.training
    text = (saved / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "keras" and front["license"] == "apache-2.0"
    assert {"sketchkeras", "quickdraw", "keras-3"} <= set(front["tags"])
    assert front["datasets"] == ["google/quickdraw"] and front["pipeline_tag"] == "image-classification"
    card = ModelCard.load(saved / "README.md")
    assert card.data.model_name == "sketch-4"
    scores = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert scores == {"accuracy": metrics["top1"], "top_3_accuracy": metrics["top3"], "map_at_3": metrics["map3"]}
    assert {(r.task_type, r.dataset_type, r.dataset_name, r.dataset_split) for r in card.data.eval_results} == {
        ("image-classification", "google/quickdraw", metrics["dataset"], "test")
    }
    assert f"| Top-1 accuracy | {metrics['top1']:.2%} |" in text and f"| MAP@3 | {metrics['map3']:.4f} |" in text
    per_class = dict(re.findall(r"^\| (\w+) \| ([\d.]+%) \|$", text, re.M))
    assert per_class == {label: f"{value:.2%}" for label, value in metrics["per_class"].items()}
    assert (
        "4 of Google's 345 Quick, Draw! categories, in the order of the model's outputs:\n\n`cat`, `dog`, `pig`, `owl`"
        in text
    )
    for row in (
        f"| Keras backend | {training['backend']} |",
        "| Epochs | 2 |",
        "| Optimizer | Adam |",
        f"| Training drawings | {training['train_drawings']} |",
    ):
        assert row in text
    assert "Only the first 64 points are kept." in text
    assert "1-D convolutions: 16 filters, kernel 5, stride 2." in text and "Recurrent layers: LSTM 16." in text
    assert (
        "The drawings are by Google LLC" in text and "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/)" in text
    )
    assert "$" not in text


def test_card_snippets_work_as_written(saved):
    text = (saved / "README.md").read_text()
    assert [
        f'from_pretrained("{saved}")' in block or f'load_model("{saved}"' in block for block in _python_blocks(text)
    ] == [True, True]
    printed = _run_snippets(text).splitlines()
    assert len(printed) == 3 and {line.split(":")[0] for line in printed} <= set(CLASSES)


def test_the_shipped_345_card_loads_its_model_by_name_as_written():
    text = (bundled_model_dir("quickdraw345") / "README.md").read_text()
    snippets = _python_blocks(text)
    assert 'from_pretrained("quickdraw345")' in snippets[0]
    assert 'load_model(sketchkeras.bundled_model_dir("quickdraw345"), compile=False)' in snippets[1]
    printed = _run_snippets(text).splitlines()
    assert len(printed) == 3 and {line.split(":")[0] for line in printed} <= set(categories())


def test_card_of_an_untrained_model_makes_up_nothing(tmp_path):
    SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), CLASSES).save_pretrained(tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert ModelCard(text).data.eval_results is None and "model-index" not in text and "model_name" not in text
    assert "**Not evaluated.**" in text and "This model has not been evaluated" in text
    assert "**No training record.**" in text and "treat its weights as untrained" in text
    assert "%" not in text
    assert json.loads((tmp_path / "sketchkeras.json").read_text()) == {"metrics": None, "training": None}
    assert not (tmp_path / ".eval_results").exists()


def test_eval_results_file_parses_with_huggingface_hubs_own_parser(saved, trained, tmp_path):
    metrics = trained.metrics
    assert huggingface_hub.constants.EVAL_RESULTS_FOLDER == Path(EVAL_RESULTS_FILE).parent.name
    assert [p.name for p in (saved / ".eval_results").iterdir()] == ["quickdraw.yaml"]
    written = yaml.safe_load((saved / EVAL_RESULTS_FILE).read_text())
    entries = parse_eval_result_entries(written)
    notes = f"{metrics['test_drawings']} held-out drawings of {metrics['dataset']}"
    assert entries == [
        EvalResultEntry(dataset_id="google/quickdraw", task_id="accuracy", value=metrics["top1"], notes=notes),
        EvalResultEntry(dataset_id="google/quickdraw", task_id="top_3_accuracy", value=metrics["top3"], notes=notes),
        EvalResultEntry(dataset_id="google/quickdraw", task_id="map_at_3", value=metrics["map3"], notes=notes),
    ]
    assert eval_result_entries_to_yaml(entries) == written  # exactly the form huggingface_hub itself writes
    # the same scores as the card's model-index, which stays for older readers
    card = ModelCard.load(saved / "README.md")
    assert {e.task_id: e.value for e in entries} == {r.metric_type: r.metric_value for r in card.data.eval_results}
    # saved again without metrics, over Keras' own layout (with its assets/ folder) and these files,
    # the directory no longer claims the old scores
    keras.saving.save_model(trained.model, tmp_path / "again", zipped=False)
    shutil.copytree(saved, tmp_path / "again", dirs_exist_ok=True)
    trained.model.save_pretrained(tmp_path / "again")
    assert not (tmp_path / "again" / EVAL_RESULTS_FILE).exists()
    _assert_same_weights(SketchClassifier.from_pretrained(tmp_path / "again"), trained.model)


def test_the_top_level_template_is_the_one_the_package_renders():
    packaged = resources.files("sketchkeras").joinpath("model_card.md")
    assert (ROOT / "model_card.md").read_text() == packaged.read_text()
    assert packaged.read_text().startswith("---\n$card_data\n---\n")


# --- the Hub cache, offline -----------------------------------------------------


def _cache_repo(cache, repo_id, files, commit, ref="main"):
    """Lays out a repository as huggingface_hub caches it: content-named blobs, snapshot symlinks, refs."""
    repo = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)


@pytest.fixture
def hub_cache(monkeypatch, tmp_path):
    """An empty Hub cache in tmp_path, used in offline mode."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    # huggingface_hub reads both variables once, when it is imported, into
    # huggingface_hub.constants, which is what it consults afterwards.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_repo_ids_load_from_the_hub_cache_offline(hub_cache, hub, saved, trained):
    _cache_repo(hub_cache, REPO, _files(saved), MAIN)
    _assert_same_weights(SketchClassifier.from_pretrained(REPO, cache_dir=hub_cache), trained.model)
    _assert_same_weights(SketchClassifier.from_pretrained(f"hf://{REPO}"), trained.model)
    _assert_same_weights(keras.saving.load_model(f"hf://{REPO}", compile=False), trained.model)  # Keras' own loader
    assert load_results(REPO) == {"metrics": trained.metrics, "training": trained.training}
    assert hub.requests == []  # offline mode was honoured: not one request to the (local) Hub


def test_revision_picks_a_cached_commit(hub_cache, saved):
    files = _files(saved)
    config = json.loads(files["config.json"])
    config["config"]["labels"] = ["a", "b", "c", "d"]
    _cache_repo(hub_cache, REPO, files, MAIN)
    _cache_repo(hub_cache, REPO, {**files, "config.json": json.dumps(config).encode()}, OLD, ref=None)
    assert SketchClassifier.from_pretrained(REPO).labels == CLASSES
    assert SketchClassifier.from_pretrained(REPO, revision=OLD).labels == ["a", "b", "c", "d"]


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE", "local_files_only"])
def test_a_repo_missing_from_the_cache_is_a_clear_error(offline, hub_cache, hub, saved, monkeypatch):
    if not offline:
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    _cache_repo(hub_cache, REPO, _files(saved), MAIN)
    with pytest.raises(
        LocalEntryNotFoundError, match=r"owner/absent \(revision main\) is not in the Hugging Face cache"
    ):
        SketchClassifier.from_pretrained("owner/absent", local_files_only=not offline)
    with pytest.raises(LocalEntryNotFoundError, match=rf"{REPO} \(revision {OLD}\) is not in the Hugging Face cache"):
        SketchClassifier.from_pretrained(REPO, revision=OLD, local_files_only=not offline)
    assert SketchClassifier.from_pretrained(REPO, local_files_only=not offline).labels == CLASSES
    with pytest.raises(
        FileNotFoundError, match=r"not a shipped model \(qd35, quickdraw345\), and not a Hub repository id"
    ):
        SketchClassifier.from_pretrained("no/such/directory")
    assert hub.requests == []


# --- pushing to a local Hub -------------------------------------------------------


class _Hub(ThreadingHTTPServer):
    """The Hub endpoints huggingface_hub 2.4 calls for `create_repo` and `upload_folder`, in memory."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests, self.created, self.commits = [], [], []
        self.refuse_commits = False

    def answer(self, method, path, query, body):
        if (method, path) == ("POST", "/api/repos/create"):
            request = json.loads(body)
            self.created.append(request)
            return 200, {"url": f"{self.url}/{request['organization']}/{request['name']}"}
        if (method, path) == ("POST", "/api/validate-yaml"):  # only called when hf_xet is disabled
            return 200, {}
        match = re.fullmatch(r"/api/models/([\w.-]+/[\w.-]+)/(preupload|commit|discussions)/?(.*)", path)
        if not match:
            return 404, {"error": f"the local Hub has no {method} {path}"}
        repo_id, action, rest = match.groups()
        if action == "preupload":
            # "regular" for every file: its content then comes inline, base64, in the
            # commit itself, with no LFS or Xet upload.
            files = json.loads(body)["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        if action == "discussions" and method == "POST":  # create_pr: the pull request, then its details
            return 200, {"num": 1}
        if action == "discussions":
            return 200, {
                "num": 1,
                "title": "PR",
                "author": {"name": "owner"},
                "createdAt": "2026-01-01T00:00:00.000Z",
                "status": "draft",
                "repo": {"name": repo_id, "type": "model"},
                "isPullRequest": True,
                "events": [],
                "changes": {"base": "refs/heads/main"},
                "filesWithConflicts": [],
            }
        if self.refuse_commits:
            return 403, {"error": f"You don't have the rights to push to {repo_id}"}
        # with hf_xet, create_pr opens the pull request first and commits to its ref;
        # without it (HF_HUB_DISABLE_XET=1), the commit asks for one with ?create_pr=1
        revision = "refs/pr/1" if query == "create_pr=1" else unquote(rest)
        lines = [json.loads(line) for line in body.splitlines()]
        self.commits.append(
            {
                "repo_id": repo_id,
                "revision": revision,
                "keys": [line["key"] for line in lines],
                "summary": lines[0]["value"]["summary"],
                "files": {
                    line["value"]["path"]: base64.b64decode(line["value"]["content"])
                    for line in lines
                    if line["key"] == "file"
                },
            }
        )
        pr = f"{self.url}/{repo_id}/discussions/1" if revision == "refs/pr/1" else None
        return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{MAIN}", "commitOid": MAIN, "pullRequestUrl": pr}


class _HubHandler(BaseHTTPRequestHandler):
    timeout = 10  # a stalled client cannot hold a handler thread

    def do_GET(self):
        self._reply()

    def do_POST(self):
        self._reply()

    def _reply(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        url = urlsplit(self.path)
        # huggingface_hub fetches its agent registry (for its User-Agent header) once
        # per process unless cached: no part of an upload, so it is answered 404 unrecorded.
        if url.path != "/api/agent-harnesses":
            self.server.requests.append((self.command, url.path, self.headers.get("Authorization")))
        status, payload = self.server.answer(self.command, url.path, url.query, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:  # the Hub gives its error message in this header too
            self.send_header("X-Error-Message", payload["error"])
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(monkeypatch):
    """A local Hub on 127.0.0.1 that huggingface_hub talks to, stopped after the test."""
    server = _Hub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    # read once, at import, into huggingface_hub.constants.ENDPOINT, the default of every HfApi
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_push_uploads_the_layout_and_a_card_that_loads_as_written(hub, trained, monkeypatch, tmp_path):
    info = trained.model.push_to_hub(
        REPO, private=True, token="hf_test", metrics=trained.metrics, training=trained.training
    )
    assert hub.created == [{"name": "sketch", "organization": "owner", "visibility": "private"}]
    assert {auth for _, _, auth in hub.requests} == {"Bearer hf_test"}
    [commit] = hub.commits
    assert (commit["repo_id"], commit["revision"], commit["summary"]) == (
        REPO,
        "main",
        "Upload sketchkeras SketchClassifier",
    )
    assert set(commit["keys"]) == {"header", "file"} and commit["files"].keys() == LAYOUT | {EVAL_RESULTS_FILE}
    assert (
        parse_eval_result_entries(yaml.safe_load(commit["files"][EVAL_RESULTS_FILE]))[0].value
        == trained.metrics["top1"]
    )
    assert info.oid == MAIN and info.pr_url is None
    results = json.loads(commit["files"]["sketchkeras.json"])
    assert results == {"metrics": trained.metrics, "training": trained.training}
    card = ModelCard(commit["files"]["README.md"].decode())
    assert card.data.model_name == REPO
    assert {r.metric_type: r.metric_value for r in card.data.eval_results}["accuracy"] == trained.metrics["top1"]
    # What arrived is a repository that loads, through the Hub cache, with the card's own snippets.
    cache = tmp_path / "hub-cache"
    _cache_repo(cache, REPO, commit["files"], MAIN)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert [
        f'from_pretrained("hf://{REPO}")' in b or f'load_model("hf://{REPO}"' in b for b in _python_blocks(card.text)
    ] == [True, True]
    assert len(_run_snippets(card.text).splitlines()) == 3
    _assert_same_weights(SketchClassifier.from_pretrained(REPO), trained.model)


def test_push_with_create_pr_commits_to_a_pull_request(hub, trained):
    info = trained.model.push_to_hub(REPO, token="hf_test", create_pr=True, commit_message="Retrained")
    assert hub.created == [{"name": "sketch", "organization": "owner"}]
    [commit] = hub.commits
    assert (commit["revision"], commit["summary"]) == ("refs/pr/1", "Retrained")
    assert commit["files"].keys() == LAYOUT  # no metrics: no eval results file
    assert info.pr_url == f"{hub.url}/{REPO}/discussions/1"
    assert "**Not evaluated.**" in commit["files"]["README.md"].decode()


def test_a_failed_push_says_so_and_changes_nothing(hub, trained, saved):
    hub.refuse_commits = True
    files, weights = _files(saved), trained.model.get_weights()
    with pytest.raises(
        HfHubHTTPError,
        match=f"(?s)403 Forbidden: You don't have the rights to push to {REPO}.*pushing the model to {REPO} failed",
    ):
        trained.model.push_to_hub(REPO, token="hf_test", metrics=trained.metrics, training=trained.training)
    assert hub.commits == []
    assert _files(saved) == files
    for before, after in zip(weights, trained.model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_bad_pushes_are_refused_before_any_request(hub, trained):
    with pytest.raises(ValueError, match="repo_id must be 'owner/name'"):
        trained.model.push_to_hub("sketch")
    with pytest.raises(ValueError, match="missing \\['top1'"):
        trained.model.push_to_hub(REPO, metrics={})
    assert hub.requests == []
