"""The full-data path at 1x and 20x the shared drawings: conversion, input pipeline, a long run killed and resumed.

Google's full data (50M drawings) cannot be reached from here, so the scale
corpus is made of the real shared drawings (../shared/quickdraw: 43,294
simplified, 7,593 raw, 9,605 sketch-rnn) repeated `--copies` times. It is a
benchmark-only corpus, not data to train on: copy 0 is Google's files as
they are; in copy r >= 1 every ndjson record gets a fresh `key_id` (its own
followed by r as two digits, so a raw drawing and its simplified twin stay
twins; a record without one gets `"r{r}:{file}:{line}"`), and each sketch-rnn
member is repeated (sketch-rnn drawings carry no identity). Each class keeps
one file per format, as Google's do, holding all its copies.

For each scale (1 copy, then `--copies`), printed side by side:

* conversion of the whole corpus (all three formats): drawings/s and the
  peak RSS of the largest process, for `convert_quickdraw` with 1 and N
  workers and for the 0.1 converter (`load_quickdraw` + `split_dataset` +
  `Dataset.to_parquet`, everything in memory; measured as the baseline);
  then each format alone with 1 worker (a raw drawing is about 8x the bytes
  of a simplified one); each in a fresh process;
* the input pipeline on the converted train split, as `recipes/
  quickdraw345.py` reads it (`stream_quickdraw` + `stream_batches`, batch
  256): drawings/s with 1 and N workers, next to the 0.1 row path
  (`data_pipeline.rows_path`), each the median of 3 runs after a warm-up;
  for the corpus of all three formats, for its simplified files alone
  (Google's full 50M as most users take it: raw drawings cost Google's
  simplification, about a millisecond each, when they are read), and for
  those simplified files streamed as Google's ndjson, unconverted;
* at the largest scale, `recipes/quickdraw345.py` for `--steps` steps
  (batch 64, checkpoints every `--steps / 4`) killed with SIGKILL after its
  second checkpoint and resumed: the steps done and the history of the
  resumed run against an uninterrupted one.

Run: python benchmarks/scale.py [--copies 20] [--steps 2000]   (about 25 minutes here)
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

QUICKDRAW = Path(os.environ.get("SKETCHKERAS_QUICKDRAW", Path(__file__).resolve().parents[2] / "shared" / "quickdraw"))
HERE = Path(__file__).resolve().parent
KEY_ID = re.compile(rb'"key_id":\s*"(\d+)"')
FORMATS = ("simplified", "raw", "sketchrnn")


def build_corpus(out, copies):
    """The shared drawings `copies` times over, under fresh identities (see the module docstring)."""
    from sketchkeras import load_sketchrnn_npz

    for folder in ("simplified", "raw"):
        (out / folder).mkdir(parents=True)
        for path in sorted((QUICKDRAW / folder).glob("*.ndjson")):
            lines = path.read_bytes().splitlines()
            with open(out / folder / path.name, "wb") as file:
                for copy in range(copies):
                    for number, line in enumerate(lines, start=1):
                        file.write(_fresh(line, copy, path.name, number) + b"\n")
    (out / "sketchrnn").mkdir()
    for path in sorted((QUICKDRAW / "sketchrnn").glob("*.npz")):
        members = load_sketchrnn_npz(path)
        repeated = {name: _objects(list(drawings) * copies) for name, drawings in members.items()}
        np.savez(out / "sketchrnn" / path.name, **repeated)
    return out


def _fresh(line, copy, name, number):
    if copy == 0:
        return line
    if KEY_ID.search(line):
        return KEY_ID.sub(lambda m: b'"key_id":"' + m.group(1) + b"%02d" % copy + b'"', line, count=1)
    return b'{"key_id":"r%d:%s:%d",' % (copy, name.encode(), number) + line[1:]


def _objects(drawings):
    array = np.empty(len(drawings), dtype=object)
    array[:] = drawings
    return array


def drawings_in(folder):
    """The drawings of one format's folder of the corpus."""
    from sketchkeras import load_sketchrnn_npz

    if folder.name == "sketchrnn":
        return sum(len(d) for p in folder.glob("*.npz") for d in load_sketchrnn_npz(p).values())
    return sum(p.read_bytes().count(b"\n") for p in folder.glob("*.ndjson"))


CONVERT = """
import sys, time
import sketchkeras
kind, source, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
if kind == "0.1":
    from pathlib import Path
    splits = sketchkeras.split_dataset(sketchkeras.load_quickdraw(source))
    (Path(out) / "data").mkdir(parents=True)
    for name, split in splits.items():
        split.to_parquet(Path(out) / "data" / f"{name}-00000-of-00001.parquet")
else:
    sketchkeras.convert_quickdraw(source, out, workers=workers)
print("RESULT", time.perf_counter() - start)
"""


def convert(kind, source, out, workers):
    """(seconds, peak GB) of one conversion in a fresh process.

    The peak is the largest `VmHWM` (peak resident set) among the process
    and its descendants (the workers), read from /proc every 50 ms.
    `getrusage(RUSAGE_CHILDREN)` would not do: importing TensorFlow forks
    `uname -p`, and a forked child counts its parent's pages as its own.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", CONVERT, kind, str(source), str(out), str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output = []
    reader = threading.Thread(target=lambda: output.extend(process.communicate()))
    reader.start()
    peak = 0
    while reader.is_alive():
        peak = max([peak, *(_peak_kib(pid) for pid in _tree(process.pid))])
        time.sleep(0.05)
    stdout, stderr = output
    if process.returncode:
        sys.exit(f"{kind} conversion failed:\n{stderr[-3000:]}")
    seconds = next(line for line in stdout.splitlines() if line.startswith("RESULT")).split()[1]
    return float(seconds), peak / 2**20


def _tree(pid):
    """`pid` and its living descendants."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in _tree(int(child)))]


