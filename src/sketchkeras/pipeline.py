"""One training run end to end: data → split → train → evaluate → model directory.

`run_training` is what `recipes/` and `sketchkeras train` call (`run_splits`
gives the splits a run makes). Its run directory ends up holding:

* `checkpoint-<epoch>.keras`, `state.json`: resumable training state;
* `metrics.json`: test metrics, training config and history;
* `confusion_matrix.png`, `training_curves.png` and `test_sketches.png` (test
  drawings titled with their predicted labels), when matplotlib is installed;
* `model/`: the trained classifier as `save_pretrained` writes it (weights,
  labels, preprocessing and a model card built from these metrics).

Example:
>>> import tempfile, sketchkeras
>>> summary = run_training(
...     sketchkeras.bundled_sample_dir(), tempfile.mkdtemp(), classes=["cat", "owl"],
...     max_per_class=40, epochs=1, rnn_units=[16], verbose=0)
>>> sorted(summary["metrics"])[:4], summary["training"]["epochs"]
(['balanced_top1', 'confusion', 'dataset', 'map3'], 1)
"""

import importlib.util
import inspect
import json
import random
import sys
from pathlib import Path

import datasets
import keras
import numpy as np

from sketchkeras.classifier import SketchClassifier
from sketchkeras.data import (
    StrokeBatches,
    bundled_sample_dir,
    exclude_drawings,
    load_quickdraw,
    qd35_classes,
    split_dataset,
)
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.sources import is_dataset_repo
from sketchkeras.training import LEARNING_RATE, OPTIMIZER, WEIGHT_DECAY, train

# Named runs for `recipes/` and `sketchkeras train NAME`.
RECIPES = {
    # The 35-class benchmark on the bundled real sample: minutes on a laptop CPU.
    "qd35": dict(
        source=bundled_sample_dir(),
        classes=qd35_classes(),
        max_per_class=400,
        preset="default",
        epochs=30,
        batch_size=64,
        seed=0,
        dataset_name="QD-35: 400 real drawings per class from Google's Quick, Draw! (sketchkeras' bundled sample)",
    ),
    # All 345 categories from the data given (`source`): the shipped quickdraw345 model was trained by
    # `sketchkeras train quickdraw345 --data quickdraw/simplified quickdraw/raw quickdraw/sketchrnn`. Most classes
    # have 30-40 drawings and four have 2,400, so epochs are class-balanced samples, and the test split holds the
    # same number of drawings of every class.
    "quickdraw345": dict(
        classes=None,
        preset="default",
        per_class=100,
        test_size=6,
        validation_size=4,
        epochs=30,
        monitor="val_accuracy",
        patience=30,
        dropout=0.3,
        batch_size=64,
        seed=0,
        dataset_name="Quick, Draw! (Google): all 345 categories",
    ),
}


