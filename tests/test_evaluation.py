"""Metrics against values worked out by hand, and against the classifier's own ranking on real drawings."""

import json

import numpy as np
import pytest

from sketchkeras import SketchClassifier, bundled_model_dir, load_quickdraw
from sketchkeras.evaluation import early_recognition, evaluate_classifier, score_predictions

NAMES = ["a", "b", "c", "d", "e", "f"]
# Six drawings of six classes. For each: the true label, the ranking by hand (equal scores in class order)
# and the 0-based rank of the true label in it.
PROBABILITIES = [
    [0.50, 0.20, 0.10, 0.10, 0.05, 0.05],  # true a; a b c d e f       -> rank 0
    [0.10, 0.40, 0.30, 0.10, 0.05, 0.05],  # true c; b c a d e f       -> rank 1
    [0.30, 0.25, 0.20, 0.15, 0.06, 0.04],  # true d; a b c d e f       -> rank 3
    [0.05, 0.05, 0.10, 0.20, 0.25, 0.35],  # true a; f e d c a b (tie) -> rank 4
    [0.10, 0.10, 0.10, 0.10, 0.10, 0.50],  # true b; f a b c d e (tie) -> rank 2
    [0.30, 0.30, 0.10, 0.10, 0.10, 0.10],  # true b; a b c d e f (tie) -> rank 1
]
LABELS = [0, 2, 3, 0, 1, 1]


def test_scores_equal_the_values_worked_out_by_hand():
    scores = score_predictions(np.array(PROBABILITIES, dtype=np.float32), np.array(LABELS), NAMES)
    assert scores["top1"] == 1 / 6  # rank 0 once
    assert scores["top3"] == 4 / 6  # ranks 0, 1, 2, 1
    assert scores["top5"] == 1.0  # every rank is below 5
    assert scores["map3"] == pytest.approx((1 + 1 / 2 + 0 + 0 + 1 / 3 + 1 / 2) / 6, abs=1e-12)
    assert scores["test_drawings"] == 6
    # Classes e and f have no drawing: they are left out. b's first guesses are f and a (a wins the tie).
    assert scores["per_class"] == {"a": 0.5, "b": 0.0, "c": 0.0, "d": 0.0}
    # Rows are the true class, columns the first guess: c's drawing was guessed b, no b drawing was guessed c.
    assert scores["confusion"] == [
        [1, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 1],
        [0, 1, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]


def test_plain_lists_score_as_arrays():
    assert score_predictions(PROBABILITIES, LABELS, NAMES) == score_predictions(np.array(PROBABILITIES), LABELS, NAMES)


@pytest.mark.parametrize(
    ("probabilities", "labels", "message"),
    [
        (PROBABILITIES, [0, 2, 3, 0, 1, 6], r"labels must be ids 0\.\.5 of the names, got \[6\]"),
        (PROBABILITIES, [0, 2, 3, 0, 1, -1], r"labels must be ids 0\.\.5 of the names, got \[-1\]"),
        (PROBABILITIES, ["a", "c", "d", "a", "b", "b"], "labels must be integer class ids, got dtype <U1"),
        (PROBABILITIES, [0.0, 2.0, 3.0, 0.0, 1.0, 1.0], "labels must be integer class ids, got dtype float64"),
        (PROBABILITIES, LABELS[:5], r"6 rows of probabilities but labels of shape \(5,\)"),
        ([row[:5] for row in PROBABILITIES], LABELS, r"probabilities must have shape \(drawings, 6\), got \(6, 5\)"),
        (PROBABILITIES[0], [0], r"probabilities must have shape \(drawings, 6\), got \(6,\)"),
        (np.zeros((0, 6)), np.zeros(0, int), "no drawings to score"),
        ([PROBABILITIES[0], [np.nan] * 6, *PROBABILITIES[2:]], LABELS, "probabilities of 1 drawings are NaN or inf"),
    ],
)
def test_inputs_that_would_score_wrongly_are_refused(probabilities, labels, message):
    with pytest.raises(ValueError, match=message):
        score_predictions(probabilities, labels, NAMES)


@pytest.fixture(scope="module")
def model():
    """The bundled QD-35 classifier."""
    return SketchClassifier.from_pretrained(bundled_model_dir())


def test_real_drawings_score_as_the_classifier_ranks_them(model, quickdraw_dir):
    words = ("cat", "bicycle", "owl")
    lines = {w: (quickdraw_dir / "simplified" / f"{w}.ndjson").read_text().splitlines()[:15] for w in words}
    drawings = [json.loads(line)["drawing"] for word in lines for line in lines[word]]
    truth = [model.labels.index(word) for word in lines for _ in lines[word]]
    files = [quickdraw_dir / "simplified" / f"{w}.ndjson" for w in lines]
    dataset = load_quickdraw(files, classes=model.labels, max_per_class=15)
    assert dataset["word"] == truth
    metrics = evaluate_classifier(model, dataset)
    guesses = model.predict_drawings(drawings, top_k=len(model.labels))
    ranks = np.array([[label for label, _ in row].index(model.labels[t]) for row, t in zip(guesses, truth)])
    assert metrics["top1"] == np.mean(ranks == 0) and metrics["top3"] == np.mean(ranks < 3)
    assert metrics["top5"] == np.mean(ranks < 5)
    assert metrics["map3"] == pytest.approx(np.mean([1 / (r + 1) if r < 3 else 0 for r in ranks]), abs=1e-12)
    assert metrics["per_class"] == {w: np.mean(ranks[np.array(truth) == model.labels.index(w)] == 0) for w in lines}
    confusion = np.array(metrics["confusion"])
    for w in lines:
        first = [model.labels.index(row[0][0]) for row, t in zip(guesses, truth) if t == model.labels.index(w)]
        assert confusion[model.labels.index(w)].tolist() == np.bincount(first, minlength=len(model.labels)).tolist()
    assert confusion.sum() == 45 and metrics["top1"] > 0.5  # far above chance (1 in 35)
    assert early_recognition(model, dataset, fractions=(1.0,)) == {1.0: metrics["top1"]}
