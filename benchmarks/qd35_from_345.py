"""QD-35 fine-tuned from the shipped 345-class model, against the shipped QD-35 model trained from scratch.

Runs `sketchkeras train qd35 --from quickdraw345` (the qd35 recipe: 400 bundled drawings per class, the
recipe's seeded split), then scores it and the shipped `qd35` model (the same recipe from scratch) on the
recipe's test split. No model involved trained on those drawings: `recipes/pretrained345.py` keeps the
qd35 recipe's validation and test drawings out of both stages of the 345-class model.

    KERAS_BACKEND=jax python benchmarks/qd35_from_345.py --out /tmp/qd35-from-345

About 5 minutes of CPU, most of it the fine-tuning run.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import sketchkeras  # noqa: E402
from sketchkeras.pipeline import RECIPES, run_splits, run_training  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    recipe = RECIPES["qd35"]
    summary = run_training(run_dir=args.out, pretrained="quickdraw345", verbose=2, **recipe)
    tuned = sketchkeras.SketchClassifier.from_pretrained(summary["model_dir"])
    scratch = sketchkeras.SketchClassifier.from_preset("qd35")

    test = run_splits(recipe)["test"]
    print(f"QD-35 test split: {test.num_rows} drawings")
    print("| model | top-1 | top-3 | MAP@3 |")
    print("|---|---|---|---|")
    for name, model in (("qd35 from scratch (shipped)", scratch), ("qd35 --from quickdraw345", tuned)):
        metrics = sketchkeras.evaluate_classifier(model, test)
        print(f"| {name} | {metrics['top1']:.3f} | {metrics['top3']:.3f} | {metrics['map3']:.3f} |")


if __name__ == "__main__":
    main()
