"""Canonical strokes from every Google format, on real drawings, and clear errors."""

import json

import numpy as np
import pytest

from sketchkeras import DrawingError, canonical_strokes, load_sketchrnn_npz, read_ndjson


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def cats(quickdraw_dir):
    return _records(quickdraw_dir / "simplified" / "cat.ndjson")


def test_simplified_drawing_becomes_offsets_with_pen_lifts(cats):
    drawing = cats[0]["drawing"]
    x = canonical_strokes(drawing)
    points = np.concatenate([np.array(stroke[:2], dtype=float).T for stroke in drawing])
    assert x.dtype == np.float32 and x.shape == (len(points), 3)
    assert x[:, 2].sum() == len(drawing)
    assert np.flatnonzero(x[:, 2]).tolist() == (np.cumsum([len(s[0]) for s in drawing]) - 1).tolist()
    absolute = np.cumsum(x[:, :2].astype(float), axis=0)
    expected = (points - points.min(0)) / (points.max(0) - points.min(0)).max()
    np.testing.assert_allclose(absolute, expected, atol=1e-6)


def test_uniform_scale_keeps_aspect_ratio_and_is_format_invariant(cats):
    drawing = cats[1]["drawing"]
    x = canonical_strokes(drawing)
    # The same drawing scaled by 3 and shifted gives the same input.
    moved = [[[3 * v + 100 for v in s[0]], [3 * v - 40 for v in s[1]]] for s in drawing]
    np.testing.assert_allclose(canonical_strokes(moved), x, atol=1e-6)
    # ... and as sketch-rnn stroke-3 offsets.
    points = np.concatenate([np.array(s, dtype=float).T for s in drawing])
    pen = np.zeros(len(points))
    pen[np.cumsum([len(s[0]) for s in drawing]) - 1] = 1
    stroke3 = np.column_stack([np.diff(points, axis=0, prepend=[[0, 0]]), pen]).astype(np.int16)
    np.testing.assert_allclose(canonical_strokes(stroke3), x, atol=1e-6)
    # ... and canvas points are simplified like a raw drawing of the same strokes.
    canvas = [np.array(s, dtype=float).T.tolist() for s in drawing]
    np.testing.assert_array_equal(canonical_strokes(canvas, format="points"), canonical_strokes(drawing, format="raw"))


def test_raw_drawing_is_simplified_like_its_google_twin(quickdraw_dir):
    simplified = {r["key_id"]: r["drawing"] for r in _records(quickdraw_dir / "simplified" / "cat.ndjson") if "key_id" in r}
    pairs = [(r["drawing"], simplified[r["key_id"]]) for r in _records(quickdraw_dir / "raw" / "cat.ndjson") if r["key_id"] in simplified]
    assert len(pairs) == 23
    same_length = 0
    for raw, google in pairs:
        ours, theirs = canonical_strokes(raw), canonical_strokes(google)
        same_length += len(ours) == len(theirs)
        if len(ours) == len(theirs):
            gap = np.abs(np.cumsum(ours[:, :2], 0) - np.cumsum(theirs[:, :2], 0)).max()
            assert gap < 0.02  # within ~5 pixels of 255
    assert same_length >= 0.8 * len(pairs)


def test_sketchrnn_arrays_keep_every_point(quickdraw_dir):
    drawings = load_sketchrnn_npz(quickdraw_dir / "sketchrnn" / "pig.npz")["test"]
    x = canonical_strokes(drawings[0])
    assert x.shape == (len(drawings[0]), 3)
    assert x[:, 2].sum() == drawings[0][:, 2].sum() + (drawings[0][-1, 2] == 0)
    assert np.abs(np.cumsum(x[:, :2], 0)).max() <= 1.0 + 1e-6


def test_truncation_keeps_the_first_points(cats):
    drawing = cats[2]["drawing"]
    full = canonical_strokes(drawing)
    np.testing.assert_array_equal(canonical_strokes(drawing, max_points=5), full[:5])


def test_single_point_and_zero_extent_drawings():
    x = canonical_strokes([[[7], [9]]])
    np.testing.assert_array_equal(x, [[0, 0, 1]])


@pytest.mark.parametrize(
    "drawing, message",
    [
        ([], "empty drawing"),
        ([[[], []]], "stroke 0 is empty"),
        ([[[1, 2, 3], [1, 2]]], "lengths [3, 2] that differ"),
        ([[[1, float("nan")], [1, 2]]], "finite"),
        ([[[1, float("inf")], [1, 2]]], "finite"),
        ([[["a", 2], [1, 2]]], "must be numbers"),
        ([[[[1], 2], [1, 2]]], "must be numbers"),
        ([[1, 2]], "must hold lists"),
        ([[[1, 2]]], "must be [xs, ys]"),
        ("cat", "expected a list of strokes"),
        (np.zeros((4, 2)), "shape (n, 3)"),
    ],
)
def test_bad_drawings_name_the_drawing(drawing, message):
    with pytest.raises(DrawingError, match="my.ndjson:7") as error:
        canonical_strokes(drawing, source="my.ndjson:7")
    assert message in str(error.value)


def test_read_ndjson_yields_records_and_errors_by_line(tmp_path, cats):
    path = tmp_path / "cat.ndjson"
    lines = [json.dumps(cats[0]), "{not json", json.dumps({"word": "cat"}), json.dumps({"word": "cat", "drawing": []}), "", json.dumps(cats[1])]
    path.write_text("\n".join(lines) + "\n")
    results = list(read_ndjson(path))
    assert [n for n, _ in results] == [1, 2, 3, 4, 6]
    kinds = [type(r).__name__ for _, r in results]
    assert kinds == ["dict", "DrawingError", "DrawingError", "DrawingError", "dict"]
    assert str(results[1][1]).startswith("cat.ndjson:2: malformed JSON")
    assert "'word' and 'drawing'" in str(results[2][1]) and "cat.ndjson:3" in str(results[2][1])
    assert results[0][1]["key_id"] == cats[0].get("key_id")
