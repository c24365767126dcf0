"""Fine-tuning a pretrained encoder against training from scratch, on QD-35 with 25, 100 and 400 drawings per class.

1. Pretrain the "default" architecture on the 310 classes outside QD-35: every real simplified drawing of them in
   ../shared/quickdraw (about 35 per class; no QD-35 class is seen), for `--pretrain-seconds`.
2. Split the bundled real QD-35 sample (400 drawings per class) once, seeded, by drawing identity (80/10/10).
   From its training part take the first 25, 100 and 400 drawings per class (so each smaller set is inside the
   larger one); validation and test stay the same for every run.
3. For each size train twice with the same batches, the same schedule and the same `--seconds` of training:
   from scratch (`SketchClassifier.from_preset("default", labels=...)`) and from the pretrained encoder
   (`SketchClassifier.from_pretrained(pretrained, labels=...)`, every layer trainable). Early stopping on the
   validation loss (patience 8) applies to both.

Prints one table: test top-1 and MAP@3 for every cell, the epochs each run got and its training seconds; and the
balanced top-1 of the shipped 345-class model, as its results file holds it.

Run: KERAS_BACKEND=jax python benchmarks/finetune.py                       # about 40 min on a 2-core CPU
     KERAS_BACKEND=jax python benchmarks/finetune.py --seconds 60 --pretrain-seconds 180   # a quicker look
"""

import argparse
import json
import tempfile
from pathlib import Path

import keras
import numpy as np

import sketchkeras
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.hub import RESULTS_FILE
from sketchkeras.pipeline import set_seed
from sketchkeras.training import train

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "quickdraw"
SIZES = (25, 100, 400)
SEED = 0


def per_class(dataset, n, seed=SEED):
    """The first `n` rows of each class in a seeded shuffle of `dataset`."""
    words = np.asarray(dataset["word"])
    order = np.random.default_rng(seed).permutation(len(words))
    kept = np.concatenate([order[words[order] == word][:n] for word in np.unique(words)])
    return dataset.select(np.sort(kept))


def fit(model, train_split, validation, seconds, epochs):
    batches = sketchkeras.StrokeBatches(train_split, 64, model.max_points, augment=True, seed=SEED)
    model, history = train(
        model, batches, validation, tempfile.mkdtemp(), epochs=epochs, time_budget=seconds, verbose=2
    )
    return model, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="training seconds of each QD-35 run")
    parser.add_argument("--pretrain-seconds", type=float, default=600, help="training seconds of the pretraining")
    parser.add_argument("--epochs", type=int, default=200, help="epochs at most (the schedule's length)")
    args = parser.parse_args()
    qd35 = sketchkeras.qd35_classes()
    others = [name for name in sketchkeras.categories() if name not in qd35]

    set_seed(SEED)
    corpus = sketchkeras.load_quickdraw(SHARED / "simplified", classes=others)
    splits = sketchkeras.split_dataset(corpus, seed=SEED)
    backbone = sketchkeras.SketchClassifier.from_preset("default", labels=others)
    validation = sketchkeras.StrokeBatches(splits["validation"], 256, backbone.max_points, shuffle=False)
    backbone, history = fit(backbone, splits["train"], validation, args.pretrain_seconds, args.epochs)
    pretrained = Path(tempfile.mkdtemp()) / "backbone-310"
    backbone.save_pretrained(pretrained)
    pretrain_top1 = evaluate_classifier(backbone, splits["test"])["top1"]
    print(
        f"pretrained on {splits['train'].num_rows} drawings of {len(others)} classes: "
        f"{len(history['loss'])} epochs, {sum(history['seconds']):.0f} s, test top-1 {pretrain_top1:.3f}"
    )

    dataset = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=qd35, max_per_class=400)
    qd35_splits = sketchkeras.split_dataset(dataset, seed=SEED)
    rows = []
    for size in SIZES:
        train_split = per_class(qd35_splits["train"], size)
        for start in ("scratch", "pretrained"):
            set_seed(SEED)
            if start == "scratch":
                model = sketchkeras.SketchClassifier.from_preset("default", labels=qd35)
            else:
                model = sketchkeras.SketchClassifier.from_pretrained(pretrained, labels=qd35)
            validation = sketchkeras.StrokeBatches(qd35_splits["validation"], 256, model.max_points, shuffle=False)
            model, history = fit(model, train_split, validation, args.seconds, args.epochs)
            metrics = evaluate_classifier(model, qd35_splits["test"])
            rows.append((size, train_split.num_rows, start, metrics, history))

    shipped = json.loads((sketchkeras.bundled_model_dir("quickdraw345") / RESULTS_FILE).read_text())["metrics"]
    print(
        f"\nshipped quickdraw345, as saved: balanced top-1 {shipped['balanced_top1']:.3f}, top-1 {shipped['top1']:.3f} "
        f"on its class-balanced test split ({shipped['test_drawings']:,} drawings)"
    )
    test = qd35_splits["test"].num_rows
    print(f"\nQD-35 test split ({test} drawings), backend {keras.backend.backend()}, {args.seconds:.0f} s per run")
    print(f"{'per class':>9} {'drawings':>8} {'start':<10} {'top-1':>6} {'MAP@3':>6} {'epochs':>6} {'train s':>7}")
    for size, drawings, start, metrics, history in rows:
        seconds = sum(history["seconds"])
        print(
            f"{size:>9} {drawings:>8} {start:<10} {metrics['top1']:>6.3f} {metrics['map3']:>6.3f} "
            f"{len(history['loss']):>6} {seconds:>7.0f}"
        )


if __name__ == "__main__":
    main()
