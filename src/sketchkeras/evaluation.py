"""Evaluating a classifier: top-k accuracy, MAP@3, per-class accuracy, confusion, early recognition.

Example:
>>> import numpy as np
>>> probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
>>> scores = score_predictions(probabilities, np.array([0, 1, 1]), ["a", "b", "c"])
>>> round(scores["top1"], 4), round(scores["top3"], 4), round(scores["map3"], 4)
(0.3333, 1.0, 0.6667)
"""

import math

import numpy as np

from sketchkeras.data import stroke_arrays


def predict_dataset(model, dataset):
    """Class probabilities `(rows, classes)` for every drawing of a stroke dataset.

    Example:
    >>> import sketchkeras
    >>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat"], max_per_class=5)
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "dog"])
    >>> predict_dataset(model, ds).shape
    (5, 2)
    """
    return model.predict_strokes(stroke_arrays(dataset))


def score_predictions(probabilities, labels, names):
    """top-1/3/5 accuracy, MAP@3 (Kaggle's Quick, Draw! metric) and per-class accuracy.

    Args:
        probabilities: `(drawings, classes)` finite scores, one column per name.
        labels: the true class of each drawing, an integer id into `names`.
        names: the class names.

    Returns a dict: `top1`, `top3`, `top5`, `map3` (floats), `test_drawings`,
    `per_class` (name → top-1 accuracy, for the classes that have drawings),
    `balanced_top1` (their mean: every class weighs the same, however many
    drawings it has) and `confusion`, a list of lists in which `confusion[true][predicted]`
    counts the drawings of class `true` whose first guess is `predicted`
    (rows are true classes, columns first guesses). Guesses are ranked by
    score; equal scores rank in class order, as `numpy.argmax` picks.

    Raises:
        ValueError: no drawings, shapes that disagree, non-finite scores or
            labels that are not integer ids of `names`.

    Example:
    >>> probabilities = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]]
    >>> scores = score_predictions(probabilities, [0, 1, 1], ["a", "b", "c"])
    >>> scores["per_class"], scores["confusion"]
    ({'a': 1.0, 'b': 0.0}, [[1, 0, 0], [1, 0, 1], [0, 0, 0]])
    >>> round(scores["top1"], 3), scores["balanced_top1"]
    (0.333, 0.5)
    """
    hit_rank, first_guess, labels = _ranks(probabilities, labels, names)
    per_class = {
        name: float(np.mean(hit_rank[labels == i] == 0)) for i, name in enumerate(names) if np.any(labels == i)
    }
    confusion = np.zeros((len(names), len(names)), dtype=int)
    np.add.at(confusion, (labels, first_guess), 1)
    return {
        "top1": float(np.mean(hit_rank < 1)),
        "top3": float(np.mean(hit_rank < 3)),
        "top5": float(np.mean(hit_rank < 5)),
        "map3": float(np.mean(np.where(hit_rank < 3, 1.0 / (hit_rank + 1), 0.0))),
        "balanced_top1": float(np.mean(list(per_class.values()))),
        "test_drawings": int(len(labels)),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def _ranks(probabilities, labels, names):
    """The checked inputs' 0-based rank of each true label, first guesses and labels as an int array."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(names):
        raise ValueError(f"probabilities must have shape (drawings, {len(names)}), got {probabilities.shape}")
    if labels.shape != probabilities.shape[:1]:
        raise ValueError(f"{probabilities.shape[0]} rows of probabilities but labels of shape {labels.shape}")
    if len(labels) == 0:
        raise ValueError("no drawings to score")
    if not np.all(np.isfinite(probabilities)):
        raise ValueError(f"probabilities of {np.sum(~np.isfinite(probabilities).all(axis=1))} drawings are NaN or inf")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
    bad = labels[(labels < 0) | (labels >= len(names))]
    if bad.size:
        raise ValueError(f"labels must be ids 0..{len(names) - 1} of the names, got {sorted(set(bad.tolist()))}")
    ranking = np.argsort(-probabilities, axis=1, kind="stable")
    return np.argmax(ranking == labels[:, None], axis=1), ranking[:, 0], labels


def evaluate_classifier(model, dataset):
    """Scores `model` on a stroke dataset (see `score_predictions`).

    Example:
    >>> import sketchkeras
    >>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "dog"], max_per_class=4)
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "dog"])
    >>> evaluate_classifier(model, ds)["top5"]
    1.0
    """
    return score_predictions(predict_dataset(model, dataset), dataset["word"], model.labels)


EARLY_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def early_recognition(model, dataset, fractions=EARLY_FRACTIONS):
    """Top-1 accuracy when only the first part of each drawing's points is drawn.

    A drawing of `n` points is cut after its first `ceil(fraction * n)`
    points, pen lifted on the last one, in the whole drawing's frame: what
    `SketchStream` guesses at that moment when framed by the drawing's
    bounding box. At `fraction=1` this is `evaluate_classifier`'s top-1.

    Returns `{fraction: top-1 accuracy}`.

    Example:
    >>> import sketchkeras
    >>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat"], max_per_class=4)
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "dog"])
    >>> curve = early_recognition(model, ds, fractions=(0.5, 1.0))
    >>> list(curve), curve[1.0] == evaluate_classifier(model, ds)["top1"]
    ([0.5, 1.0], True)
    """
    strokes = stroke_arrays(dataset)
    labels = np.asarray(dataset["word"])
    curve = {}
    for fraction in fractions:
        cut = [_first_points(drawing, max(1, math.ceil(fraction * len(drawing)))) for drawing in strokes]
        hit_rank, _, _ = _ranks(model.predict_strokes(cut), labels, model.labels)
        curve[fraction] = float(np.mean(hit_rank == 0))
    return curve


def _first_points(strokes, count):
    cut = strokes[:count].copy()
    cut[-1, 2] = 1.0  # the pen is up after the last point drawn so far
    return cut
