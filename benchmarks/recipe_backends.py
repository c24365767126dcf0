"""The QD-35 recipe under each Keras backend: the README's per-backend table.

Runs `sketchkeras train qd35` once per backend, one after another, each in
its own process (a backend is chosen when Keras is imported), with the
recipe's seed and split, then prints the Markdown table from each run's
metrics.json: test top-1, top-3, MAP@3 and the training time.

Run: python benchmarks/recipe_backends.py [--backends jax torch tensorflow] [--out runs/backends]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    backends = ["jax", "torch", "tensorflow"]
    parser.add_argument("--backends", nargs="+", default=backends, choices=backends, help="default: all three")
    parser.add_argument("--out", type=Path, help="keep each backend's run directory here (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp())
    rows = []
    for backend in args.backends:
        run_dir = out / backend
        command = [sys.executable, "-m", "sketchkeras", "train", "qd35", "--out", str(run_dir), "--quiet"]
        print(f"KERAS_BACKEND={backend} {' '.join(command[1:])}", file=sys.stderr, flush=True)
        subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}, check=True)
        summary = json.loads((run_dir / "metrics.json").read_text())
        metrics, training = summary["metrics"], summary["training"]
        rows.append(
            f"| {backend} | {metrics['top1']:.3f} | {metrics['top3']:.3f} | {metrics['map3']:.3f} "
            f"| {training['train_seconds']:.0f} ({training['epochs']} epochs) |"
        )
    print("| backend | top-1 | top-3 | MAP@3 | train s |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
