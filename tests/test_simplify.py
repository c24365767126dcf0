"""simplify_drawing against Google's own raw -> simplified pairs, plus edge cases."""

import doctest
import json

import numpy as np
import pytest

from sketchkeras import simplify
from sketchkeras.simplify import rdp, simplify_drawing


@pytest.fixture(scope="module")
def google_pairs(quickdraw_dir):
    """Every (raw, simplified) drawing pair that shares a key_id."""
    pairs = []
    for raw_file in sorted((quickdraw_dir / "raw").glob("*.ndjson")):
        raw = {}
        for line in raw_file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            raw[record.get("key_id")] = record["drawing"]
        raw.pop(None, None)
        simplified_file = quickdraw_dir / "simplified" / raw_file.name
        for line in simplified_file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("key_id") in raw:
                pairs.append((raw[record["key_id"]], record["drawing"]))
    return pairs


def _nearest_point_distance(ours, google):
    """Symmetric mean distance from each point to the other drawing's nearest point."""
    a = np.concatenate([np.array(stroke).T for stroke in ours]).astype(float)
    b = np.concatenate([np.array(stroke).T for stroke in google]).astype(float)
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return (d.min(axis=1).mean() + d.min(axis=0).mean()) / 2


def test_matches_google_simplified_files(google_pairs):
    n = len(google_pairs)
    same_strokes = same_counts = identical = 0
    distances = []
    for raw, google in google_pairs:
        ours = simplify_drawing(raw)
        same_strokes += len(ours) == len(google)
        same_counts += [len(s[0]) for s in ours] == [len(s[0]) for s in google]
        identical += ours == google
        distances.append(0.0 if ours == google else _nearest_point_distance(ours, google))
    distances = np.array(distances)
    print(
        f"\n{n} pairs: same stroke count {same_strokes / n:.4%}, "
        f"same points per stroke {same_counts / n:.4%}, identical {identical / n:.4%} "
        f"({identical}/{n}); nearest-point distance mean {distances.mean():.5f} px, "
        f"p95 {np.percentile(distances, 95):.5f} px, max {distances.max():.3f} px"
    )
    assert n == 6257
    assert same_strokes == n
    assert same_counts / n > 0.9998  # measured 6256/6257
    assert identical / n > 0.9996  # measured 6255/6257
    assert distances.mean() < 0.0001  # measured 0.00003 px
    assert np.percentile(distances, 95) == 0
    assert distances.max() < 0.15  # measured 0.116 px


def test_single_point_stroke_becomes_two_equal_points():
    assert simplify_drawing([[[0, 100], [0, 50]], [[50], [25]]]) == [
        [[0, 255], [0, 128]],
        [[128, 128], [64, 64]],
    ]


def test_rounds_half_to_even_like_google():
    # 253 * 255 / 510 == 126.5 exactly: Google's files round such values to even.
    assert simplify_drawing([[[0, 510], [0, 0]], [[253], [0]]])[1] == [[126, 126], [0, 0]]


def test_drawing_without_extent_does_not_divide_by_zero():
    with np.errstate(all="raise"):
        result = simplify_drawing([[[3, 3, 3], [4, 4, 4]], [[3], [4]]])
    assert result == [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]


def test_timestamps_are_ignored_and_output_is_plain_json_ints():
    with_times = [[[10.5, 40, 80], [7, 90.25, 12], [0, 20, 45]], [[60, 61], [3, 3], [70, 90]]]
    without = [stroke[:2] for stroke in with_times]
    result = simplify_drawing(with_times)
    assert result == simplify_drawing(without)
    assert json.loads(json.dumps(result)) == result
    values = [v for stroke in result for axis in stroke for v in axis]
    assert all(type(v) is int for v in values) and min(values) == 0 and max(values) == 255


def test_deterministic_and_leaves_input_alone(google_pairs):
    raw = google_pairs[0][0]
    copy = json.loads(json.dumps(raw))
    assert simplify_drawing(raw) == simplify_drawing(raw)
    assert raw == copy


@pytest.mark.parametrize("drawing", [[], [[[1, 2], [1, 2]], [[], []]], [[[1, 2]]]])
def test_empty_or_malformed_drawing_is_rejected(drawing):
    with pytest.raises(ValueError, match="strokes"):
        simplify_drawing(drawing)


def test_rdp_keeps_ends_and_corners():
    square = [[0, 0], [5, 0.5], [10, 0], [10, 10], [0, 10], [0, 0]]
    assert rdp(square, 2.0).tolist() == [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    assert rdp([[4, 4]], 2.0).tolist() == [[4, 4]]


def test_docstring_examples():
    assert doctest.testmod(simplify).failed == 0


def test_finite_but_extreme_coordinates_simplify_like_ordinary_ones(google_pairs):
    raw, _ = google_pairs[0]
    points = np.concatenate([np.asarray(stroke[:2], float).T for stroke in raw])
    centre = np.rint((points.max(0) + points.min(0)) / 2)
    half = np.abs(points - centre).max()
    scale = 2.0 ** np.floor(np.log2(1.79e308 / half))  # a power of two: exact; differences now overflow float64
    huge = [[((np.asarray(s[axis], float) - centre[axis]) * scale).tolist() for axis in (0, 1)] for s in raw]
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.ptp(np.concatenate([np.asarray(h[:2]).T for h in huge]), axis=0)).all()
    ours, expected = simplify_drawing(huge), simplify_drawing(raw)
    assert [len(s[0]) for s in ours] == [len(s[0]) for s in expected]
    assert _nearest_point_distance(ours, expected) < 0.05
    assert simplify_drawing([[[0, 1e-320], [0, 0]]]) == simplify_drawing([[[7, 7], [9, 9]]]) == [[[0, 0], [0, 0]]]
