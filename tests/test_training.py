"""Training runs: seeded runs repeat exactly; a run killed with SIGKILL mid-epoch resumes and loses nothing."""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from datasets import concatenate_datasets

from sketchkeras import SketchClassifier, StrokeBatches, bundled_sample_dir, load_quickdraw, split_dataset
from sketchkeras.pipeline import run_splits, run_training, set_seed
from sketchkeras.training import _load_checkpoint, train

CLASSES = ["cat", "owl", "pig"]
TINY = dict(rnn_units=[16], max_points=32)


def test_a_seeded_run_repeats_exactly(tmp_path):
    # Points dropped at random too (drop_fraction): the same ones in both runs.
    a, b = (
        run_training(
            bundled_sample_dir(),
            tmp_path / name,
            classes=CLASSES,
            max_per_class=40,
            epochs=2,
            drop_fraction=0.1,
            verbose=0,
            **TINY,
        )
        for name in "ab"
    )
    assert len(a["history"]["loss"]) == 2 and a["training"]["drop_fraction"] == 0.1
    assert "| Points dropped inside strokes (augmentation) | 0.1 |" in (Path(a["model_dir"]) / "README.md").read_text()
    for key in a["history"].keys() - {"seconds"}:
        assert a["history"][key] == b["history"][key], key
    assert a["metrics"] == b["metrics"]
    weights = [SketchClassifier.from_pretrained(run["model_dir"]).get_weights() for run in (a, b)]
    for theirs, ours in zip(*weights, strict=True):
        np.testing.assert_array_equal(theirs, ours)


def test_excluded_drawings_leave_the_training_split_and_only_it(tmp_path):
    settings = dict(source=bundled_sample_dir(), classes=CLASSES, max_per_class=40, epochs=1, verbose=0, **TINY)
    splits = run_splits(settings)
    by_hand = split_dataset(load_quickdraw(bundled_sample_dir(), classes=CLASSES, max_per_class=40), seed=0)
    for name in ("train", "validation", "test"):
        assert splits[name]["key_id"] == by_hand[name]["key_id"], name
    # Ten training drawings and three test drawings: only the ten leave, the test split stays whole.
    exclude = concatenate_datasets([splits["train"].select(range(0, 40, 4)), splits["test"].select(range(3))])
    kept = run_splits({**settings, "exclude": exclude})
    drawings = [
        {json.dumps(strokes) for strokes in split["strokes"]} for split in (kept["train"], splits["train"], exclude)
    ]
    assert drawings[0] == drawings[1] - drawings[2]
    summary = run_training(run_dir=tmp_path, exclude=exclude, **settings)
    assert summary["training"]["train_drawings"] == kept["train"].num_rows == splits["train"].num_rows - 10 == 86
    assert summary["training"]["validation_drawings"] == kept["validation"].num_rows == 12
    assert summary["metrics"]["test_drawings"] == kept["test"].num_rows == splits["test"].num_rows == 12


