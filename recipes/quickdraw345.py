"""Quick, Draw! 345: all of Google's classes, streamed, on one or many GPUs, in a run that survives a crash.

Google's full Quick, Draw! data holds 50 million drawings in 345 classes:
far more than memory. This recipe streams them through Hugging Face
`datasets` (`sketchkeras.streaming`), trains a `SketchClassifier` on them
for `--steps` steps, optionally data-parallel over every GPU of every host
(JAX, `sketchkeras.distributed`), scores it on held-out drawings and saves
it with its model card.

`--data` is a local folder of Google's files (`gs://quickdraw_dataset/full/
simplified/*.ndjson`, or raw) or a Hub parquet dataset id written by
`sketchkeras convert`. From Google's files, held-out drawings are chosen
by a hash of each drawing's identity (`sketchkeras.streaming.hash_split`):
10% validation, 10% test, never trained on; a Hub dataset brings its own
validation and test splits.

The run goes through `sketchkeras.training.train`, an "epoch" being
`--checkpoint-every` steps (`sketchkeras.streaming.StreamEpochs`). After
each one it validates on a fixed sample of the validation split (the best
weights are kept; 8 checkpoints without improvement stop the run), and
atomically writes a checkpoint and `state.json` into `--out`. `--resume` continues from the last checkpoint at the same
step, with the same learning-rate schedule, and carries the stream on
where that checkpoint left it: the stream is read again from its start up
to there, without training, so resuming costs input time (not training
time) in proportion to the steps done. `--time-budget` stops after the
checkpoint during which that many seconds of training (summed over
resumes) have passed; to go on, rerun with `--resume` and a larger budget. The run directory ends
as the qd35 recipe's does (`sketchkeras.pipeline`): `metrics.json`, the
plots (with matplotlib), and `model/` with its card; `--push owner/name`
also uploads the model to the Hub.

Large batches. `--learning-rate` defaults to 3e-3 * sqrt(batch / 256),
the square-root rule for Adam-type optimizers, with the batch being the
global one (`--batch-size`: split over all devices and processes, so one
GPU and N data-parallel GPUs with the same `--batch-size` train alike);
the learning rate warms up over the first 5% of steps, then decays
(cosine). `--mixed-precision` trains under Keras' `mixed_bfloat16` policy
(bfloat16 compute, float32 weights, no loss scaling; the class scores stay
float32): for GPUs with bfloat16 (NVIDIA Ampere and later) and TPUs; on a
CPU keep float32.

    # one GPU (any backend)
    python recipes/quickdraw345.py --data /data/quickdraw/simplified --out runs/qd345 --mixed-precision
    # ... killed: go on from the last checkpoint
    python recipes/quickdraw345.py --data /data/quickdraw/simplified --out runs/qd345 --mixed-precision --resume
    # every GPU of this host (JAX), 8x the batch; for several hosts see sketchkeras.distributed
    KERAS_BACKEND=jax python recipes/quickdraw345.py --data owner/quickdraw-strokes --out runs/qd345 \\
        --data-parallel --batch-size 2048 --steps 25000 --mixed-precision
    # smoke test on the small 345-class sample (CPU)
    python recipes/quickdraw345.py --data ../shared/quickdraw/simplified --out /tmp/qd345 \\
        --steps 150 --checkpoint-every 50 --batch-size 64 --max-points 64 --test-drawings 1000
"""

import argparse
import importlib.util
import json
import math
from pathlib import Path

import keras
from datasets.distributed import split_dataset_by_node

from sketchkeras import SketchClassifier, StrokeBatches, categories
from sketchkeras.distributed import data_parallel, pad_to_common_length, single_device_copy
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.pipeline import set_seed
from sketchkeras.streaming import StreamEpochs, stream_batches, stream_quickdraw, take_sample
from sketchkeras.training import LEARNING_RATE, OPTIMIZER, train

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--data", required=True, help="folder of Google's ndjson files, or a Hub parquet dataset id")
parser.add_argument("--out", required=True, type=Path, help="run directory: checkpoints, metrics.json, model/")
parser.add_argument("--steps", type=int, default=200_000, help="training steps in all")
parser.add_argument("--checkpoint-every", type=int, default=2_000, help="steps between validations and checkpoints")
parser.add_argument("--batch-size", type=int, default=256, help="global batch, split over processes and devices")
parser.add_argument("--learning-rate", type=float, help="peak learning rate (default: 3e-3 * sqrt(batch / 256))")
parser.add_argument("--max-points", type=int, default=256, help="drawings are cut to their first points")
parser.add_argument("--validation-drawings", type=int, default=10_000, help="size of the fixed validation sample")
parser.add_argument("--test-drawings", type=int, default=100_000, help="size of the held-out test sample")
parser.add_argument("--time-budget", type=float, help="seconds of training, summed over resumes")
parser.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
parser.add_argument("--mixed-precision", action="store_true", help="Keras policy mixed_bfloat16 (GPU, TPU)")
parser.add_argument("--data-parallel", action="store_true", help="all devices of all processes (JAX)")
parser.add_argument("--push", metavar="REPO_ID", help="upload the model to this Hub repository at the end")
parser.add_argument("--workers", type=int, default=1, help="input processes (stream_batches); keep it on --resume")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
if args.steps % args.checkpoint_every:
    parser.error(f"--steps {args.steps} is not a multiple of --checkpoint-every {args.checkpoint_every}")
