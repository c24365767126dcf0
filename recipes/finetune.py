"""Teach the shipped recognizer your own words: fine-tuning QD-35 on a folder of drawings.

The model that ships with sketchkeras (`qd35`) knows 35 words. Its backbone
(a masked Conv1D stack and two LSTMs) has learnt from 11,200 drawings what
pen strokes look like; only its last layer, the head, is about those 35
words. To teach it words of your own you need a few dozen drawings of each,
not thousands: keep the backbone, give it a fresh head for your words, and
train in two stages.

1. Head only. `SketchClassifier.from_pretrained("qd35", labels=words)` keeps
   the backbone and builds a head for `words` (a word the shipped model knew
   keeps its head row; a new one starts from random weights). With
   `model.backbone.trainable = False`, training moves the head alone, so the
   random head cannot push large, noisy gradients into the backbone.
2. Everything, gently. Unfreeze the backbone and train the whole model at a
   tenth of the learning rate, so that it adapts to your words without
   forgetting what it knew about strokes.

Between the stages the model must be compiled again. Keras settles which
weights the optimizer updates (and builds their moment estimates) from
`trainable` as it was at `compile()` and the first training step after
it: change `trainable` and you must call `compile()` again for the change
to count. Also, `sketchkeras.training.train` compiles only a model that is
not compiled yet (a compiled one keeps its optimizer), so after stage 1 it
would quietly keep stage 1's optimizer, built for the head alone and with
a learning rate decayed to nearly zero. This recipe therefore calls
`compile_for_training` itself before each stage, with that stage's number
of steps and learning rate.

Finally it trains the same architecture from scratch on the same words for
the same number of epochs (`SketchClassifier.from_preset("default")`), so
you can see what the pretrained backbone is worth, and saves the
fine-tuned model with its model card (`save_pretrained`).

Your drawings: a folder of Google's ndjson files, raw or simplified, one
JSON object a line, for example `{"word": "hedgehog", "drawing": [[xs, ys,
ts], ...]}` as the Save button of `sketchkeras serve`'s web demo writes
them. By default the recipe uses real drawings of five words the shipped
model never saw, from the project's shared Quick, Draw! sample (3-4
minutes of CPU, most of it compiling):

    KERAS_BACKEND=jax python recipes/finetune.py --out runs/finetune
    python recipes/finetune.py --data my_drawings/ --classes hedgehog teapot --out runs/mine

The command line does the same in one stage (`sketchkeras train --from qd35
--data my_drawings/ --classes hedgehog teapot --out runs/mine`).
"""

import argparse
import json
from pathlib import Path

import keras

from sketchkeras import SketchClassifier, StrokeBatches, evaluate_classifier, load_quickdraw, split_dataset
from sketchkeras.pipeline import set_seed
from sketchkeras.training import LEARNING_RATE, OPTIMIZER, WEIGHT_DECAY, compile_for_training, train

SHARED_DRAWINGS = Path(__file__).resolve().parents[2] / "shared" / "quickdraw" / "simplified"
WORDS = ["apple", "banana", "coffee cup", "house plant", "table"]  # none of them is a QD-35 class

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--data", type=Path, default=SHARED_DRAWINGS, help="folder (or file) of Google ndjson drawings")
parser.add_argument("--classes", nargs="+", default=WORDS, metavar="WORD", help="the words to learn")
parser.add_argument("--max-per-class", type=int, help="use at most this many drawings of each word")
parser.add_argument("--epochs", type=int, default=4, help="epochs of each model: half head only, then all")
parser.add_argument("--out", type=Path, default=Path("runs/finetune"), help="run directory: model/ and metrics.json")
args = parser.parse_args()
if args.epochs < 2:
    parser.error("--epochs must be at least 2: one for the head, one for the whole model")
SEED, BATCH_SIZE = 0, 32
HEAD_LEARNING_RATE = 1e-2
set_seed(SEED)

