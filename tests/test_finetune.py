"""Fine-tuning: the shipped model by name, a fresh head for new labels, a frozen encoder, `train --from`."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_cli import _run  # main(argv) -> exit status, stdout, stderr

from sketchkeras import SketchClassifier, StrokeBatches, bundled_model_dir, bundled_sample_dir, load_quickdraw
from sketchkeras.pipeline import set_seed
from sketchkeras.training import train

# Three classes outside QD-35: the shipped model has never seen them.
NEW = ["hedgehog", "apple", "cat"]


def _numpy(weights):
    return [keras.ops.convert_to_numpy(w) for w in weights]


def test_new_labels_keep_the_encoder_and_the_head_rows_of_known_labels(quickdraw_dir):
    shipped = SketchClassifier.from_preset("qd35")
    tuned = SketchClassifier.from_pretrained("qd35", labels=["dog", "cat"])
    assert tuned.labels == ["dog", "cat"]
    for ours, theirs in zip(_numpy(tuned.backbone.weights), _numpy(shipped.backbone.weights), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # Both labels were known, so the new model is the old one's softmax restricted to them, on real drawings.
    drawings = load_quickdraw(quickdraw_dir / "simplified", classes=["cat", "dog"], max_per_class=5)["strokes"]
    strokes = [np.asarray(s, np.float32) for s in drawings]
    before = shipped.predict_strokes(strokes)[:, [shipped.labels.index("dog"), shipped.labels.index("cat")]]
    np.testing.assert_allclose(tuned.predict_strokes(strokes), before / before.sum(1, keepdims=True), atol=1e-5)


def test_a_frozen_encoder_stays_bit_identical_while_the_new_head_learns(quickdraw_dir, tmp_path):
    set_seed(0)
    dataset = load_quickdraw(quickdraw_dir / "simplified", classes=NEW, max_per_class=60)
    model = SketchClassifier.from_pretrained("qd35", labels=NEW)
    model.backbone.trainable = False
    encoder, head = _numpy(model.backbone.weights), _numpy(model.get_layer("predictions").weights)
    batches = StrokeBatches(dataset, batch_size=32, augment=True)
    model, history = train(model, batches, None, tmp_path, epochs=15, verbose=0)
    for before, after in zip(encoder, _numpy(model.backbone.weights), strict=True):
        np.testing.assert_array_equal(before, after)
    assert all(not np.array_equal(a, b) for a, b in zip(head, _numpy(model.get_layer("predictions").weights)))
    assert history["accuracy"][-1] >= 0.6, history  # chance is 1/3


def test_the_shipped_model_loads_offline_by_name():
    code = "from sketchkeras import SketchClassifier; print(len(SketchClassifier.from_preset('qd35').labels))"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout == "35\n", result.stderr[-2000:]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SketchClassifier.from_preset("qd35", rnn_units=[8]), r"'qd35' is a trained model"),
        (lambda: SketchClassifier.from_preset("default"), r"the 'default' architecture is untrained: give the labels"),
        (lambda: SketchClassifier.from_preset("qd53", labels=["a"]), r"unknown preset 'qd53'; choose one of"),
        (lambda: SketchClassifier.from_pretrained("qd35", labels=["cat", "cat"]), r"labels must be distinct"),
        (lambda: SketchClassifier.from_pretrained("qd35", labels=[]), r"labels must be distinct names, at least one"),
    ],
)
def test_preset_and_label_mistakes_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_train_from_the_shipped_model(quickdraw_dir, tmp_path):
    run_dir = tmp_path / "run"
    status, out, err = _run(
        [
            "train",
            "--from",
            "qd35",
            "--data",
            str(quickdraw_dir / "simplified"),
            "--classes",
            *NEW,
            "--max-per-class",
            "40",
            "--epochs",
            "1",
            "--out",
            str(run_dir),
            "--quiet",
        ]
    )
    assert status == 0, err
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["training"]["fine_tuned_from"] == "qd35" and "preset" not in summary["training"]
    tuned = SketchClassifier.from_pretrained(run_dir / "model")
    assert tuned.labels == NEW
    assert tuned.get_config() == {**SketchClassifier.from_pretrained(bundled_model_dir()).get_config(), "labels": NEW}
    status, _, err = _run(
        [
            "train",
            "--from",
            "qd35",
            "--preset",
            "geron",
            "--data",
            str(bundled_sample_dir()),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert status == 2 and "--from and --preset exclude each other" in err