learning_rate = LEARNING_RATE * math.sqrt(args.batch_size / 256) if args.learning_rate is None else args.learning_rate

# ## Devices
#
# With `--data-parallel`, Keras replicates the model on every device and
# splits each global batch across them. Several processes each read their
# own shard of the stream: one file in every `process_count`.
process_index, process_count = (0, 1)
if args.data_parallel:
    process_index, process_count = data_parallel()
    devices = keras.distribution.list_devices()
    if args.batch_size % len(devices):
        raise SystemExit(f"--batch-size {args.batch_size} does not split evenly over {len(devices)} devices")
if args.mixed_precision:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
set_seed(args.seed)  # Python, NumPy and the backend only: no TensorFlow under JAX

# ## Data
#
# The training stream is read pass after pass, shuffled through a buffer,
# and cut into length-bucketed batches, `--checkpoint-every` to an epoch.
# `--workers` input processes read the stream's shards in parallel (the
# batches depend on their number: keep it when resuming).
# Under several processes, the batches the processes give at one step make
# up one global batch: `pad_to_common_length` pads them to one length.
# Validation batches are whole per-process batches (the sample is cut to a
# multiple of them), so that they split evenly over the devices.
labels = categories()
per_process = args.batch_size // process_count
train_stream = stream_quickdraw(args.data, classes=labels, split="train")
if process_count > 1:
    strategy = "shards" if train_stream.num_shards >= process_count else "examples"
    train_stream = split_dataset_by_node(train_stream, rank=process_index, world_size=process_count, strategy=strategy)
train_batches = StreamEpochs(
    lambda: pad_to_common_length(
        stream_batches(
            train_stream, batch_size=per_process, max_points=args.max_points, seed=args.seed, workers=args.workers
        )
    ),
    steps=args.checkpoint_every,
)


def sample(split, n):
    """A fixed sample of `n` drawings of `split`; its shuffle buffer (reading ahead) needs to be no larger."""
    stream = stream_quickdraw(args.data, classes=labels, split=split)
    return take_sample(stream, n, seed=args.seed, buffer_size=max(1, min(n, 10_000)))


validation = sample("validation", args.validation_drawings // per_process * per_process)
validation_batches = StrokeBatches(validation, per_process, args.max_points, shuffle=False)

# ## Model and training
#
# The "default" preset: a masked conv stack, then two LSTMs. AdamW with
# warmup and cosine decay over all the steps (`train` compiles it).
model = SketchClassifier.from_preset("default", labels=labels, max_points=args.max_points)
model, history = train(
    model,
    train_batches,
    validation_batches,
    args.out,
    epochs=args.steps // args.checkpoint_every,
    learning_rate=learning_rate,
    time_budget=args.time_budget,
    resume=args.resume,
    verbose=2 if process_index == 0 else 0,
)

# ## Evaluation
#
# A fixed sample of the test split, scored by every process on its own
# copy of the model (outside the distribution); the first one saves it.
if args.data_parallel:
    model = single_device_copy(model)
test = sample("test", args.test_drawings)
metrics = evaluate_classifier(model, test)
metrics["dataset"] = f"{args.data}, test split"
steps_done = len(history["loss"]) * args.checkpoint_every
precision = keras.mixed_precision.global_policy().name
training = {
    "backend": keras.backend.backend(),
    "preset": "default",
    "epochs": len(history["loss"]),
    "optimizer": OPTIMIZER,
    "learning_rate": learning_rate,
    "batch_size": args.batch_size,
    "train_drawings": steps_done * args.batch_size,
    "validation_drawings": validation.num_rows,
    "train_seconds": round(sum(history["seconds"]), 1),
    "seed": args.seed,
}
print(
    f"test top-1 {metrics['top1']:.4f}  top-3 {metrics['top3']:.4f}  MAP@3 {metrics['map3']:.4f}  "
    f"({metrics['test_drawings']} drawings, {steps_done} steps)"
)
if process_index == 0:
    model_dir = args.out / "model"
    model.save_pretrained(model_dir, metrics=metrics, training=training)
    run = {"steps": steps_done, "checkpoint_every": args.checkpoint_every, "precision": precision}
    summary = {"metrics": metrics, "training": training, "run": run, "history": history, "model_dir": str(model_dir)}
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=1))
    if importlib.util.find_spec("matplotlib"):  # the `plots` extra
        from sketchkeras.plots import plot_evaluation

        plot_evaluation(model, test, metrics, args.out, history)
    if args.push:
        model.push_to_hub(args.push, metrics=metrics, training=training)