# ## The drawings
#
# `load_quickdraw` reads the folder (only the given words) into a
# `datasets.Dataset`; `split_dataset` holds out 10% for validation and 10%
# for the test, stratified by word and grouped by drawing identity.
try:
    dataset = load_quickdraw(args.data, classes=args.classes, max_per_class=args.max_per_class)
except ValueError as error:  # an unknown word, a folder without drawings
    parser.error(str(error))
labels = dataset.features["word"].names
splits = split_dataset(dataset, seed=SEED)
print({name: split.num_rows for name, split in splits.items()}, "drawings of", labels)


def batches(model):
    """Training batches (augmented, one drawing in five cut short) and validation batches."""
    train_batches = StrokeBatches(splits["train"], BATCH_SIZE, model.max_points, augment=True, seed=SEED)
    return train_batches, StrokeBatches(splits["validation"], 256, model.max_points, shuffle=False)


def fit(model, run_dir, epochs, learning_rate):
    """Compiles afresh (for the weights trainable now) and trains; returns the history."""
    train_batches, validation_batches = batches(model)
    compile_for_training(model, epochs * len(train_batches), learning_rate=learning_rate)
    return train(model, train_batches, validation_batches, run_dir, epochs=epochs, verbose=2)[1]


def report(name, metrics):
    """Prints the test scores, to 4 decimals."""
    scores = f"test top-1 {metrics['top1']:.4f}  top-3 {metrics['top3']:.4f}"
    print(f"{name}: {scores}  ({metrics['test_drawings']} drawings)")


# ## Stage 1: the head alone
#
# One dense layer on fixed features: it takes a larger step than the whole model would.
head_epochs = args.epochs // 2
model = SketchClassifier.from_pretrained("qd35", labels=labels)
model.backbone.trainable = False
history = {"head": fit(model, args.out / "head", head_epochs, HEAD_LEARNING_RATE)}

# ## Stage 2: the whole model, at a tenth of the learning rate
#
# `fit` compiles again: the backbone's weights are trainable from here on.
model.backbone.trainable = True
history["all"] = fit(model, args.out / "all", args.epochs - head_epochs, LEARNING_RATE / 10)
fine_tuned = evaluate_classifier(model, splits["test"])

# ## The same words from scratch, for the same epochs
scratch = SketchClassifier.from_preset("default", labels=labels)
history["from_scratch"] = fit(scratch, args.out / "from_scratch", args.epochs, LEARNING_RATE)
from_scratch = evaluate_classifier(scratch, splits["test"])
report("fine-tuned from qd35", fine_tuned)
report("from scratch        ", from_scratch)

# ## Save the fine-tuned model
#
# The model card records where the backbone came from (`fine_tuned_from`).
fine_tuned["dataset"] = from_scratch["dataset"] = f"{args.data}: {', '.join(labels)}, test split"
seconds = sum(history["head"]["seconds"]) + sum(history["all"]["seconds"])
training = {
    "backend": keras.backend.backend(),
    "fine_tuned_from": "qd35",
    "epochs": len(history["head"]["loss"]) + len(history["all"]["loss"]),
    "optimizer": f"{OPTIMIZER}: {head_epochs} epochs head only at "
    f"{HEAD_LEARNING_RATE}, then {args.epochs - head_epochs} epochs all weights at the learning rate below",
    "learning_rate": LEARNING_RATE / 10,
    "weight_decay": WEIGHT_DECAY,
    "batch_size": BATCH_SIZE,
    "train_drawings": splits["train"].num_rows,
    "validation_drawings": splits["validation"].num_rows,
    "train_seconds": round(seconds, 1),
    "seed": SEED,
}
model.save_pretrained(args.out / "model", metrics=fine_tuned, training=training)
summary = {"fine_tuned": fine_tuned, "from_scratch": from_scratch, "training": training, "history": history}
(args.out / "metrics.json").write_text(json.dumps(summary, indent=1))
print(f"model saved to {args.out / 'model'} (load it with SketchClassifier.from_pretrained)")