def test_a_run_killed_mid_epoch_resumes_to_the_same_number_of_epochs(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "sketchkeras",
        "train",
        "--data",
        str(bundled_sample_dir()),
        "--classes",
        *CLASSES,
        "--max-per-class",
        "60",
        "--batch-size",
        "8",
        "--rnn-units",
        "16",
        "--max-points",
        "32",
        "--epochs",
        "4",
        "--out",
        str(run_dir),
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


RESUMABLE = dict(classes=CLASSES, max_per_class=40, batch_size=16, verbose=0, **TINY)


def _losses(run_dir):
    history = json.loads((run_dir / "state.json").read_text())["history"]
    return {key: values for key, values in history.items() if key != "seconds"}


def _first(history, epochs):
    return {key: values[:epochs] for key, values in history.items()}


def _epochs_before(run_dir, epochs):
    return _first(_losses(run_dir), epochs)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The loss history of a 3-epoch run, and the folder of the same run SIGKILLed as its epoch 3 began."""
    root = tmp_path_factory.mktemp("runs")
    run_training(bundled_sample_dir(), root / "whole", epochs=3, **RESUMABLE)
    _killed_run(
        root / "killed",
        """
begin = training._Checkpoint.on_epoch_begin
def dying(self, epoch, logs=None):
    if epoch == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    begin(self, epoch, logs)
training._Checkpoint.on_epoch_begin = dying
""",
    )
    return _losses(root / "whole"), root / "killed"


def _killed_run(run_dir, patch):
    """Runs the 3-epoch run in a subprocess with `patch` applied to `sketchkeras.training`; it must die by SIGKILL."""
    script = f"""
import os, signal
from pathlib import Path
import sketchkeras.training as training
from sketchkeras import bundled_sample_dir
from sketchkeras.pipeline import run_training
{patch}
run_training(bundled_sample_dir(), {str(run_dir)!r}, epochs=3, **{RESUMABLE!r})
"""
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]


def test_a_resumed_run_starts_from_the_checkpoints_weights_optimizer_and_step(uninterrupted, tmp_path):
    whole, first_two = uninterrupted
    run_dir = tmp_path / "run"
    shutil.copytree(first_two, run_dir)
    saved = keras.saving.load_model(run_dir / "checkpoint-2.keras")
    resumed, state = _load_checkpoint(run_dir)
    assert state["epochs_done"] == 2
    for name, ours, theirs in (
        ("weights", resumed.weights, saved.weights),
        ("optimizer", resumed.optimizer.variables, saved.optimizer.variables),
    ):
        assert len(ours) == len(theirs) > 0, name
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=name)
    steps = int(keras.ops.convert_to_numpy(resumed.optimizer.iterations))
    assert steps == int(keras.ops.convert_to_numpy(saved.optimizer.iterations)) > 0  # the learning-rate step
    assert float(resumed.optimizer.learning_rate) == float(saved.optimizer.learning_rate)
    run_training(bundled_sample_dir(), run_dir, epochs=3, resume=True, **RESUMABLE)
    assert _epochs_before(run_dir, 2) == _first(whole, 2) and len(_losses(run_dir)["loss"]) == 3


def test_a_resumed_run_repeats_the_uninterrupted_run_exactly(uninterrupted, tmp_path):
    whole, killed = uninterrupted
    shutil.copytree(killed, tmp_path / "run")
    run_training(bundled_sample_dir(), tmp_path / "run", epochs=3, resume=True, **RESUMABLE)
    assert _losses(tmp_path / "run") == whole


def test_a_damaged_newest_checkpoint_resumes_from_the_previous_one(uninterrupted, tmp_path):
    whole, first_two = uninterrupted
    run_dir = tmp_path / "run"
    shutil.copytree(first_two, run_dir)
    assert (run_dir / "checkpoint-1.keras").is_file()  # kept as the fallback
    newest = run_dir / "checkpoint-2.keras"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a disk that lost unflushed data
    damaged = r"checkpoint-2\.keras.*damaged: resuming from checkpoint-1\.keras \(epoch 1\)"
    with pytest.warns(UserWarning, match=damaged):
        run_training(bundled_sample_dir(), run_dir, epochs=3, resume=True, **RESUMABLE)
    assert _epochs_before(run_dir, 1) == _first(whole, 1) and len(_losses(run_dir)["loss"]) == 3
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-2.keras", "checkpoint-3.keras"]


def test_a_run_killed_while_writing_a_checkpoint_resumes(uninterrupted, tmp_path):
    whole, _ = uninterrupted
    run_dir = tmp_path / "run"
    # SIGKILL the run halfway through writing checkpoint-2 (the temporary file is half written).
    _killed_run(
        run_dir,
        """
atomic = training._atomic
def dying(path, write):
    if path.name == "checkpoint-2.keras":
        def half(temporary):
            write(temporary)
            data = Path(temporary).read_bytes()
            Path(temporary).write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return atomic(path, half)
    return atomic(path, write)
training._atomic = dying
""",
    )
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 1
    assert [p.name for p in run_dir.iterdir() if "partial" in p.name] == [".checkpoint-2.partial.keras"]
    run_training(bundled_sample_dir(), run_dir, epochs=3, resume=True, **RESUMABLE)
    assert _epochs_before(run_dir, 1) == _first(whole, 1) and len(_losses(run_dir)["loss"]) == 3
    assert not [p.name for p in run_dir.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_training_learns_and_validation_reads_fitting_batch_statistics(policy, quickdraw_dir, tmp_path):
    """3 real classes, 100 drawings each: far above chance (1/3), and BatchNorm's moving statistics fit the weights."""
    set_seed(0)
    dataset = load_quickdraw(quickdraw_dir / "simplified", classes=CLASSES, max_per_class=100)
    splits = split_dataset(dataset, seed=0)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = SketchClassifier.from_preset("default", labels=CLASSES, dropout=0.0, **TINY)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.backbone.compute_dtype == {"float32": "float32", "mixed_bfloat16": "bfloat16"}[policy]
    train_batches = StrokeBatches(splits["train"], 16, 32, augment=True)
    validation = StrokeBatches(splits["validation"], 256, 32, shuffle=False)
    model, history = train(model, train_batches, validation, tmp_path, epochs=4, patience=10, verbose=0)
    assert max(history["val_accuracy"]) >= 0.6, history
    _assert_inference_matches_batch_statistics(model, validation)


def _assert_inference_matches_batch_statistics(model, validation):
    inference = model.evaluate(validation, verbose=0, return_dict=True)["accuracy"]
    correct = sum(
        int(np.sum(np.argmax(keras.ops.convert_to_numpy(model(x, training=True)), -1) == y))
        for x, y in (validation[i] for i in range(len(validation)))
    )
    assert inference >= correct / len(validation.labels) - 0.05, (inference, correct)


def test_after_a_single_epoch_validation_reads_fitting_batch_statistics(quickdraw_dir, tmp_path):
    """13 steps: with momentum 0.99 alone the moving statistics stay near their start (JAX: 0.42 against 0.72)."""
    set_seed(0)
    splits = split_dataset(load_quickdraw(quickdraw_dir / "simplified", classes=CLASSES, max_per_class=100), seed=0)
    model = SketchClassifier.from_preset("default", labels=CLASSES, dropout=0.0, **TINY)
    validation = StrokeBatches(splits["validation"], 256, 32, shuffle=False)
    train(model, StrokeBatches(splits["train"], 16, 32, augment=True), validation, tmp_path, epochs=1, verbose=0)
    # Checked on the 210 training drawings (in one batch, not augmented): the 24 validation ones are too few to tell.
    _assert_inference_matches_batch_statistics(model, StrokeBatches(splits["train"], 256, 32, shuffle=False))


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="counts the process's memory maps (Linux)")
def test_epochs_after_the_first_compile_nothing_new(quickdraw_dir, tmp_path):
    """Each epoch's BatchNorm recomputation runs compiled, not as eager calls.

    Under JAX an eager call of the model compiled and kept a new program every time (about 40 memory maps): a long
    run went past the kernel's 65,530 maps and crashed. One batch shape here (every drawing padded to 32 points), so
    once the first epochs have compiled it, the last three add no memory maps (before the fix: about 230 each).
    """

    class Counting(StrokeBatches):
        maps = []

        def arrange(self, epoch):
            with open("/proc/self/maps") as maps:
                self.maps.append(sum(1 for _ in maps))
            super().arrange(epoch)

    dataset = load_quickdraw(quickdraw_dir / "simplified", classes=CLASSES, max_per_class=100)
    dataset = dataset.filter(lambda row: len(row["strokes"]) >= 32).select(range(96))
    model = SketchClassifier.from_preset("default", labels=CLASSES, **TINY)
    train_batches = Counting(dataset, 8, 32, augment=True)
    validation = StrokeBatches(dataset, 32, 32, shuffle=False)
    train(model, train_batches, validation, tmp_path, epochs=6, patience=10, verbose=0)
    assert Counting.maps[-1] - Counting.maps[-4] < 60, Counting.maps
