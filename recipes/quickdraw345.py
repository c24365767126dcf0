"""Quick, Draw! 345: all of Google's classes, streamed, on one or many GPUs.

Google's full Quick, Draw! data holds 50 million drawings in 345 classes:
far more than memory. This recipe streams them through Hugging Face
`datasets` (`sketchkeras.streaming`), trains a `SketchClassifier` on them for a fixed
number of steps, optionally data-parallel over every GPU of every host
(JAX, `sketchkeras.distributed`), scores it on held-out drawings and saves
it with its model card.

`--data` is a local folder of Google's files (`gs://quickdraw_dataset/full/
simplified/*.ndjson`, or raw) or a Hub parquet dataset id written by
`sketchkeras convert`. From Google's files, held-out drawings are chosen
by a hash of each drawing's identity (`sketchkeras.streaming.hash_split`):
10% validation, 10% test, never trained on; a Hub dataset brings its own
train and test splits.

    # one GPU (any backend)
    python recipes/quickdraw345.py --data /data/quickdraw/simplified --out runs/qd345
    # every GPU of this host (JAX); for several hosts see sketchkeras.distributed
    KERAS_BACKEND=jax python recipes/quickdraw345.py --data owner/quickdraw-strokes --out runs/qd345 --data-parallel
    # smoke test on the small 345-class sample (about a minute on a CPU with JAX)
    python recipes/quickdraw345.py --data ../shared/quickdraw/simplified --out /tmp/qd345 \\
        --epochs 3 --steps-per-epoch 50 --batch-size 64 --max-points 64 --test-drawings 1000
"""

import argparse
import json
import time
from pathlib import Path

import keras
from datasets.distributed import split_dataset_by_node

from sketchkeras import SketchClassifier, categories
from sketchkeras.distributed import data_parallel, pad_to_common_length, single_device_copy
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.pipeline import set_seed
from sketchkeras.streaming import stream_batches, stream_quickdraw, take_sample
from sketchkeras.training import LEARNING_RATE, compile_for_training

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--data", required=True, help="folder of Google's ndjson files, or a Hub parquet dataset id")
parser.add_argument("--out", required=True, type=Path, help="run directory: model/ and metrics.json")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--steps-per-epoch", type=int, default=10_000)
parser.add_argument("--batch-size", type=int, default=256, help="global batch, split over processes and devices")
parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
parser.add_argument("--max-points", type=int, default=256, help="drawings are cut to their first points")
parser.add_argument("--test-drawings", type=int, default=100_000, help="size of the held-out test sample")
parser.add_argument("--data-parallel", action="store_true", help="all devices of all processes (JAX)")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

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
set_seed(args.seed)  # Python, NumPy and the backend only: no TensorFlow under JAX

# ## Data
#
# The training stream is read pass after pass, shuffled through a buffer,
# and cut into length-bucketed batches; `steps_per_epoch` defines an epoch.
labels = categories()
train = stream_quickdraw(args.data, classes=labels, split="train")
if process_count > 1:
    strategy = "shards" if train.num_shards >= process_count else "examples"
    train = split_dataset_by_node(train, rank=process_index, world_size=process_count, strategy=strategy)
batches = stream_batches(train, batch_size=args.batch_size // process_count, max_points=args.max_points, seed=args.seed)

# ## Model
#
# The "default" preset: a masked conv stack, then two LSTMs. AdamW with
# warmup and cosine decay over all the steps.
model = SketchClassifier.from_preset("default", labels=labels, max_points=args.max_points)
steps = args.epochs * args.steps_per_epoch
compile_for_training(model, steps, learning_rate=args.learning_rate)

# ## Training
#
# Under several processes, the batches the processes give at one step make
# up one global batch: `pad_to_common_length` pads them to one length.
started = time.perf_counter()
history = model.fit(
    pad_to_common_length(batches),
    epochs=args.epochs,
    steps_per_epoch=args.steps_per_epoch,
    verbose=2 if process_index == 0 else 0,
).history
train_seconds = time.perf_counter() - started

# ## Evaluation
#
# A fixed sample of the test split, scored by every process on its own
# copy of the model (outside the distribution); the first one saves it.
if args.data_parallel:
    model = single_device_copy(model)
test = take_sample(stream_quickdraw(args.data, classes=labels, split="test"), args.test_drawings, seed=args.seed)
metrics = evaluate_classifier(model, test)
metrics["dataset"] = f"{args.data}, test split"
training = {
    "backend": keras.backend.backend(),
    "preset": "default",
    "epochs": args.epochs,
    "optimizer": "AdamW (clipnorm 1.0, warmup + cosine decay)",
    "learning_rate": args.learning_rate,
    "batch_size": args.batch_size,
    "train_drawings": steps * args.batch_size,
    "train_seconds": round(train_seconds, 1),
    "seed": args.seed,
}
print(
    f"test top-1 {metrics['top1']:.4f}  top-3 {metrics['top3']:.4f}  MAP@3 {metrics['map3']:.4f}  "
    f"({metrics['test_drawings']} drawings)"
)
if process_index == 0:
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out / "model", metrics=metrics, training=training)
    summary = {"metrics": metrics, "training": training, "history": history, "model_dir": str(args.out / "model")}
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=1))
