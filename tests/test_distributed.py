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
import json, sys
import numpy as np
mode, rank, port, data, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
import jax, keras
from datasets.distributed import split_dataset_by_node
from sketchkeras import SketchClassifier
from sketchkeras.distributed import data_parallel, pad_to_common_length, single_device_copy
from sketchkeras.streaming import stream_batches, stream_quickdraw, take_sample
from sketchkeras.training import compile_for_training

CLASSES, STEPS, BATCH = ["pig", "radio", "zigzag", "anvil", "owl", "The Eiffel Tower"], 6, 8
stream = stream_quickdraw([f"{data}/simplified/{word}.ndjson" for word in CLASSES], classes=CLASSES, split="train")

def shard(rank):
    return stream_batches(split_dataset_by_node(stream, rank, 2), batch_size=BATCH, max_points=32, seed=0)

def joined(first, second):  # one global batch from both ranks' batches, as 2 processes make it
    length = max(first[0]["strokes"].shape[1], second[0]["strokes"].shape[1])
    pad = lambda x: np.pad(x, [(0, 0), (0, length - x.shape[1]), (0, 0)])
    strokes = np.concatenate([pad(first[0]["strokes"]), pad(second[0]["strokes"])])
    lengths = np.concatenate([first[0]["lengths"], second[0]["lengths"]])
    return {"strokes": strokes, "lengths": lengths}, np.concatenate([first[1], second[1]])

if mode == "processes":
    rank, count = data_parallel(f"127.0.0.1:{port}", 2, rank)
    batches = pad_to_common_length(shard(rank))
else:
    if mode == "devices":
        data_parallel()
    batches = (joined(a, b) for a, b in zip(shard(0), shard(1)))
keras.utils.set_random_seed(0)
model = SketchClassifier(CLASSES, conv_layers=[(8, 3, 2)], rnn_units=[16], max_points=32)
compile_for_training(model, STEPS)
initial = [w.tolist() for w in model.get_weights()]
history = model.fit(batches, steps_per_epoch=STEPS, epochs=1, verbose=0).history
test = take_sample(stream_quickdraw([f"{data}/simplified/{word}.ndjson" for word in CLASSES], classes=CLASSES, split="test"), 20)
copy = single_device_copy(model)
with open(out, "w") as f:
    json.dump({
        "devices": len(model.trainable_variables[0].value.sharding.device_set),
        "processes": jax.process_count(),
        "names": [v.path for v in copy.weights],
        "loss": history["loss"],
        "initial": initial,
        "weights": [w.tolist() for w in copy.get_weights()],
        "predictions": copy.predict_strokes([np.asarray(s, "float32") for s in test["strokes"]]).tolist(),
    }, f)
"""

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX-only")


def _start(mode, rank, port, quickdraw_dir, out, devices=1):
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    args = [sys.executable, "-c", _TRAIN, mode, str(rank), str(port), str(quickdraw_dir), str(out)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process, out):
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    result = json.loads(out.read_text())
    return {key: [np.asarray(w) for w in value] if key in ("initial", "weights") else value for key, value in result.items()}


@pytest.fixture(scope="module")
def runs(quickdraw_dir, tmp_path_factory):
    """The same training: on 1 device, on 2 devices of one process, and on 2 processes."""
    folder = tmp_path_factory.mktemp("runs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = {
        "one": _start("one", 0, port, quickdraw_dir, folder / "one.json"),
        "devices": _start("devices", 0, port, quickdraw_dir, folder / "devices.json", devices=2),
        "process 0": _start("processes", 0, port, quickdraw_dir, folder / "process0.json"),
        "process 1": _start("processes", 1, port, quickdraw_dir, folder / "process1.json"),
    }
    names = {"one": "one.json", "devices": "devices.json", "process 0": "process0.json", "process 1": "process1.json"}
    return {name: _finish(process, folder / names[name]) for name, process in started.items()}


@jax_only
def test_runs_used_two_devices_and_two_processes(runs):
    assert (runs["one"]["devices"], runs["one"]["processes"]) == (1, 1)
    assert (runs["devices"]["devices"], runs["devices"]["processes"]) == (2, 1)
    assert (runs["process 0"]["devices"], runs["process 0"]["processes"]) == (2, 2)
    for name in ("devices", "process 0", "process 1"):
        for a, b in zip(runs[name]["initial"], runs["one"]["initial"]):
            np.testing.assert_array_equal(a, b)


@jax_only
def test_two_devices_train_as_one(runs):
    np.testing.assert_allclose(runs["devices"]["loss"], runs["one"]["loss"], rtol=1e-5)
    for a, b in zip(runs["devices"]["weights"], runs["one"]["weights"]):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    np.testing.assert_allclose(runs["devices"]["predictions"], runs["one"]["predictions"], atol=1e-5, rtol=0)


@jax_only
def test_two_processes_train_as_one(runs):
    np.testing.assert_allclose(runs["process 0"]["loss"], runs["one"]["loss"], rtol=1e-5)
    for a, b, c in zip(runs["process 0"]["weights"], runs["process 1"]["weights"], runs["one"]["weights"]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, atol=1e-5, rtol=0)
    np.testing.assert_allclose(runs["process 0"]["predictions"], runs["one"]["predictions"], atol=1e-5, rtol=0)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="other backends only")
def test_other_backends_are_refused_with_guidance():
    with pytest.raises(NotImplementedError, match="MirroredStrategy.*DistributedDataParallel"):
        data_parallel()


@jax_only
def test_zz_print(runs):
    for name in ("devices", "process 0"):
        print(name, runs[name]["loss"], runs["one"]["loss"])
        print(name, "weights", max(np.abs(a - b).max() for a, b in zip(runs[name]["weights"], runs["one"]["weights"])))
        print(name, "rel", max((np.abs(a - b) / (np.abs(b) + 1e-3)).max() for a, b in zip(runs[name]["weights"], runs["one"]["weights"])))
        print(name, "per", [(n, float(np.abs(a - b).max()), float(np.abs(b).max())) for n, a, b in zip(runs["one"]["names"], runs[name]["weights"], runs["one"]["weights"])])
        print(name, "pred", np.abs(np.array(runs[name]["predictions"]) - np.array(runs["one"]["predictions"])).max())
