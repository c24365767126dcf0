"""QD-35 fine-tuned from the shipped 345-class model, against the shipped QD-35 model trained from scratch.

Runs `sketchkeras train qd35 --from quickdraw345` (the qd35 recipe: 400 bundled drawings per class, the
recipe's seeded split), then scores it and the shipped `qd35` model (the same recipe from scratch) on the
same drawings:

* the recipe's test split, which neither QD-35 model trained on. The 345-class model did train on some
  of it (it was trained on all the shared drawings outside its own test and validation splits), so
* also the part of that test split the 345-class model never saw either: the drawings whose identity
  (`key_id`, or the strokes themselves) is outside its training split.

    KERAS_BACKEND=jax python benchmarks/qd35_from_345.py --shared ../shared/quickdraw --out /tmp/qd35-from-345

About 5 minutes of CPU, most of it the fine-tuning run.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import sketchkeras  # noqa: E402
from sketchkeras.pipeline import RECIPES, run_training  # noqa: E402


def _unseen_by_345(test, shared):
    """The rows of `test` that share no drawing identity with the shipped 345-class model's training split."""
    recipe = RECIPES["quickdraw345"]
    dataset = sketchkeras.load_quickdraw([shared / "simplified", shared / "raw", shared / "sketchrnn"])
    train = sketchkeras.split_dataset(
        dataset, validation_size=recipe["validation_size"], test_size=recipe["test_size"], seed=recipe["seed"]
    )["train"]
    return sketchkeras.exclude_drawings(test, train)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/quickdraw"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    recipe = RECIPES["qd35"]
    summary = run_training(run_dir=args.out, pretrained="quickdraw345", verbose=2, **recipe)
    tuned = sketchkeras.SketchClassifier.from_pretrained(summary["model_dir"])
    scratch = sketchkeras.SketchClassifier.from_preset("qd35")

    dataset = sketchkeras.load_quickdraw(
        recipe["source"], classes=recipe["classes"], max_per_class=recipe["max_per_class"]
    )
    test = sketchkeras.split_dataset(dataset, seed=recipe["seed"])["test"]
    clean = _unseen_by_345(test, args.shared)
    print(f"QD-35 test split: {test.num_rows} drawings; {clean.num_rows} of them outside the 345 model's training")
    print("| model | test split top-1 / MAP@3 | never seen by either stage top-1 / MAP@3 |")
    print("|---|---|---|")
    for name, model in (("qd35 from scratch (shipped)", scratch), ("qd35 --from quickdraw345", tuned)):
        whole, part = (sketchkeras.evaluate_classifier(model, d) for d in (test, clean))
        print(f"| {name} | {whole['top1']:.3f} / {whole['map3']:.3f} | {part['top1']:.3f} / {part['map3']:.3f} |")


if __name__ == "__main__":
    main()
