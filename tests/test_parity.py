"""A model saved under this backend predicts the same under the other two."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from sketchkeras import SketchClassifier, StrokeBatches, load_quickdraw

BACKENDS = ("jax", "torch", "tensorflow")
CLASSES = ["cat", "face", "owl"]

_PREDICT = """
import json, sys, keras, numpy as np, sketchkeras
model = keras.saving.load_model(sys.argv[1], compile=False)
strokes = [np.asarray(s, "float32") for s in json.loads(open(sys.argv[2]).read())]
print("PROBS " + json.dumps(model.predict_strokes(strokes).tolist()))
"""


def predict_under(backend, model_path, strokes_path):
    """Loads a saved model under another backend and returns its predictions."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", _PREDICT, str(model_path), str(strokes_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("PROBS "))
    return np.array(json.loads(line[6:]))


@pytest.mark.parametrize("other", [b for b in BACKENDS if b != keras.backend.backend()])
def test_saved_model_predicts_the_same_under_another_backend(other, tmp_path, quickdraw_dir):
    keras.utils.set_random_seed(0)
    files = [quickdraw_dir / "simplified" / f"{word}.ndjson" for word in CLASSES]
    data = load_quickdraw(files, classes=CLASSES, max_per_class=40)
    model = SketchClassifier.from_preset("default", labels=CLASSES, bidirectional=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(StrokeBatches(data, batch_size=32), epochs=1, verbose=0)  # moves weights and batch-norm statistics
    strokes = [np.asarray(s, "float32") for s in data["strokes"][:24]]
    model.save(tmp_path / "model.keras")
    (tmp_path / "strokes.json").write_text(json.dumps([s.tolist() for s in strokes]))
    ours = model.predict_strokes(strokes)
    theirs = predict_under(other, tmp_path / "model.keras", tmp_path / "strokes.json")
    np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=0)
