"""Training and inference speed of sketchkeras' layers vs plain Keras, per backend.

Each backend runs in its own process (Keras fixes the backend at import).
Both models see the same real QD-35 batches (length-bucketed, batch 64):

* sketchkeras: `SketchClassifier` "default" preset (masked conv stack,
  2 x LSTM(128), exact padding invariance), compiled as the recipes do;
* plain Keras: Conv1D(64, 5, "same") + BatchNorm + 2 x LSTM(128) given the
  padding mask (Conv1D cannot carry a mask, so it is passed to the LSTMs).

Run: python benchmarks/model_speed.py [--backends jax torch tensorflow] [--steps 30]
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time


def measure(steps):
    import keras
    import numpy as np

    import sketchkeras
    from sketchkeras.training import compile_for_training

    keras.utils.set_random_seed(0)
    classes = sketchkeras.qd35_classes()
    data = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=classes, max_per_class=100)
    batches = sketchkeras.StrokeBatches(data, batch_size=64, max_points=256, seed=0)
    drawing = data[0]["strokes"]

    def plain_keras():
        strokes = keras.Input((None, 3), name="strokes")
        lengths = keras.Input((), dtype="int32", name="lengths")
        mask = keras.layers.Lambda(
            lambda t: keras.ops.arange(keras.ops.shape(t[0])[1])[None] < keras.ops.expand_dims(t[1], 1),
            output_shape=(None,),
        )([strokes, lengths])
        x = keras.layers.Conv1D(64, 5, padding="same", activation="relu")(strokes)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LSTM(128, return_sequences=True)(x, mask=mask)
        x = keras.layers.LSTM(128)(x, mask=mask)
        out = keras.layers.Dense(len(classes), activation="softmax")(x)
        return keras.Model({"strokes": strokes, "lengths": lengths}, out)

    results = {}
    results_model = sketchkeras.SketchClassifier.from_preset("default", labels=classes)
    for name, model in (
        ("sketchkeras", results_model),
        ("plain Keras", plain_keras()),
    ):
        if name == "sketchkeras":
            compile_for_training(model, steps=1000)  # as the recipes train it
        else:
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # stock Keras defaults
        shapes = {}
        for i in range(len(batches)):
            shapes.setdefault(batches[i][0]["strokes"].shape, i)
        for i in shapes.values():  # compile (JAX) or trace (TF) each batch shape once, untimed
            model.train_on_batch(*batches[i])
            model.predict_on_batch(batches[i][0])
        start, seen = time.perf_counter(), 0
        for i in range(steps):
            x, y = batches[i % len(batches)]
            model.train_on_batch(x, y)
            seen += len(y)
        train = seen / (time.perf_counter() - start)
        start, seen = time.perf_counter(), 0
        for i in range(steps):
            x, y = batches[i % len(batches)]
            model.predict_on_batch(x)
            seen += len(y)
        infer = seen / (time.perf_counter() - start)
        x, lengths = sketchkeras.pad_strokes(
            [np.asarray(drawing, "float32")], sketchkeras.bucket_length(len(drawing), 256)
        )
        single = {"strokes": x, "lengths": lengths}
        model.predict_on_batch(single)
        times = []
        for _ in range(50):
            start = time.perf_counter()
            model.predict_on_batch(single)
            times.append(time.perf_counter() - start)
        results[name] = dict(train=train, infer=infer, latency_ms=1000 * float(np.median(times)))
    # What a user sees: one Google simplified drawing in, top-5 labels out.
    with gzip.open(sketchkeras.bundled_sample_dir() / "simplified" / "cat.ndjson.gz", "rt") as lines:
        google_drawing = json.loads(lines.readline())["drawing"]
    model = results_model
    model.predict_drawings([google_drawing])
    times = []
    for _ in range(50):
        start = time.perf_counter()
        model.predict_drawings([google_drawing])
        times.append(time.perf_counter() - start)
    results["sketchkeras"]["predict_drawings_ms"] = 1000 * float(np.median(times))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "torch", "tensorflow"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.steps)))
        return
    rows = []
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend}
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--steps", str(args.steps)],
            env=env,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(f"{backend} run failed:\n{out.stderr[-3000:]}")
        out = out.stdout
        result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        for name, r in result.items():
            rows.append((backend, name, r["train"], r["infer"], r["latency_ms"], r.get("predict_drawings_ms")))
    print(
        f"{'backend':<11} {'model':<12} {'train sketches/s':>17} {'infer sketches/s':>17}"
        f" {'1-sketch ms':>12} {'predict_drawings ms':>20}"
    )
    for backend, name, train, infer, latency, drawings_ms in rows:
        drawings_ms = "" if drawings_ms is None else f"{drawings_ms:.2f}"
        print(f"{backend:<11} {name:<12} {train:>17.0f} {infer:>17.0f} {latency:>12.2f} {drawings_ms:>20}")


if __name__ == "__main__":
    main()
