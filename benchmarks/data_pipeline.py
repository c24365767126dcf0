"""Drawings per second from Google's files or sketchkeras' parquet to ready training batches.

Side by side, in one run, on the same real drawings (the train split of all
345 classes of ../shared/quickdraw/simplified: 34,673 drawings, read pass
after pass), into batches of 256 drawings of up to 256 points:

* the 0.1 path (measured here as the baseline): rows one at a time through
  `datasets`' shuffle buffer, padded per drawing, one queue per bucket
  length (what `stream_batches` did before it was vectorised);
* `stream_batches` with 1 and with N worker processes (N: this machine's
  cores), the path `model.fit` reads in `recipes/quickdraw345.py`;
* from Google's simplified ndjson (345 files) and from the parquet that
  `convert_quickdraw` writes of the same files (shards of 2.5 MB of ndjson
  here, so that the 34,673 drawings make 7 train shards for the workers to
  share; the full data's shards hold 256 MiB, about 570,000 drawings).

Every figure is the median of `--repeats` runs of `--drawings` drawings,
after one warm-up run of each (the file cache is warm for both sides), and
counts from the first batch on: the start (spawning the workers, which
import Keras, and opening the files) is printed apart. Also printed: the
padding fraction of the batches with and without length buckets.

Run: python benchmarks/data_pipeline.py   (one core: taskset -c 0 python ...)
"""

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import sketchkeras
from sketchkeras.streaming import stream_batches, stream_quickdraw

QUICKDRAW = Path(os.environ.get("SKETCHKERAS_QUICKDRAW", Path(__file__).resolve().parents[2] / "shared" / "quickdraw"))
BATCH, MAX_POINTS = 256, 256


def rows_path(stream, seed=0, buffer_size=10_000):
    """The 0.1 path: the stream's rows one at a time, through datasets' shuffle buffer, padded per drawing."""
    shuffled = stream.shuffle(seed=seed, buffer_size=buffer_size, max_buffer_input_shards=stream.num_shards)
    queues = {}
    for epoch in itertools.count():
        shuffled.set_epoch(epoch)
        for row in shuffled:
            strokes = np.asarray(row["strokes"], dtype=np.float32)[:MAX_POINTS]
            length = sketchkeras.bucket_length(len(strokes), MAX_POINTS)
            queue = queues.setdefault(length, [])
            queue.append((strokes, row["word"]))
            if len(queue) == BATCH:
                del queues[length]
                x, lengths = sketchkeras.pad_strokes([s for s, _ in queue], length)
                yield {"strokes": x, "lengths": lengths}, np.array([w for _, w in queue], dtype=np.int32)


def timed(make, drawings):
    """(seconds to the first batch, drawings/s after it) for `drawings` drawings of a fresh batch stream."""
    start = time.perf_counter()
    batches = make()
    next(batches)
    started = time.perf_counter()
    for _ in itertools.islice(batches, drawings // BATCH):
        pass
    rate = drawings // BATCH * BATCH / (time.perf_counter() - started)
    batches.close()  # stops the workers
    return started - start, rate


def measure(make, drawings, repeats):
    timed(make, drawings)  # warm-up
    runs = [timed(make, drawings) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=100_000, help="drawings per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="N, the workers of the last rows")
    args = parser.parse_args()
    ndjson = QUICKDRAW / "simplified"
    with tempfile.TemporaryDirectory() as folder:
        parquet = sketchkeras.convert_quickdraw(ndjson, Path(folder) / "qd", shard_size=2_500_000)
        sources = {"ndjson": ndjson, "parquet": parquet}
        streams = {name: stream_quickdraw(source, split="train") for name, source in sources.items()}
        paths = {
            "0.1 path (rows, per-drawing padding)": lambda stream: rows_path(stream),
            "stream_batches, 1 worker": lambda stream: stream_batches(stream, BATCH, MAX_POINTS),
            f"stream_batches, {args.workers} workers": lambda stream: stream_batches(
                stream, BATCH, MAX_POINTS, workers=args.workers
            ),
        }
        print(f"train split of {ndjson}: {streams['parquet'].num_shards} parquet shards, 345 ndjson files")
        print(f"{args.drawings:,} drawings a run, median of {args.repeats} after a warm-up, batches of {BATCH}\n")
        print(f"{'source':<8} {'path':<38} {'start s':>8} {'drawings/s':>11} {'vs 0.1':>7}")
        for name, stream in streams.items():
            baseline = None
            for label, path in paths.items():
                start, rate = measure(lambda: path(stream), args.drawings, args.repeats)  # noqa: B023
                baseline = baseline or rate
                print(f"{name:<8} {label:<38} {start:>8.1f} {rate:>11,.0f} {rate / baseline:>6.1f}x", flush=True)
        batches = list(itertools.islice(stream_batches(streams["parquet"], BATCH, MAX_POINTS), 200))
        lengths = np.concatenate([x["lengths"] for x, _ in batches])
        cells = sum(x["strokes"].shape[1] * BATCH for x, _ in batches)
        shuffled = np.random.default_rng(0).permutation(lengths)
        longest = sum(shuffled[i : i + BATCH].max() * BATCH for i in range(0, len(shuffled), BATCH))
        print(f"\n{'padding (200 batches)':<47} {'fraction':>8}")
        print(f"{'pad every drawing to 256':<47} {1 - lengths.sum() / (MAX_POINTS * len(lengths)):>8.3f}")
        print(f"{'pad each shuffled batch to its longest':<47} {1 - lengths.sum() / longest:>8.3f}")
        print(f"{'length buckets (stream_batches)':<47} {1 - lengths.sum() / cells:>8.3f}")


if __name__ == "__main__":
    main()
