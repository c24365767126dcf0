"""`recipes/quickdraw345.py` end to end on the real 345-class files, with tiny settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

from sketchkeras import SketchClassifier, categories

ROOT = Path(__file__).resolve().parents[1]


def test_quickdraw345_streams_trains_scores_and_saves_a_model(tmp_path, quickdraw_dir):
    run = tmp_path / "run"
    args = ["--data", str(quickdraw_dir / "simplified"), "--out", str(run), "--epochs", "2", "--steps-per-epoch", "3"]
    args += ["--batch-size", "16", "--max-points", "32", "--test-drawings", "64"]
    env = dict(os.environ)
    if keras.backend.backend() == "jax":  # data-parallel over two simulated devices
        args.append("--data-parallel")
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    out = subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "quickdraw345.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test top-1" in out.stdout
    model = SketchClassifier.from_pretrained(run / "model")
    assert model.labels == categories() and model.max_points == 32
    results = json.loads((run / "model" / "sketchkeras.json").read_text())
    assert results["metrics"]["test_drawings"] == 64
    assert results["training"]["train_drawings"] == 2 * 3 * 16
    assert results["training"]["backend"] == keras.backend.backend()
    summary = json.loads((run / "metrics.json").read_text())
    assert len(summary["history"]["loss"]) == 2 and np.isfinite(summary["history"]["loss"]).all()
    assert summary["metrics"]["top1"] == results["metrics"]["top1"]
