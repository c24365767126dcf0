"""Synchronous data-parallel training on every device of every host, with Keras' distribution API (JAX).

`data_parallel()` sets `keras.distribution.DataParallel` over all devices
(`keras.distribution.list_devices()`): the model is replicated on each,
each batch is split across them along its first axis, and gradients are
averaged, so training matches one device with the same global batch. With
several processes (hosts), it first joins them with
`keras.distribution.initialize` (which calls `jax.distributed.initialize`)
and returns `(process_index, process_count)`; each process then reads its
own part of the data with `datasets.distributed.split_dataset_by_node`.

Launch one process per host, each with the same command and its own id:

    # host 0 (the coordinator, reachable at 10.0.0.1:1234) and host 1
    KERAS_DISTRIBUTION_JOB_ADDRESSES=10.0.0.1:1234 KERAS_DISTRIBUTION_NUM_PROCESSES=2 \\
    KERAS_DISTRIBUTION_PROCESS_ID=0 python recipes/quickdraw345.py --data-parallel ...
    KERAS_DISTRIBUTION_JOB_ADDRESSES=10.0.0.1:1234 KERAS_DISTRIBUTION_NUM_PROCESSES=2 \\
    KERAS_DISTRIBUTION_PROCESS_ID=1 python recipes/quickdraw345.py --data-parallel ...

On clusters JAX detects itself (SLURM, Open MPI, Cloud TPU), call
`jax.distributed.initialize()` before `data_parallel()` instead.

Only the JAX backend has `keras.distribution`. Under TensorFlow, Keras
models train data-parallel inside `tf.distribute.MirroredStrategy().scope()`
(one host) or `MultiWorkerMirroredStrategy` (several); under PyTorch, with
one process per GPU wrapped in `torch.nn.parallel.DistributedDataParallel`
and a custom loop (keras.io's "Multi-GPU distributed training with
PyTorch"). `data_parallel()` raises `NotImplementedError` there rather than
train on one device while you expect many.

Example (one process; under JAX, on all its devices):
>>> import keras
>>> keras.backend.backend() != "jax" or data_parallel() == (0, 1)
True
>>> keras.distribution.set_distribution(None)
"""

import os

import keras
import numpy as np


def data_parallel(coordinator_address=None, num_processes=None, process_id=None):
    """Makes Keras train data-parallel on every device of every process; returns `(process_index, process_count)`.

    Call it before building the model. The arguments join several
    processes (see the module docstring); they default to Keras'
    variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`.
    With neither, or with JAX already initialized, this process runs alone
    or as JAX set it up.

    Args:
        coordinator_address: `"host:port"` of process 0.
        num_processes: how many processes take part.
        process_id: this process's index, from 0.

    Raises:
        NotImplementedError: under TensorFlow or PyTorch (see the module
            docstring for what Keras supports there).

    Example: see the module docstring.
    """
    if keras.backend.backend() != "jax":
        raise NotImplementedError(
            f"keras.distribution is JAX-only; under {keras.backend.backend()!r} use "
            "tf.distribute.MirroredStrategy (TensorFlow) or torch DistributedDataParallel (PyTorch): "
            "see sketchkeras.distributed's docstring"
        )
    import jax

    joining = num_processes is not None or coordinator_address is not None or _from_environment()
    if joining and not jax.distributed.is_initialized():
        keras.distribution.initialize(coordinator_address, num_processes, process_id)
    # Each process reads its own shard (split_dataset_by_node): Keras must not shard again.
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices(), auto_shard_dataset=False)
    keras.distribution.set_distribution(distribution)
    return jax.process_index(), jax.process_count()


def pad_to_common_length(batches):
    """Pads each process's batch to the longest any process has at that step.

    Under several processes, the batches that processes give at one step
    make up one global batch, so they must have the same shape; length
    bucketing picks lengths per process. The model ignores padding, so
    this changes no result. With one process, `batches` pass through.

    Example:
    >>> import numpy as np
    >>> batches = [({"strokes": np.zeros((2, 16, 3), "float32"), "lengths": np.array([3, 9])}, np.array([0, 1]))]
    >>> [x["strokes"].shape for x, _ in pad_to_common_length(iter(batches))]
    [(2, 16, 3)]
    """
    if keras.backend.backend() != "jax" or _process_count() == 1:
        yield from batches
        return
    from jax.experimental import multihost_utils

    for x, y in batches:
        length = x["strokes"].shape[1]
        longest = int(np.max(multihost_utils.process_allgather(np.int32(length))))
        strokes = np.pad(x["strokes"], [(0, 0), (0, longest - length), (0, 0)])
        yield {"strokes": strokes, "lengths": x["lengths"]}, y


def single_device_copy(model):
    """A copy of `model` on this process's default device, outside any distribution.

    For evaluating and saving on one process after multi-process training:
    the distributed model's variables span every process, and its
    predictions take a global batch from all of them.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
    >>> copy = single_device_copy(model)
    >>> copy.labels, all((a == b).all() for a, b in zip(copy.get_weights(), model.get_weights()))
    (['cat', 'dog'], True)
    """
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        copy = model.__class__.from_config(model.get_config())
        copy.set_weights(model.get_weights())
    finally:
        keras.distribution.set_distribution(distribution)
    return copy


def _process_count():
    import jax

    return jax.process_count()


def _from_environment():
    return any(f"KERAS_DISTRIBUTION_{name}" in os.environ for name in ("JOB_ADDRESSES", "NUM_PROCESSES", "PROCESS_ID"))
