"""Latency of a new pen point: the live stream vs re-running the drawing so far, per backend.

Each backend runs in its own process (Keras fixes the backend at import).
Both paths use the bundled QD-35 model on the same real drawings (Google's
simplified ndjson from ../shared/quickdraw, the first drawings of 12 QD-35
classes), point by point:

* stream: `SketchStream.add_point` (carries conv and LSTM state);
* re-run: `predict_strokes` on the whole drawing so far (the compiled model,
  length-bucketed; each bucket compiled before timing).

Both give the same probabilities (tests/test_live.py). Printed: median and
p99 milliseconds per point, and the median for early points (1-32) vs late
points (129-256), which shows whether the cost grows with the drawing.

Run: python benchmarks/streaming.py [--backends jax torch tensorflow] [--per-class 3]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

QUICKDRAW = Path(os.environ.get("SKETCHKERAS_QUICKDRAW", Path(__file__).resolve().parents[2] / "shared" / "quickdraw"))


def measure(per_class):
    import numpy as np

    import sketchkeras

    model = sketchkeras.SketchClassifier.from_pretrained(sketchkeras.bundled_model_dir())
    drawings = []
    for word in sketchkeras.qd35_classes()[::3]:
        lines = (QUICKDRAW / "simplified" / f"{word}.ndjson").read_text().splitlines()[:per_class]
        drawings += [json.loads(line)["drawing"] for line in lines]
    for length in sketchkeras.data.BUCKET_LENGTHS:  # compile every bucket before timing
        model.predict_strokes([np.zeros((min(length, model.max_points), 3), "float32")])
    stream_ms, rerun_ms, position = [], [], []
    for drawing in drawings:
        stream = model.start_stream()
        strokes = sketchkeras.canonical_strokes(drawing, max_points=model.max_points)
        n = 0
        for xs, ys in drawing:
            for x, y in zip(xs, ys):
                if n == model.max_points:
                    break
                start = time.perf_counter()
                stream.add_point(x, y)
                stream_ms.append(1000 * (time.perf_counter() - start))
                n += 1
                so_far = strokes[:n].copy()
                so_far[-1, 2] = 1.0
                start = time.perf_counter()
                model.predict_strokes([so_far])
                rerun_ms.append(1000 * (time.perf_counter() - start))
                position.append(n)
            stream.end_stroke()
    position = np.array(position)
    result = {"drawings": len(drawings), "points": len(position)}
    for name, times in (("stream", np.array(stream_ms)), ("rerun", np.array(rerun_ms))):
        result[name] = dict(
            median=float(np.median(times)),
            p99=float(np.percentile(times, 99)),
            early=float(np.median(times[position <= 32])),
            late=float(np.median(times[position > 128])),
        )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "torch", "tensorflow"])
    parser.add_argument("--per-class", type=int, default=3, help="drawings per class (12 classes)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.per_class)))
        return
    print(f"{'backend':<11} {'path':<7} {'median ms':>10} {'p99 ms':>8} {'points 1-32':>12} {'points 129-256':>15}")
    for backend in args.backends:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--per-class", str(args.per_class)],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(f"{backend} run failed:\n{out.stderr[-3000:]}")
        result = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
        for name in ("stream", "rerun"):
            r = result[name]
            print(
                f"{backend:<11} {name:<7} {r['median']:>10.3f} {r['p99']:>8.3f} {r['early']:>12.3f} {r['late']:>15.3f}"
            )
    print(f"({result['drawings']} real drawings, {result['points']} points, per-point latency in milliseconds)")


if __name__ == "__main__":
    main()