def _peak_kib(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def pipeline(dataset, workers, repeats=3, drawings=100_000):
    """Median drawings/s (after a warm-up) of batches of 256 from the train split; workers=0: the 0.1 row path."""
    sys.path.insert(0, str(HERE))
    from data_pipeline import measure, rows_path

    from sketchkeras.streaming import stream_batches, stream_quickdraw

    stream = stream_quickdraw(dataset, split="train")
    make = (lambda: rows_path(stream)) if workers == 0 else (lambda: stream_batches(stream, 256, workers=workers))
    return measure(make, drawings if workers else drawings // 10, repeats)[1]


def long_run(dataset, folder, steps):
    """An uninterrupted quickdraw345 run, and one SIGKILLed after its second checkpoint then resumed."""
    recipe = [sys.executable, str(HERE.parent / "recipes" / "quickdraw345.py"), "--data", str(dataset)]
    recipe += ["--steps", str(steps), "--checkpoint-every", str(steps // 4), "--batch-size", "64"]
    recipe += ["--max-points", "128", "--validation-drawings", "2048", "--test-drawings", "5000"]
    results = {}
    whole = folder / "whole"
    start = time.perf_counter()
    subprocess.run([*recipe, "--out", str(whole)], check=True, capture_output=True)
    results["whole_seconds"] = time.perf_counter() - start
    killed = folder / "killed"
    process = subprocess.Popen([*recipe, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not _checkpoints(killed) >= 2:
        if process.poll() is not None:
            sys.exit("the run ended before it could be killed")
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    results["killed_after"] = _checkpoints(killed) * (steps // 4)
    start = time.perf_counter()
    subprocess.run([*recipe, "--out", str(killed), "--resume"], check=True, capture_output=True)
    results["resume_seconds"] = time.perf_counter() - start
    for name, run in (("whole", whole), ("resumed", killed)):
        summary = json.loads((run / "metrics.json").read_text())
        results[name] = {"steps": summary["run"]["steps"], "loss": summary["history"]["loss"]}
        results[name]["top1"] = summary["metrics"]["top1"]
    return results


def _checkpoints(run):
    state = run / "state.json"
    try:
        return json.loads(state.read_text())["epochs_done"]
    except (OSError, ValueError, KeyError):
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    n = args.workers
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for copies in (1, args.copies):
            corpus = build_corpus(folder / f"corpus{copies}", copies)
            counts = {f: drawings_in(corpus / f) for f in FORMATS}
            total = sum(counts.values())
            print(f"\n## {copies}x: {total:,} drawings (Google's files{' repeated' if copies > 1 else ''})\n")
            print(f"{'conversion':<34} {'drawings/s':>11} {'peak RSS GB':>12}")
            for label, kind, workers in (("0.1 (in memory)", "0.1", 1), ("convert, 1 worker", "new", 1)):
                seconds, peak = convert(kind, corpus, folder / f"{kind}{copies}w{workers}", workers)
                print(f"{label:<34} {total / seconds:>11,.0f} {peak:>12.2f}", flush=True)
            seconds, peak = convert("new", corpus, folder / f"out{copies}", n)
            print(f"{f'convert, {n} workers':<34} {total / seconds:>11,.0f} {peak:>12.2f}", flush=True)
            for name in FORMATS:
                seconds, peak = convert("new", corpus / name, folder / f"{name}{copies}", 1)
                megabytes = sum(p.stat().st_size for p in (corpus / name).iterdir()) / 2**20
                label = f"  {name} only, 1 worker"
                print(f"{label:<34} {counts[name] / seconds:>11,.0f} {peak:>12.2f}   ({megabytes / seconds:.0f} MB/s)")
            dataset = folder / f"out{copies}"
            print(f"\n{'pipeline (train split, batch 256)':<34} {'drawings/s':>11}")
            print(f"{'0.1 row path, all formats':<34} {pipeline(dataset, 0):>11,.0f}", flush=True)
            sources = (
                ("all formats", dataset),
                ("simplified only", folder / f"simplified{copies}"),
                ("simplified ndjson", corpus / "simplified"),
            )
            for name, converted in sources:
                for workers in (1, n):
                    label = f"stream_batches, {name}, {workers}w"
                    print(f"{label:<34} {pipeline(converted, workers):>11,.0f}", flush=True)
        results = long_run(dataset, folder, args.steps)
        whole, resumed = results["whole"], results["resumed"]
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        print(f"\n## quickdraw345 on the {args.copies}x parquet, {args.steps} steps of 64, {backend}\n")
        print(
            f"uninterrupted: {results['whole_seconds']:.0f} s, {whole['steps']} steps, test top-1 {whole['top1']:.4f}"
        )
        print(
            f"SIGKILL after {results['killed_after']} steps, then --resume: {results['resume_seconds']:.0f} s more, "
            f"{resumed['steps']} steps, test top-1 {resumed['top1']:.4f}"
        )
        same = "the same" if resumed["loss"] == whole["loss"] else "DIFFERENT"
        print(f"history (loss per checkpoint): {same}: {[round(x, 4) for x in resumed['loss']]}")


if __name__ == "__main__":
    main()