def run_training(
    source,
    run_dir,
    classes=None,
    max_per_class=None,
    preset="default",
    pretrained=None,
    epochs=30,
    batch_size=64,
    learning_rate=LEARNING_RATE,
    weight_decay=WEIGHT_DECAY,
    patience=8,
    monitor="val_loss",
    time_budget=None,
    seed=0,
    cut_fraction=0.2,
    drop_fraction=0.0,
    per_class=None,
    test_size=0.1,
    validation_size=0.1,
    exclude=None,
    resume=False,
    dataset_name=None,
    verbose="auto",
    **model_overrides,
):
    """Trains, evaluates and saves a classifier; returns the run's summary.

    Args:
        source: anything `load_quickdraw` reads (files, folders, a Hub id).
        run_dir: the run directory (see the module docstring).
        classes, max_per_class: class list and per-class cap for loading.
        preset: `SketchClassifier` preset; `model_overrides` change it.
        pretrained: fine-tune instead: any `SketchClassifier.from_pretrained`
            source (`"qd35"`, a folder, a Hub id), whose backbone is kept
            and given a head for this data's classes.
        epochs, batch_size, learning_rate, weight_decay, patience,
            monitor, time_budget, resume: see `sketchkeras.training.train`.
        seed: seeds the split, the shuffles, augmentation and weights.
        cut_fraction: share of training drawings cut short, as drawings in
            progress (see `StrokeBatches`); 0 trains on whole drawings only.
        drop_fraction: share of the points inside strokes dropped from
            training drawings at random (see `StrokeBatches`).
        per_class: class-balanced training: each epoch draws this many
            training drawings of every class (see `StrokeBatches`).
        test_size, validation_size: each class's share of the split, or
            (an int) its number of drawings: see `split_dataset`. A dataset
            repository (a Hub id, `convert_quickdraw`'s folder) keeps its own
            `train`, `validation` and `test` splits instead.
        exclude: drawings (a dataset) to keep out of training, such as another
            run's test drawings: training drawings that share a drawing
            identity with one are dropped (`exclude_drawings`). The validation
            and test splits stay as `seed` makes them.
        dataset_name: how the model card names the data (default: `source`).
        verbose: Keras' `fit` verbosity; "auto" is a progress bar when
            stdout is a terminal and one line per epoch otherwise (a log).

    Returns:
        `{"metrics": ..., "training": ..., "history": ..., "model_dir": ...}`,
        also written to `run_dir/metrics.json`.
    """
    run_dir = Path(run_dir)
    set_seed(seed)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    splits = _splits(source, classes, max_per_class, validation_size, test_size, seed, exclude)
    sizes = {name: split.num_rows for name, split in splits.items()}
    if 0 in sizes.values():
        raise ValueError(f"{source}: too few drawings for a run: its splits hold {sizes} drawings; each needs some")
    labels = splits["train"].features["word"].names
    if pretrained is None:
        model = SketchClassifier.from_preset(preset, labels=labels, **model_overrides)
    elif model_overrides:
        raise ValueError(f"a fine-tuned model keeps its architecture: {sorted(model_overrides)} cannot change")
    else:
        model = SketchClassifier.from_pretrained(pretrained, labels=labels)
    train_batches = StrokeBatches(
        splits["train"],
        batch_size,
        model.max_points,
        augment=True,
        cut_fraction=cut_fraction,
        drop_fraction=drop_fraction,
        per_class=per_class,
        seed=seed,
    )
    validation_batches = StrokeBatches(splits["validation"], 256, model.max_points, shuffle=False)
    model, history = train(
        model,
        train_batches,
        validation_batches,
        run_dir,
        epochs=epochs,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        patience=patience,
        monitor=monitor,
        time_budget=time_budget,
        resume=resume,
        verbose=verbose,
    )
    metrics = evaluate_classifier(model, splits["test"])
    metrics["dataset"] = dataset_name or str(source)
    training = {
        "backend": keras.backend.backend(),
        **({"preset": preset} if pretrained is None else {"fine_tuned_from": str(pretrained)}),
        "epochs": len(history["loss"]),
        "optimizer": OPTIMIZER,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        **({"per_class": per_class} if per_class else {}),
        **({"drop_fraction": drop_fraction} if drop_fraction else {}),
        # The split, which `sketchkeras evaluate --split` remakes (`seed` below too).
        **({"max_per_class": max_per_class} if max_per_class else {}),
        **({} if is_dataset_repo(source) else {"validation_size": validation_size, "test_size": test_size}),
        "train_drawings": splits["train"].num_rows,
        "validation_drawings": splits["validation"].num_rows,
        "train_seconds": round(sum(history["seconds"]), 1),
        "seed": seed,
    }
    model_dir = run_dir / "model"
    model.save_pretrained(model_dir, metrics=metrics, training=training)
    summary = {"metrics": metrics, "training": training, "history": history, "model_dir": str(model_dir)}
    (run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
    if importlib.util.find_spec("matplotlib"):  # the `plots` extra
        from sketchkeras.plots import plot_evaluation

        plot_evaluation(model, splits["test"], metrics, run_dir, history)
    return summary


def run_splits(settings):
    """The training, validation and test splits `run_training(**settings)` makes.

    `settings` are `run_training`'s keyword arguments, a recipe's for one
    (`source` included); those that do not shape the data are ignored. Use it
    to score a run's model on its own test split elsewhere, or to keep one
    run's held-out drawings out of another (`exclude=`).

    Example:
    >>> splits = run_splits({**RECIPES["qd35"], "classes": ["cat", "owl"], "max_per_class": 40})
    >>> {name: split.num_rows for name, split in splits.items()}
    {'train': 64, 'validation': 8, 'test': 8}
    """
    if "source" not in settings:
        raise ValueError("run_splits needs a source: the data the run reads")
    arguments = inspect.signature(run_training).bind_partial(**settings)
    arguments.apply_defaults()
    data_settings = inspect.signature(_splits).parameters
    return _splits(**{key: value for key, value in arguments.arguments.items() if key in data_settings})


def _splits(source, classes, max_per_class, validation_size, test_size, seed, exclude):
    dataset = load_quickdraw(source, classes=classes, max_per_class=max_per_class)
    if isinstance(dataset, datasets.DatasetDict):  # a dataset repository, split already
        names = ["train", "validation", "test"]
        if not set(names) <= set(dataset):
            raise ValueError(f"{source}: a run's dataset repository needs {names} splits; it has {sorted(dataset)}")
        splits = datasets.DatasetDict({name: dataset[name] for name in names})
    else:
        splits = split_dataset(dataset, validation_size=validation_size, test_size=test_size, seed=seed)
    if exclude is not None:
        splits["train"] = exclude_drawings(splits["train"], exclude)
    return splits


def fine_tuning_settings(recipe):
    """`recipe`'s settings for a run from a pretrained model: less its architecture (`preset`, `dropout`, ...).

    A recipe's architecture is for training from scratch; a pretrained model
    keeps its own, and `run_training` refuses changes to it.

    Example:
    >>> sorted(set(RECIPES["quickdraw345"]) - set(fine_tuning_settings(RECIPES["quickdraw345"])))
    ['dropout', 'preset']
    """
    settings = inspect.signature(run_training).parameters
    return {key: value for key, value in recipe.items() if key in settings and key != "preset"}


def set_seed(seed):
    """Seeds Python's `random`, NumPy and the Keras backend, importing no other framework.

    `keras.utils.set_random_seed` also seeds TensorFlow, importing it (1.7 GB)
    under JAX and PyTorch. Keras' weight initialisers and dropout draw their
    seeds from Python's `random`.

    Example:
    >>> set_seed(3); first = random.random(), np.random.rand()
    >>> set_seed(3); (random.random(), np.random.rand()) == first
    True
    """
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.random.set_seed(seed)
