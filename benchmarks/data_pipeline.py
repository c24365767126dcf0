"""Drawings per second from Google ndjson on disk to ready training batches.

Side by side, in one run, on the same real QD-35 files (simplified ndjson):

* sketchkeras: `load_quickdraw` (parse, validate, canonicalise into an Arrow
  backed `datasets.Dataset`) then every batch of `StrokeBatches`
  (bucketed, batch 64);
* naive: `json.loads` per line, a numpy array per drawing (same canonical
  form), each padded to the maximum length, stacked into batches of 64.

Also prints the padding fraction with and without length bucketing.
Run: python benchmarks/data_pipeline.py   (one core: taskset -c 0 python ...)
"""

import json
import time
from pathlib import Path

import numpy as np

import sketchkeras

QUICKDRAW = Path(__file__).resolve().parents[2] / "shared" / "quickdraw"
MAX_POINTS = 256


def sketchkeras_pipeline(files, classes):
    dataset = sketchkeras.load_quickdraw(files, classes=classes)
    batches = sketchkeras.StrokeBatches(dataset, batch_size=64, max_points=MAX_POINTS)
    for i in range(len(batches)):
        batches[i]
    return dataset, batches


def naive_pipeline(files, classes):
    label_ids = {name: i for i, name in enumerate(classes)}
    drawings, labels = [], []
    for path in files:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            points = np.concatenate([np.array(stroke, dtype=np.float32).T for stroke in record["drawing"]])
            pen = np.zeros(len(points), np.float32)
            pen[np.cumsum([len(stroke[0]) for stroke in record["drawing"]]) - 1] = 1
            points = (points - points.min(0)) / max(float((points.max(0) - points.min(0)).max()), 1.0)
            offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2), np.float32))
            drawing = np.zeros((MAX_POINTS, 3), np.float32)
            n = min(len(points), MAX_POINTS)
            drawing[:n, :2], drawing[:n, 2] = offsets[:n], pen[:n]
            drawings.append(drawing)
            labels.append(label_ids[record["word"]])
    for start in range(0, len(drawings), 64):
        np.stack(drawings[start : start + 64]), np.array(labels[start : start + 64])
    return len(drawings)


def main():
    classes = sketchkeras.qd35_classes()
    files = [QUICKDRAW / "simplified" / f"{word}.ndjson" for word in classes]
    start = time.perf_counter()
    n = naive_pipeline(files, classes)
    naive = n / (time.perf_counter() - start)
    start = time.perf_counter()
    dataset, batches = sketchkeras_pipeline(files, classes)
    ours = dataset.num_rows / (time.perf_counter() - start)
    lengths = batches.lengths
    shuffled = np.random.default_rng(0).permutation(lengths)  # unbucketed shuffled batches
    per_batch = sum(shuffled[i : i + 64].max() * len(shuffled[i : i + 64]) for i in range(0, len(shuffled), 64))
    print(f"{dataset.num_rows} real QD-35 drawings from {len(files)} simplified ndjson files\n")
    print(f"{'pipeline':<40} {'drawings/s':>12}")
    print(f"{'naive (json.loads + per-drawing pad)':<40} {naive:>12,.0f}")
    print(f"{'sketchkeras (datasets + StrokeBatches)':<40} {ours:>12,.0f}")
    print(f"\n{'padding':<40} {'fraction':>12}")
    print(f"{'pad every drawing to 256':<40} {1 - lengths.sum() / (MAX_POINTS * len(lengths)):>12.3f}")
    print(f"{'pad each batch to its longest':<40} {1 - shuffled.sum() / per_batch:>12.3f}")
    print(f"{'length buckets (StrokeBatches)':<40} {batches.padding_fraction():>12.3f}")


if __name__ == "__main__":
    main()
