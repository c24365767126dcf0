"""Training runs: seeded runs repeat exactly; a run killed with SIGKILL mid-epoch resumes and loses nothing."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import keras
import numpy as np

from sketchkeras import SketchClassifier, bundled_sample_dir
from sketchkeras.pipeline import run_training

CLASSES = ["cat", "owl", "pig"]
TINY = dict(rnn_units=[16], max_points=32)


def test_a_seeded_run_repeats_exactly(tmp_path):
    a, b = (
        run_training(bundled_sample_dir(), tmp_path / name, classes=CLASSES, max_per_class=40, epochs=2, verbose=0, **TINY)
        for name in "ab"
    )
    assert len(a["history"]["loss"]) == 2
    for key in a["history"].keys() - {"seconds"}:
        assert a["history"][key] == b["history"][key], key
    assert a["metrics"] == b["metrics"]
    weights = [SketchClassifier.from_pretrained(run["model_dir"]).get_weights() for run in (a, b)]
    for theirs, ours in zip(*weights, strict=True):
        np.testing.assert_array_equal(theirs, ours)


def test_a_run_killed_mid_epoch_resumes_to_the_same_number_of_epochs(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "sketchkeras.cli", "train", "--data", str(bundled_sample_dir()), "--classes", *CLASSES,
        "--max-per-class", "60", "--batch-size", "8", "--rnn-units", "16", "--max-points", "32",
        "--epochs", "4", "--out", str(run_dir),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = _kill_mid_epoch(process, after_epoch=1, timeout=240)
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    killed = json.loads((run_dir / "state.json").read_text())
    done = killed["epochs_done"]
    assert 1 <= done < 4, output[-3000:]  # killed during training, after the first checkpoint
    assert (run_dir / killed["checkpoint"]).is_file() and (run_dir / killed["best"]).is_file()

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env, timeout=240)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    epochs_run = re.findall(r"Epoch (\d+)/4", resumed.stdout)
    assert epochs_run == [str(epoch) for epoch in range(done + 1, 5)]  # from the last checkpoint on
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epochs_done"] == 4
    assert {key: len(values) for key, values in state["history"].items()} == dict.fromkeys(killed["history"], 4)
    assert {key: values[:done] for key, values in state["history"].items()} == killed["history"]
    assert (run_dir / state["checkpoint"]).is_file() and (run_dir / state["best"]).is_file()
    assert not [p.name for p in run_dir.iterdir() if "partial" in p.name]
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["training"]["epochs"] == 4 and summary["history"] == state["history"]


def _kill_mid_epoch(process, after_epoch, timeout):
    """SIGKILLs `process` once Keras' progress bar shows a step inside epoch `after_epoch + 1`; returns its output.

    Keras prints "Epoch N/M" when an epoch begins (after the previous
    epoch's checkpoint is written) and then "step/steps" as it goes, even
    into a pipe.
    """
    marker = f"Epoch {after_epoch + 1}/".encode()
    output, deadline = b"", time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 1)[0]:
            output += os.read(process.stdout.fileno(), 65536)
            if marker in output:
                steps = re.findall(rb"(\d+)/(\d+)", output.split(marker, 1)[1])
                if any(0 < int(step) < int(total) for step, total in steps):
                    process.send_signal(signal.SIGKILL)
                    break
    else:
        process.terminate()  # finished or timed out without a kill: the caller's returncode check fails
    process.wait()
    return output.decode(errors="replace")
