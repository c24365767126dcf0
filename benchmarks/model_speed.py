"""Training and inference speed of sketchkeras' layers vs the same model in stock Keras layers, per backend.

Each backend runs in its own process (Keras fixes the backend at import).
Both models see the same real QD-35 batches (length-bucketed, batch 64) and
are compiled with the same `compile_for_training` (AdamW, clipnorm 1,
warmup + cosine) the recipes use:

* sketchkeras: `SketchClassifier` "default" preset (masked conv stack,
  2 x LSTM(128), exact padding invariance);
* plain Keras: the same architecture from stock layers: the absolute
  positions beside the offsets, Conv1D (48, 5, 1), (64, 5, 2), (96, 3, 2)
  with padding="same", each with BatchNormalization (given the mask) and
  ReLU, dropout 0.2, LSTM(128) x 2 given the (strided) padding mask.

Every batch shape is run once untimed (compilation, tracing); then each
measurement is repeated and its median reported. Printed: one column per
backend, with its ratio to the fastest backend (throughput: fastest /
this; latency: this / fastest).

Run: python benchmarks/model_speed.py [--backends jax torch tensorflow] [--steps 30] [--repeats 3]
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time


def plain_keras(classes, preset):
    """The preset's architecture from stock Keras layers, the mask passed to BatchNormalization and the LSTMs."""
    import keras
    from keras import ops

    strokes = keras.Input((None, 3), name="strokes")
    lengths = keras.Input((), dtype="int32", name="lengths")
    mask = keras.layers.Lambda(
        lambda t: ops.arange(0, ops.shape(t[0])[1], 1)[None] < ops.expand_dims(t[1], 1), output_shape=(None,)
    )([strokes, lengths])
    x = keras.layers.Lambda(lambda s: ops.concatenate([s, ops.cumsum(s[..., :2], axis=1)], axis=-1))(strokes)
    for filters, size, strides in preset["conv_layers"]:
        x = keras.layers.Conv1D(filters, size, strides=strides, padding="same")(x)
        mask = keras.layers.Lambda(lambda m, s=strides: m[:, ::s])(mask)
        x = keras.layers.BatchNormalization()(x, mask=mask)
        x = keras.layers.ReLU()(x)
    for i, units in enumerate(preset["rnn_units"]):
        x = keras.layers.Dropout(preset["dropout"])(x)
        x = keras.layers.LSTM(units, return_sequences=i < len(preset["rnn_units"]) - 1)(x, mask=mask)
    x = keras.layers.Dropout(preset["dropout"])(x)
    out = keras.layers.Dense(len(classes), activation="softmax")(x)
    return keras.Model({"strokes": strokes, "lengths": lengths}, out)


def _median_rate(run, count, repeats):
    import numpy as np

    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def _median_ms(run, repeats=50):
    import numpy as np

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def measure(steps, repeats):
    import keras
    import numpy as np

    import sketchkeras
    from sketchkeras.backbone import PRESETS
    from sketchkeras.training import compile_for_training

    keras.utils.set_random_seed(0)
    classes = sketchkeras.qd35_classes()
    data = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=classes, max_per_class=100)
    batches = sketchkeras.StrokeBatches(data, batch_size=64, max_points=256, seed=0)
    drawing = np.asarray(data[0]["strokes"], "float32")
    chosen = [batches[i % len(batches)] for i in range(steps)]
    seen = sum(len(y) for _, y in chosen)
    x, lengths = sketchkeras.pad_strokes([drawing], sketchkeras.bucket_length(len(drawing), 256))
    single = {"strokes": x, "lengths": lengths}
    results = {}
    ours = sketchkeras.SketchClassifier.from_preset("default", labels=classes)
    for name, model in (("sketchkeras", ours), ("plain Keras", plain_keras(classes, PRESETS["default"]))):
        compile_for_training(model, steps=1000)  # as the recipes train it
        shapes = {}
        for x, y in chosen:
            shapes.setdefault(x["strokes"].shape, (x, y))
        for x, y in shapes.values():  # compile (JAX) or trace (TF) each batch shape once, untimed
            model.train_on_batch(x, y)
            model.predict_on_batch(x)

        def train(model=model):
            for x, y in chosen:
                model.train_on_batch(x, y)

        def infer(model=model):
            for x, _ in chosen:
                model.predict_on_batch(x)

        results[name] = {
            "train sketches/s": _median_rate(train, seen, repeats),
            "infer sketches/s": _median_rate(infer, seen, repeats),
            "predict_on_batch, 1 sketch, ms": _median_ms(lambda model=model: model.predict_on_batch(single)),
        }
    # What a user sees: one Google simplified drawing in, top-5 labels out.
    with gzip.open(sketchkeras.bundled_sample_dir() / "simplified" / "cat.ndjson.gz", "rt") as lines:
        google_drawing = json.loads(lines.readline())["drawing"]
    results["sketchkeras"]["predict_drawings, 1 drawing, ms"] = _median_ms(
        lambda: ours.predict_drawings([google_drawing])
    )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "torch", "tensorflow"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.steps, args.repeats)))
        return
    results = {}
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend}
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--steps", str(args.steps), "--repeats", str(args.repeats)],
            env=env,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(f"{backend} run failed:\n{out.stderr[-3000:]}")
        results[backend] = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
    first = results[args.backends[0]]
    print(f"{'model':<12} {'measure':<32}" + "".join(f" {backend:>20}" for backend in args.backends))
    for name, measures in first.items():
        for measure_name in measures:
            values = [results[backend][name][measure_name] for backend in args.backends]
            rate = "/s" in measure_name
            best = max(values) if rate else min(values)
            cells = [f"{v:,.0f}" if rate else f"{v:.2f}" for v in values]
            ratios = [best / v if rate else v / best for v in values]
            print(
                f"{name:<12} {measure_name:<32}"
                + "".join(f" {f'{cell} ({ratio:.2f}x)':>20}" for cell, ratio in zip(cells, ratios))
            )


if __name__ == "__main__":
    main()
