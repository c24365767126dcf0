"""Data-parallel training with keras.distribution (JAX): 2 devices, and 2 processes, train as 1 device does.

Each run is a fresh process, since JAX fixes its devices at start:
`XLA_FLAGS=--xla_force_host_platform_device_count=2` gives one process two
CPU devices, and `jax.distributed` on 127.0.0.1 joins two processes of one
CPU device each. Every run trains the same tiny classifier from the same
initial weights on the same global batches of real drawings: each batch
joins a batch of the first three classes (rank 0's files) with one of the
last three (rank 1's), as `split_dataset_by_node` shards the stream.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from sketchkeras.distributed import data_parallel

_TRAIN = r"""
import itertools, json, sys
import numpy as np
mode, rank, port, data, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
import jax, keras
from datasets.distributed import split_dataset_by_node
from sketchkeras import SketchBackbone, SketchClassifier, SketchPreprocessor
from sketchkeras.distributed import data_parallel, pad_to_common_length, single_device_copy
from sketchkeras.streaming import stream_batches, stream_quickdraw, take_sample
from sketchkeras.training import compile_for_training

CLASSES, STEPS = ["pig", "radio", "zigzag", "anvil", "owl", "The Eiffel Tower"], 4
files = [f"{data}/simplified/{word}.ndjson" for word in CLASSES]
test = [np.asarray(s, "float32") for s in take_sample(stream_quickdraw(files, CLASSES, split="test"), 8)["strokes"]]

def shard(rank):  # this rank's files, in batches of 8
    stream = split_dataset_by_node(stream_quickdraw(files, CLASSES, split="train"), rank, 2)
    return stream_batches(stream, batch_size=8, max_points=48, seed=0)

def joined(first, second):  # one global batch of both ranks' batches, as 2 processes make it
    length = max(first[0]["strokes"].shape[1], second[0]["strokes"].shape[1])
    pad = lambda x: np.pad(x, [(0, 0), (0, length - x.shape[1]), (0, 0)])
    strokes = np.concatenate([pad(first[0]["strokes"]), pad(second[0]["strokes"])])
    lengths = np.concatenate([first[0]["lengths"], second[0]["lengths"]])
    return {"strokes": strokes, "lengths": lengths}, np.concatenate([first[1], second[1]])

def train(batches):
    keras.utils.set_random_seed(0)
    model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[16]), CLASSES, SketchPreprocessor(48))
    compile_for_training(model, STEPS)
    initial = [w.tolist() for w in model.get_weights()]
    history = model.fit(batches, steps_per_epoch=STEPS, epochs=1, verbose=0).history
    copy = single_device_copy(model)
    return {
        "devices": len(model.trainable_variables[0].value.sharding.device_set),
        "processes": jax.process_count(),
        "names": [v.path for v in copy.weights],
        "loss": history["loss"],
        "initial": initial,
        "weights": [w.tolist() for w in copy.get_weights()],
        "predictions": copy.predict_strokes(test).tolist(),
    }

if mode == "processes":
    rank, count = data_parallel(f"127.0.0.1:{port}", 2, rank)
    results = {f"process {rank}": train(pad_to_common_length(shard(rank)))}
    results[f"process {rank}"]["lengths"] = [x["strokes"].shape[1] for x, _ in itertools.islice(shard(rank), STEPS)]
else:  # first on one device, then data-parallel on two
    results = {"one": train(joined(a, b) for a, b in zip(shard(0), shard(1)))}
    data_parallel()
    results["devices"] = train(joined(a, b) for a, b in zip(shard(0), shard(1)))
with open(out, "w") as f:
    json.dump(results, f)
"""

# A conv bias that feeds batch norm has a true gradient of zero, so Adam scales
# its rounding noise up to full-size steps: it (and the moving mean tracking it)
# ends up 2e-4 apart (as large as itself) between runs that sum in another order, and
# cancels out of every prediction.
NOISE = ("conv/bias", "moving_mean")

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX-only")


def _start(mode, rank, port, quickdraw_dir, out, devices):
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    args = [sys.executable, "-c", _TRAIN, mode, str(rank), str(port), str(quickdraw_dir), str(out)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out


def _results(process, out):
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return {
        name: {
            key: [np.asarray(w) for w in value] if key in ("initial", "weights") else value
            for key, value in run.items()
        }
        for name, run in json.loads(out.read_text()).items()
    }


@pytest.fixture(scope="module")
def runs(quickdraw_dir, tmp_path_factory):
    """The same training on 1 device, on 2 devices of one process, and on 2 processes of 1 device."""
    folder = tmp_path_factory.mktemp("runs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = [
        _start("devices", 0, port, quickdraw_dir, folder / "devices.json", devices=2),
        _start("processes", 0, port, quickdraw_dir, folder / "process0.json", devices=1),
        _start("processes", 1, port, quickdraw_dir, folder / "process1.json", devices=1),
    ]
    try:
        return {name: run for process, out in started for name, run in _results(process, out).items()}
    finally:
        for process, _ in started:
            process.kill()  # those a failure left waiting for their peer


@jax_only
def test_runs_used_two_devices_and_two_processes(runs):
    assert (runs["one"]["devices"], runs["one"]["processes"]) == (1, 1)
    assert (runs["devices"]["devices"], runs["devices"]["processes"]) == (2, 1)
    assert (runs["process 0"]["devices"], runs["process 0"]["processes"]) == (2, 2)
    for name in ("devices", "process 0", "process 1"):
        for a, b in zip(runs[name]["initial"], runs["one"]["initial"]):
            np.testing.assert_array_equal(a, b)


def _assert_trained_alike(run, reference):
    """Same losses and predictions; same weights but those rounding noise decides (see NOISE)."""
    np.testing.assert_allclose(run["loss"], reference["loss"], rtol=1e-6)
    for name, a, b in zip(reference["names"], run["weights"], reference["weights"]):
        if not name.endswith(NOISE):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=name)  # measured: 1.2e-7
    np.testing.assert_allclose(run["predictions"], reference["predictions"], atol=1e-4, rtol=0)  # measured: 9e-6


@jax_only
def test_two_devices_train_as_one(runs):
    _assert_trained_alike(runs["devices"], runs["one"])


@jax_only
def test_two_processes_train_as_one(runs):
    # Their batches differ in length at some steps: each is padded to the longer.
    assert runs["process 0"]["lengths"] != runs["process 1"]["lengths"]
    _assert_trained_alike(runs["process 0"], runs["one"])
    for a, b in zip(runs["process 0"]["weights"], runs["process 1"]["weights"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="other backends only")
def test_other_backends_are_refused_with_guidance():
    with pytest.raises(NotImplementedError, match="MirroredStrategy.*DistributedDataParallel"):
        data_parallel()
