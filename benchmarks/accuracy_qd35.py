"""QD-35 accuracy: the default recipe vs Géron's chapter-15 model, same split, same time.

Both train from scratch on the same seeded split of the bundled real QD-35
sample (400 drawings per class; 80/10/10 by drawing identity) under the
current Keras backend:

* default: `sketchkeras.pipeline.RECIPES["qd35"]` exactly as
  `python recipes/qd35.py` runs it;
* geron: the "geron" preset (Conv1D 32/64/128 strides 2 + batch norm,
  LSTM 128 x 2, no masking) trained as in the book's solution: plain
  Adam(1e-3), no augmentation, for as long as the default recipe took
  (measured in this run).

Run: KERAS_BACKEND=jax python benchmarks/accuracy_qd35.py
"""

import tempfile
import time

import keras

import sketchkeras
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.pipeline import RECIPES, run_splits, run_training
from sketchkeras.training import train


def main():
    recipe = RECIPES["qd35"]
    started = time.perf_counter()
    default = run_training(run_dir=tempfile.mkdtemp(), verbose=2, **recipe)
    default_wall = time.perf_counter() - started
    budget = default["training"]["train_seconds"]

    keras.utils.set_random_seed(recipe["seed"])
    splits = run_splits(recipe)
    model = sketchkeras.SketchClassifier.from_preset("geron", labels=recipe["classes"])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = sketchkeras.StrokeBatches(splits["train"], 64, model.max_points, seed=recipe["seed"])
    validation = sketchkeras.StrokeBatches(splits["validation"], 256, model.max_points, shuffle=False)
    started = time.perf_counter()
    model, history = train(
        model, batches, validation, tempfile.mkdtemp(), epochs=1000, patience=1000, time_budget=budget, verbose=2
    )
    geron_wall = time.perf_counter() - started
    geron = {"metrics": evaluate_classifier(model, splits["test"]), "history": history}

    rows = [("default", default, default_wall), ("geron", geron, geron_wall)]
    print(f"\nQD-35 test split ({default['metrics']['test_drawings']} drawings), backend {keras.backend.backend()}")
    print(f"{'model':<9} {'top-1':>6} {'top-3':>6} {'MAP@3':>6} {'epochs':>6} {'train s':>8} {'sketches/s':>10}")
    for name, result, _ in rows:
        m, h = result["metrics"], result["history"]
        seconds = sum(h["seconds"])
        rate = len(h["loss"]) * splits["train"].num_rows / seconds
        print(
            f"{name:<9} {m['top1']:>6.3f} {m['top3']:>6.3f} {m['map3']:>6.3f} {len(h['loss']):>6} "
            f"{seconds:>8.0f} {rate:>10.0f}"
        )


if __name__ == "__main__":
    main()
