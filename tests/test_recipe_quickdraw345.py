"""`recipes/quickdraw345.py` end to end on the real 345-class files, with tiny settings: run, SIGKILL, resume.

Under JAX the runs are data-parallel over two simulated devices, and share
JAX's persistent compilation cache (the same programs, compiled once).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from sketchkeras import SketchClassifier, categories

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS, EVERY, BATCH = 4, 3, 16


@pytest.fixture(scope="module")
def recipe(quickdraw_dir, tmp_path_factory):
    """The recipe's command for a run directory, and the environment it runs in."""
    args = ["--data", str(quickdraw_dir / "simplified"), "--steps", str(CHECKPOINTS * EVERY)]
    args += ["--checkpoint-every", str(EVERY), "--batch-size", str(BATCH), "--max-points", "32"]
    args += ["--validation-drawings", "64", "--test-drawings", "64"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if keras.backend.backend() == "jax":
        args.append("--data-parallel")
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        env["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

    def command(run_dir, *extra):
        return [sys.executable, str(ROOT / "recipes" / "quickdraw345.py"), *args, "--out", str(run_dir), *extra]

    return command, env


@pytest.fixture(scope="module")
def uninterrupted(recipe, tmp_path_factory):
    command, env = recipe
    run_dir = tmp_path_factory.mktemp("whole")
    out = subprocess.run(command(run_dir), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return run_dir, out.stdout


def test_the_recipe_streams_trains_validates_scores_and_saves_a_model(uninterrupted):
    run_dir, stdout = uninterrupted
    assert f"({64} drawings, {CHECKPOINTS * EVERY} steps)" in stdout
    model = SketchClassifier.from_pretrained(run_dir / "model")
    assert model.labels == categories() and model.max_points == 32
    results = json.loads((run_dir / "model" / "sketchkeras.json").read_text())
    assert results["metrics"]["test_drawings"] == 64
    assert results["training"]["train_drawings"] == CHECKPOINTS * EVERY * BATCH
    assert results["training"]["validation_drawings"] == 64
    assert results["training"]["backend"] == keras.backend.backend()
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["run"] == {"steps": CHECKPOINTS * EVERY, "checkpoint_every": EVERY, "precision": "float32"}
    assert summary["metrics"]["top1"] == results["metrics"]["top1"]
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epochs_done"] == CHECKPOINTS and summary["history"] == state["history"]
    for key in ("loss", "val_loss", "val_accuracy"):
        assert len(summary["history"][key]) == CHECKPOINTS and np.isfinite(summary["history"][key]).all(), key
    best = int(np.argmin(state["history"]["val_loss"])) + 1
    assert state["best"] == f"best-{best}.weights.h5" and (run_dir / state["best"]).is_file()
    for picture in ("confusion_matrix.png", "test_sketches.png", "training_curves.png"):
        assert (run_dir / picture).stat().st_size > 0, picture


def test_a_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_run(recipe, uninterrupted, tmp_path):
    command, env = recipe
    whole_dir, _ = uninterrupted
    run_dir = tmp_path / "run"
    log = tmp_path / "killed.log"
    with log.open("wb") as output:  # a file, not a pipe nobody reads while polling
        process = subprocess.Popen(command(run_dir), env=env, stdout=output, stderr=subprocess.STDOUT)
        done = _kill_after_checkpoint(process, run_dir / "state.json", after=2, timeout=300)
    assert process.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    killed = json.loads((run_dir / "state.json").read_text())
    assert killed["epochs_done"] == done and 2 <= done < CHECKPOINTS
    assert not (run_dir / "metrics.json").exists()
    whole = json.loads((whole_dir / "state.json").read_text())
    assert _losses(killed) == {key: values[:done] for key, values in _losses(whole).items()}

    resumed = subprocess.run([*command(run_dir), "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    epochs_run = re.findall(rf"Epoch (\d+)/{CHECKPOINTS}", resumed.stdout)
    assert epochs_run == [str(epoch) for epoch in range(done + 1, CHECKPOINTS + 1)]  # from the last checkpoint on
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epochs_done"] == CHECKPOINTS
    assert _losses(state) == _losses(whole)  # the same steps, the same stream, the same numbers
    checkpoint = keras.saving.load_model(run_dir / state["checkpoint"])
    assert int(keras.ops.convert_to_numpy(checkpoint.optimizer.iterations)) == CHECKPOINTS * EVERY
    summary, whole_summary = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, whole_dir))
    assert summary["metrics"] == whole_summary["metrics"] and summary["run"]["steps"] == CHECKPOINTS * EVERY
    assert SketchClassifier.from_pretrained(run_dir / "model").labels == categories()
    assert not [p.name for p in run_dir.iterdir() if "partial" in p.name]


def test_the_steps_must_be_whole_checkpoints_and_the_long_run_options_are_there(recipe, tmp_path):
    command, env = recipe
    bad = subprocess.run([*command(tmp_path), "--steps", "10"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--steps 10 is not a multiple of --checkpoint-every 3" in bad.stderr
    assert not any(tmp_path.iterdir())
    usage = subprocess.run([*command(tmp_path), "--help"], env=env, capture_output=True, text=True, timeout=120)
    for option in ("--resume", "--time-budget", "--mixed-precision", "--push REPO_ID", "--data-parallel"):
        assert option in usage.stdout, option


def _losses(state):
    return {key: values for key, values in state["history"].items() if key != "seconds"}


def _kill_after_checkpoint(process, state_path, after, timeout):
    """SIGKILLs `process` once its `state.json` shows `after` checkpoints; returns the checkpoints it shows then."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            done = json.loads(state_path.read_text())["epochs_done"]
        except (OSError, ValueError):  # not written yet (it is replaced atomically, never seen half-written)
            done = 0
        if done >= after:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return json.loads(state_path.read_text())["epochs_done"]
        time.sleep(0.02)
    process.kill()  # finished or timed out without a kill: the caller's returncode check fails
    process.wait()
    return None
