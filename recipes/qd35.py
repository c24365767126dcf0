"""
Title: Recognising Quick, Draw! sketches from their pen strokes (QD-35)
Description: Train a masked Conv1D + LSTM classifier on 35 classes of real drawings, on a CPU.

Run: `KERAS_BACKEND=jax python recipes/qd35.py [RUN_DIR]` (also `torch` or `tensorflow`).
"""

"""
## Introduction

Google's Quick, Draw! game asked people to draw a word in 20 seconds and recorded every pen
stroke. This recipe trains a classifier on those strokes, not on pixels: a drawing is a
sequence of pen points `(dx, dy, pen_lifted)`, and the model is a short masked Conv1D stack
feeding two LSTMs, read out at each drawing's last point.

The data is the real sample bundled with sketchkeras: 400 drawings for each of the 35 QD-35
classes (Google's own files, CC BY 4.0). It runs offline, in minutes, on a CPU.
"""

import sys

import keras

import sketchkeras
from sketchkeras.pipeline import RECIPES, run_training

"""
## The data

`load_quickdraw` reads Google's files into a Hugging Face `datasets.Dataset`: each row holds
the class (`word`), Google's `key_id` and the canonical strokes. Let's look at one drawing.
"""

recipe = RECIPES["qd35"]
dataset = sketchkeras.load_quickdraw(recipe["source"], classes=recipe["classes"], max_per_class=recipe["max_per_class"])
print(dataset)
first = dataset[0]
print(f"a {dataset.features['word'].int2str(first['word'])} with {len(first['strokes'])} points; first rows:")
print(first["strokes"][:3])

"""
## Train, evaluate, save

`run_training` does the rest, in the order you would do it by hand:

1. a seeded 80/10/10 split, stratified by class and grouped by drawing identity
   (`split_dataset`);
2. length-bucketed, right-padded batches with random scale/shear/rotation for training, one
   drawing in five cut short as if still being drawn (`StrokeBatches`);
3. the "default" `SketchClassifier` preset, trained with AdamW (gradient clipping, warmup then
   cosine decay, weight decay), early stopping on validation loss and a checkpoint per epoch
   (`training.train`, resumable);
4. top-1/top-3/top-5, MAP@3 and per-class accuracy on the held-out test split;
5. `save_pretrained` into `RUN_DIR/model`, with a model card built from these results.
"""

run_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/qd35"
summary = run_training(run_dir=run_dir, **recipe)

"""
## Results
"""

metrics, training = summary["metrics"], summary["training"]
print(f"\nbackend {keras.backend.backend()}: {training['epochs']} epochs in {training['train_seconds']:.0f} s")
print(f"test top-1 {metrics['top1']:.3f}  top-3 {metrics['top3']:.3f}  MAP@3 {metrics['map3']:.3f}")
print(f"model saved to {summary['model_dir']} (load it with SketchClassifier.from_pretrained)")

"""
## Classify a new drawing

The saved model carries its labels and preprocessing: give it Google's drawing format, raw or
simplified, or canvas strokes.
"""

model = sketchkeras.SketchClassifier.from_pretrained(summary["model_dir"])
drawing = [[[40, 200, 200, 40, 40], [40, 40, 200, 200, 40]]]  # a square, drawn in one stroke
print(model.predict_drawings([drawing], top_k=3)[0])
