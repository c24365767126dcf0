"""Canonical strokes from every Google format, on real drawings, and clear errors."""

import gzip
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
    simplified = {
        r["key_id"]: r["drawing"] for r in _records(quickdraw_dir / "simplified" / "cat.ndjson") if "key_id" in r
    }
    pairs = [
        (r["drawing"], simplified[r["key_id"]])
        for r in _records(quickdraw_dir / "raw" / "cat.ndjson")
        if r["key_id"] in simplified
    ]
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
    lines = [
        json.dumps(cats[0]),
        "{not json",
        json.dumps({"word": "cat"}),
        json.dumps({"word": "cat", "drawing": []}),
        "",
        json.dumps(cats[1]),
    ]
    path.write_text("\n".join(lines) + "\n")
    results = list(read_ndjson(path))
    assert [n for n, _ in results] == [1, 2, 3, 4, 6]
    kinds = [type(r).__name__ for _, r in results]
    assert kinds == ["dict", "DrawingError", "DrawingError", "DrawingError", "dict"]
    assert str(results[1][1]).startswith("cat.ndjson:2: malformed JSON")
    assert "'word' and 'drawing'" in str(results[2][1]) and "cat.ndjson:3" in str(results[2][1])
    assert results[0][1]["key_id"] == cats[0].get("key_id")


def test_finite_but_extreme_coordinates_normalise_safely(cats):
    xy = [[np.asarray(axis, dtype=np.float64) for axis in stroke] for stroke in cats[0]["drawing"]]
    expected = canonical_strokes(cats[0]["drawing"])
    # Differences of these overflow float64 (255e306 > 1.8e308): scaled down first, same drawing.
    huge = [[((x - 127.5) * 1e306).tolist(), ((y - 127.5) * 1e306).tolist()] for x, y in xy]
    np.testing.assert_allclose(canonical_strokes(huge), expected, atol=1e-6)
    tiny = [[(x * 1e-300).tolist(), (y * 1e-300).tolist()] for x, y in xy]
    np.testing.assert_allclose(canonical_strokes(tiny), expected, atol=1e-6)
    # The drawings: a subnormal extent is a point; a line from -1e308 to 1e308 spans 0..1.
    np.testing.assert_array_equal(canonical_strokes([[[0, 1e-320], [0, 0]]]), [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(canonical_strokes([[[-1e308, 1e308], [0, 0]]]), [[0, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(canonical_strokes([[[-1e308, 1e308], [0, 0], [0, 5]]], "raw"), [[0, 0, 0], [1, 0, 1]])
    with pytest.raises(DrawingError, match="d.npz:3: stroke-3 offsets sum past the float range"):
        canonical_strokes(np.array([[1e308, 0, 0], [1e308, 0, 1]]), source="d.npz:3")


def test_read_ndjson_keeps_extreme_records_finite(tmp_path, cats):
    path = tmp_path / "cat.ndjson"
    extreme = [
        {"word": "cat", "drawing": [[[0, 1e-320], [0, 0]]]},
        {"word": "cat", "drawing": [[[-1e308, 1e308], [0, 0]]]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in [cats[0], *extreme, cats[1]]) + "\n")
    records = [r for _, r in read_ndjson(path)]
    assert all(isinstance(r, dict) and np.isfinite(r["strokes"]).all() for r in records)
    np.testing.assert_array_equal(records[0]["strokes"], canonical_strokes(cats[0]["drawing"]))
    np.testing.assert_array_equal(records[1]["strokes"], [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(records[2]["strokes"], [[0, 0, 0], [1, 0, 1]])


def test_a_bad_utf8_byte_or_an_overlong_line_spoils_only_its_line(tmp_path, cats):
    path = tmp_path / "cat.ndjson"
    lines = [json.dumps(r).encode() for r in cats[:4]]
    lines[1] = lines[1].replace(b'"cat"', b'"c\xffat"')
    lines[2] = b'{"word": "cat", "drawing": [[[' + b"1, " * 400 + b"1], [1]]]}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = list(read_ndjson(path, max_line_bytes=1000))
    kinds = [(n, type(r).__name__) for n, r in results]
    assert kinds == [(1, "dict"), (2, "DrawingError"), (3, "DrawingError"), (4, "dict")]
    assert str(results[1][1]) == "cat.ndjson:2: not UTF-8 (byte 0xff at column 12)"
    assert str(results[2][1]) == "cat.ndjson:3: line longer than 1,000 bytes; not read"
    np.testing.assert_array_equal(results[3][1]["strokes"], canonical_strokes(cats[3]["drawing"]))


def test_unreadable_gzip_files_are_one_error_naming_the_file(tmp_path, quickdraw_dir):
    data = gzip.compress((quickdraw_dir / "simplified" / "cat.ndjson").read_bytes())
    bad_crc = bytearray(data)
    bad_crc[-8] ^= 0xFF
    corrupt = bytearray(data)
    corrupt[10] = 0xFF  # the first deflate block, after gzip's 10-byte header: reserved block type
    cases = {
        "plain.ndjson.gz": (b'{"word": "cat"}\n', "BadGzipFile: Not a gzipped file"),
        "truncated.ndjson.gz": (data[: len(data) // 2], "EOFError: Compressed file ended before"),
        "crc.ndjson.gz": (bytes(bad_crc), "BadGzipFile: CRC check failed"),
        "deflate.ndjson.gz": (bytes(corrupt), "error: Error -3 while decompressing data"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        [(number, error)] = list(read_ndjson(tmp_path / name))
        assert number == 0 and isinstance(error, DrawingError)
        assert str(error).startswith(f"{name}: not a readable gzip file ({message}"), str(error)
