"""Google's drawing formats → the one canonical model input, with validation.

Every drawing, whichever format it arrives in, becomes a float32 array of
shape `(n, 3)`: one row per pen point holding `(dx, dy, pen_lifted)`.

* Points are aligned to the top-left corner and scaled by one factor (aspect
  ratio kept) so the drawing's longest side spans 0..1; `dx, dy` are offsets
  from the previous point (the first row holds the first point itself).
* `pen_lifted` is 1 on the last point of each stroke, 0 elsewhere.

Formats read here:

* `"simplified"`: Google's simplified ndjson drawing, `[[xs, ys], ...]`.
* `"raw"`: Google's raw drawing, `[[xs, ys, ts], ...]` in screen
  coordinates; it first goes through Google's own simplification
  (`sketchkeras.simplify.simplify_drawing`), so a raw drawing and its
  simplified twin give (nearly) the same input.
* `"stroke3"`: sketch-rnn's `(n, 3)` integer offsets `(dx, dy, pen_lifted)`.
* `"points"`: a list of strokes, each a list of `(x, y)` points, as a browser
  canvas records them; simplified like a raw drawing.

`"auto"` tells a numpy `(n, 3)` array (stroke-3) from Google's nested lists
(raw when strokes carry timestamps, else simplified); `"points"` must be
named, since a two-point stroke reads the same either way.
"""

import gzip
import json
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import json as pa_json

from sketchkeras.simplify import simplify_drawing

FORMATS = ("auto", "simplified", "raw", "stroke3", "points")
MAX_LINE_BYTES = 16 * 2**20  # an ndjson line longer than this is refused unread (real drawings are < 1 MB)
_TINY = np.finfo(np.float64).tiny  # an extent below the smallest normal float is a point


class DrawingError(ValueError):
    """A drawing or record that cannot be read; the message says where."""


# Google's record as Arrow columns: the rows of `sketchkeras.convert_quickdraw`'s parquet (see its docstring).
RECORD_SCHEMA = pa.schema(
    [
        ("word", pa.string()),
        ("key_id", pa.string()),
        ("countrycode", pa.string()),
        ("timestamp", pa.string()),
        ("recognized", pa.bool_()),
        ("simplified_x", pa.list_(pa.list_(pa.uint8()))),
        ("simplified_y", pa.list_(pa.list_(pa.uint8()))),
        ("raw_x", pa.list_(pa.list_(pa.float64()))),
        ("raw_y", pa.list_(pa.list_(pa.float64()))),
        ("raw_t", pa.list_(pa.list_(pa.int32()))),
        ("stroke3", pa.list_(pa.list_(pa.int16(), 3))),
    ]
)
_JSON_SCHEMAS = {
    t: pa.schema([*list(RECORD_SCHEMA)[:5], ("drawing", pa.list_(pa.list_(pa.list_(t))))])
    for t in (pa.uint8(), pa.float64())
}
_INT32 = np.iinfo(np.int32)


def canonical_strokes(drawing, format="auto", max_points=None, source="drawing"):
    """Converts one drawing, in any supported format, to the canonical input.

    Args:
        drawing: the drawing (see the module docstring for the formats).
        format: one of `"auto"`, `"simplified"`, `"raw"`, `"stroke3"`,
            `"points"`.
        max_points: keep at most this many points (the first ones).
        source: names the drawing in error messages, e.g. `"cat.ndjson:12"`.

    Returns:
        float32 array of shape `(n, 3)`: `(dx, dy, pen_lifted)` per point.

    Raises:
        DrawingError: empty, ragged, non-numeric or non-finite drawings, and
            stroke-3 offsets whose sum leaves the float range.

    Example:
    >>> x = canonical_strokes([[[0, 255], [0, 0]], [[0], [100]]])
    >>> x.shape, x.dtype.name
    ((3, 3), 'float32')
    >>> x[:, 2].tolist()
    [0.0, 1.0, 1.0]
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {FORMATS}")
    if format == "auto":
        format = _detect_format(drawing, source)
    if format == "stroke3":
        points, ends = _stroke3_points(drawing, source)
    else:
        if format == "points":
            drawing = [_points_to_xy(stroke, source, i) for i, stroke in enumerate(drawing)]
        points, ends = _google_points(drawing, source)
        if format in ("raw", "points"):
            drawing = simplify_drawing([[xs, ys] for xs, ys in _split(points, ends)])
            points, ends = _google_points(drawing, source)
    return _normalise(points, ends, source)[:max_points]


def read_ndjson(path, format="auto", max_points=None, max_line_bytes=MAX_LINE_BYTES):
    """Yields `(line_number, record_or_error)` for each line of a Google ndjson file.

    A good line gives a dict with `word`, `key_id` (None when absent),
    `recognized` (None when absent) and `strokes` (canonical array); a bad
    line (malformed JSON or UTF-8, a bad drawing, a line over
    `max_line_bytes`, which is never held in memory) gives the
    `DrawingError` naming the file and line, so that callers choose to skip
    and count it or to raise. `.ndjson.gz` files are read too; one that is
    not gzip, is truncated or fails its CRC gives a single `DrawingError`
    naming the file, as line 0.

    Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cat.ndjson"
    >>> _ = path.write_text('{"word": "cat", "drawing": [[[0, 9], [0, 9]]]}\\nnot json\\n')
    >>> [(n, type(r).__name__) for n, r in read_ndjson(path)]
    [(1, 'dict'), (2, 'DrawingError')]
    >>> _ = path.with_suffix(".gz").write_bytes(b"plain text")
    >>> [(n, str(r)) for n, r in read_ndjson(path.with_suffix(".gz"))]
    [(0, "cat.gz: not a readable gzip file (BadGzipFile: Not a gzipped file (b'pl'))")]
    """
    path = Path(path)
    try:
        lines, too_long = _read_lines(path, max_line_bytes)
    except (OSError, EOFError, zlib.error) as error:
        if not path.suffix == ".gz" or isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        yield 0, DrawingError(f"{path.name}: not a readable gzip file ({type(error).__name__}: {error})")
        return
    fast = not too_long and format in ("auto", "simplified")
    records = _simplified_records(lines, max_points) if fast else None
    if records is not None:
        yield from enumerate(records, start=1)
        return
    for number, line in enumerate(lines, start=1):
        source = f"{path.name}:{number}"
        if number in too_long:
            yield number, DrawingError(f"{source}: line longer than {max_line_bytes:,} bytes; not read")
        elif line.strip():
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as error:
                where = f"byte {line[error.start]:#04x} at column {error.start + 1}"
                yield number, DrawingError(f"{source}: not UTF-8 ({where})")
                continue
            yield number, _read_record(text, source, format, max_points)


def _read_lines(path, max_line_bytes):
    """A file's lines as bytes, and the numbers of those over `max_line_bytes` (read past, kept as `b""`)."""
    lines, too_long = [], set()
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
        while line := file.readline(max_line_bytes + 1):
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                while (rest := file.readline(max_line_bytes)) and not rest.endswith(b"\n"):
                    pass
                too_long.add(len(lines) + 1)
                line = b"\n"
            lines.append(line)
    return lines, too_long


def _simplified_records(lines, max_points):
    """All records of a well-formed simplified ndjson file at once (`ndjson_table`, `simplified_points`), or None.

    5-10x faster than a record at a time. Any surprise (blank lines, bad
    JSON, raw drawings, ragged strokes, missing keys) returns None, and the
    caller reads line by line to name the bad record.
    """
    table = ndjson_table([line.rstrip(b"\n") for line in lines], pa.uint8()) if lines else None
    canonical = simplified_points(table) if table is not None and table["simplified_x"].null_count == 0 else None
    if canonical is None:
        return None
    out, sizes = canonical
    drawing_ends = np.cumsum(sizes)
    columns = [table[name].to_pylist() for name in ("word", "key_id", "recognized")]
    return [
        {"word": word, "key_id": key, "recognized": known, "strokes": out[a:b][:max_points]}
        for word, key, known, a, b in zip(*columns, drawing_ends - sizes, drawing_ends)
    ]


def record_table(columns, rows):
    """A table of `RECORD_SCHEMA` of `rows` rows from `columns` (name -> array); the columns not given are null.

    Example:
    >>> table = record_table({"word": pa.array(["cat"])}, 1)
    >>> table.num_rows, table["key_id"].null_count, table.schema == RECORD_SCHEMA
    (1, 1, True)
    """
    return pa.table(
        {n: columns.get(n, pa.nulls(rows, RECORD_SCHEMA.field(n).type)) for n in RECORD_SCHEMA.names},
        schema=RECORD_SCHEMA,
    )


def canonical_simplified(x, y, stroke_points, drawing_strokes):
    """The canonical strokes of many drawings at once, from their points stored back to back.

    Drawing `i` holds the next `drawing_strokes[i]` strokes, stroke `j` the
    next `stroke_points[j]` points of `x` and `y` (every count above 0). One
    pass of NumPy over all points, with no Python per drawing, giving what
    `canonical_strokes(..., "simplified")` gives drawing by drawing.

    Returns:
        `(points, sizes)`: the `(total points, 3)` float32 strokes back to
        back and each drawing's number of points; or None when an extent is
        not finite or below the smallest normal float, where
        `canonical_strokes` is the careful path.

    Example:
    >>> points, sizes = canonical_simplified(
    ...     np.array([0.0, 255, 0, 10, 20]), np.array([0.0, 0, 100, 0, 5]), np.array([2, 1, 2]), np.array([2, 1])
    ... )
    >>> sizes.tolist(), points[:, 2].tolist(), points[3].tolist()
    ([3, 2], [0.0, 1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    stroke_ends = np.cumsum(stroke_points)
    drawing_ends = stroke_ends[np.cumsum(drawing_strokes) - 1]
    starts = np.concatenate([[0], drawing_ends[:-1]])
    if len(x) == 0:
        return np.zeros((0, 3), np.float32), np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(starts)), drawing_ends - starts)
    low_x, low_y = np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts)
    with np.errstate(over="ignore", invalid="ignore"):
        extent = np.maximum(np.maximum.reduceat(x, starts) - low_x, np.maximum.reduceat(y, starts) - low_y)
    if not np.isfinite(extent).all() or ((extent > 0) & (extent < _TINY)).any():
        return None
    scale = np.where(extent > 0, 1.0 / np.where(extent > 0, extent, 1.0), 1.0)  # as _normalise scales
    points = np.stack([(x - low_x[owner]) * scale[owner], (y - low_y[owner]) * scale[owner]], axis=1)
    out = np.zeros((len(x), 3), dtype=np.float32)
    np.subtract(points[1:], points[:-1], out=out[1:, :2], casting="same_kind")
    out[starts, :2] = points[starts]
    out[stroke_ends - 1, 2] = 1.0
    return out, drawing_ends - starts


def simplified_points(table):
    """The canonical strokes of a table whose rows all hold simplified drawings: flat `(points, 3)` float32, and sizes.

    `table` has `RECORD_SCHEMA`'s `simplified_x` and `simplified_y` columns.
    Drawing `i` is `points[sum(sizes[:i]) :][: sizes[i]]`, as
    `canonical_strokes(..., "simplified")` gives it; None if any row holds
    another format or an invalid drawing.

    Example:
    >>> table = pa.table({"simplified_x": [[[0, 9]], [[5]]], "simplified_y": [[[0, 9]], [[5]]]})
    >>> points, sizes = simplified_points(table)
    >>> sizes.tolist(), points[:, 2].tolist()
    ([2, 1], [0.0, 1.0, 1.0])
    """
    xs, ys = table["simplified_x"].combine_chunks(), table["simplified_y"].combine_chunks()
    if xs.null_count or ys.null_count or xs.value_lengths() != ys.value_lengths():
        return None
    x_strokes, y_strokes = xs.flatten(), ys.flatten()
    stroke_points = x_strokes.value_lengths().to_numpy(zero_copy_only=False)
    drawing_strokes = xs.value_lengths().to_numpy(zero_copy_only=False)
    if x_strokes.value_lengths() != y_strokes.value_lengths() or (stroke_points == 0).any():
        return None
    if (drawing_strokes == 0).any():
        return None
    x = x_strokes.flatten().to_numpy(zero_copy_only=False)
    y = y_strokes.flatten().to_numpy(zero_copy_only=False)
    return canonical_simplified(x, y, stroke_points, drawing_strokes)


def ndjson_table(lines, value_type):
    """Google ndjson lines (bytes), all simplified or all raw, as one table of `RECORD_SCHEMA`, or None.

    Arrow's JSON reader parses all the lines at once, then NumPy splits the
    drawings into their lossless columns. Any surprise (bad JSON, a missing
    word or drawing, an empty or ragged stroke, a value the column cannot
    hold, mixed formats) gives None, and the caller reads the lines one at a
    time to name the bad record. `value_type` is what Arrow parses
    coordinates as: `pa.uint8()` reads simplified drawings (and raw ones
    whose every number is a whole 0..255), `pa.float64()` raw ones.

    Example:
    >>> lines = [b'{"word": "cat", "key_id": "1", "drawing": [[[0, 9], [0, 5]]]}']
    >>> table = ndjson_table(lines, pa.uint8())
    >>> table["simplified_x"].to_pylist(), table["simplified_y"].to_pylist(), table["raw_x"].null_count
    ([[[0, 9]]], [[[0, 5]]], 1)
    >>> ndjson_table([b'{"word": "cat", "drawing": [[[0, 9], [0]]]}'], pa.uint8()) is None  # ragged stroke
    True
    """
    if any(b"\r" in line for line in lines):
        return None
    data = b"\n".join(lines)
    options = pa_json.ParseOptions(explicit_schema=_JSON_SCHEMAS[value_type], unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(
            pa.py_buffer(data), parse_options=options, read_options=pa_json.ReadOptions(False, len(data) + 1)
        )
    except (pa.ArrowException, ValueError):
        return None
    drawing = table.column("drawing").combine_chunks()
    if table.num_rows != len(lines) or table.column("word").null_count or drawing.null_count:
        return None
    strokes = drawing.flatten()
    axes = strokes.flatten()
    values = axes.flatten().to_numpy(zero_copy_only=False)
    per_stroke = strokes.value_lengths().to_numpy(zero_copy_only=False)
    lengths = axes.value_lengths().to_numpy(zero_copy_only=False)
    stroke_counts = drawing.value_lengths().to_numpy(zero_copy_only=False)
    width = int(per_stroke[0]) if len(per_stroke) else 0
    if strokes.null_count or axes.null_count or (stroke_counts == 0).any() or width not in (2, 3):
        return None
    lengths = lengths.reshape(-1, width) if (per_stroke == width).all() else None
    if lengths is None or (lengths == 0).any() or (lengths != lengths[:, :1]).any():
        return None
    axis_of = np.repeat(np.tile(np.arange(width), len(lengths)), lengths.reshape(-1))
    stroke_offsets = np.concatenate([[0], np.cumsum(stroke_counts)]).astype(np.int32)
    columns = {name: table.column(name) for name in RECORD_SCHEMA.names[:5]}
    names = ("simplified_x", "simplified_y") if width == 2 else ("raw_x", "raw_y", "raw_t")
    for axis, name in enumerate(names):
        column, value_type = values[axis_of == axis], RECORD_SCHEMA.field(name).type.value_type.value_type
        if not _fits(column, value_type):
            return None
        offsets = np.concatenate([[0], np.cumsum(lengths[:, axis])]).astype(np.int32)
        stroke_lists = pa.ListArray.from_arrays(offsets, pa.array(column.astype(value_type.to_pandas_dtype())))
        columns[name] = pa.ListArray.from_arrays(stroke_offsets, stroke_lists)
    return record_table(columns, table.num_rows)


def _fits(values, value_type):
    """Whether parsed coordinates hold what a column of `RECORD_SCHEMA` takes losslessly (raw times: whole ms)."""
    if value_type == pa.uint8():
        return values.dtype == np.uint8
    if value_type == pa.int32():
        whole = values.dtype == np.uint8 or np.array_equal(values, np.floor(values))
        return whole and (not len(values) or (values.min() >= _INT32.min and values.max() <= _INT32.max))
    with np.errstate(invalid="ignore"):
        return bool((np.abs(values) < 2**53).all())


def _read_record(line, source, format, max_points):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return DrawingError(f"{source}: malformed JSON ({error.msg} at column {error.colno})")
    if not isinstance(record, dict) or "drawing" not in record or "word" not in record:
        return DrawingError(f"{source}: a record needs 'word' and 'drawing' keys")
    if not isinstance(record["word"], str):
        return DrawingError(f"{source}: 'word' must be a string, got {record['word']!r}")
    try:
        strokes = canonical_strokes(record["drawing"], format, max_points, source)
    except DrawingError as error:
        return error
    key_id = record.get("key_id")
    return {
        "word": record["word"],
        "key_id": None if key_id is None else str(key_id),
        "recognized": record.get("recognized"),
        "strokes": strokes,
    }


def check_google_drawing(drawing, source="drawing"):
    """Raises the `DrawingError` that `canonical_strokes` gives a bad Google drawing, reading it only.

    For a raw drawing this skips Google's simplification, the costly part of
    `canonical_strokes`, which cannot fail on a drawing that passes.

    Example:
    >>> check_google_drawing([[[0, 5, 9], [0, 5, 9], [0, 16, 33]]])
    >>> check_google_drawing([[[0, 5], [0]]], source="cat.ndjson:3")
    Traceback (most recent call last):
    ...
    sketchkeras.strokes.DrawingError: cat.ndjson:3: stroke 0 has x/y/t lengths [2, 1] that differ
    """
    _google_points(drawing, source)


def _detect_format(drawing, source):
    if isinstance(drawing, np.ndarray):
        if drawing.ndim == 2 and drawing.shape[1] == 3:
            return "stroke3"
        raise DrawingError(f"{source}: a stroke-3 array must have shape (n, 3), got {drawing.shape}")
    if isinstance(drawing, (list, tuple)) and not drawing:
        return "simplified"  # reported as an empty drawing
    if isinstance(drawing, (list, tuple)) and isinstance(drawing[0], (list, tuple)):
        return "raw" if len(drawing[0]) == 3 else "simplified"
    raise DrawingError(f"{source}: expected a list of strokes or an (n, 3) array, got {_describe(drawing)}")


def _google_points(drawing, source):
    """Validates Google's `[[xs, ys(, ts)], ...]` and returns (points, stroke ends)."""
    try:  # the fast path for well-formed drawings; anything odd gets the careful check
        xs, ys, ends = [], [], []
        for stroke in drawing:
            n = len(stroke[0])
            if n == 0 or len(stroke[1]) != n or not 2 <= len(stroke) <= 3 or len(stroke[-1]) != n:
                raise ValueError
            xs += stroke[0]
            ys += stroke[1]
            ends.append(len(xs))
        points = np.array((xs, ys), dtype=np.float64)
        if not ends or points.ndim != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError, KeyError):
        _check_google_drawing(drawing, source)
        raise DrawingError(f"{source}: coordinates must be numbers") from None
    if not np.isfinite(points).all():
        raise DrawingError(f"{source}: coordinates must be finite (found NaN or inf)")
    return points.T, np.array(ends)


def _check_google_drawing(drawing, source):
    """Raises a `DrawingError` that says what is wrong with a drawing's nesting."""
    if not isinstance(drawing, (list, tuple)) or len(drawing) == 0:
        raise DrawingError(f"{source}: empty drawing (no strokes)")
    for i, stroke in enumerate(drawing):
        if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
            raise DrawingError(f"{source}: stroke {i} must be [xs, ys] or [xs, ys, ts], got {_describe(stroke)}")
        if not all(isinstance(axis, (list, tuple, np.ndarray)) for axis in stroke):
            raise DrawingError(f"{source}: stroke {i} must hold lists of coordinates")
        lengths = [len(axis) for axis in stroke]
        if lengths[0] == 0:
            raise DrawingError(f"{source}: stroke {i} is empty")
        if len(set(lengths)) > 1:
            raise DrawingError(f"{source}: stroke {i} has x/y/t lengths {lengths} that differ")


def _points_to_xy(stroke, source, index):
    points = np.asarray(stroke, dtype=object)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DrawingError(f"{source}: stroke {index} must be a list of (x, y) points")
    return [list(points[:, 0]), list(points[:, 1])]


def _stroke3_points(stroke3, source):
    array = np.asarray(stroke3)
    if array.ndim != 2 or array.shape[1] != 3 or len(array) == 0:
        raise DrawingError(f"{source}: a stroke-3 array must have shape (n, 3) with n > 0, got {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise DrawingError(f"{source}: stroke-3 values must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise DrawingError(f"{source}: stroke-3 values must be finite (found NaN or inf)")
    ends = np.flatnonzero(array[:, 2] > 0) + 1
    if len(ends) == 0 or ends[-1] != len(array):
        ends = np.append(ends, len(array))
    with np.errstate(over="ignore"):
        points = np.cumsum(array[:, :2], axis=0)
    if not np.isfinite(points).all():
        raise DrawingError(f"{source}: stroke-3 offsets sum past the float range")
    return points, ends


def _normalise(points, ends, source):
    """Top-left aligned, longest side 0..1, as offsets; safe for any finite coordinates.

    Coordinates whose differences would overflow are first divided by the
    largest magnitude; an extent below the smallest normal float (where
    `1 / extent` overflows) is a single point.
    """
    with np.errstate(over="ignore"):
        if not np.isfinite(points.max(axis=0) - points.min(axis=0)).all():
            points = points / np.abs(points).max()
    low = points.min(axis=0)
    extent = (points.max(axis=0) - low).max()
    points = (points - low) * (1.0 / extent) if extent >= _TINY else np.zeros_like(points)
    out = np.zeros((len(points), 3), dtype=np.float32)
    out[0, :2] = points[0]
    np.subtract(points[1:], points[:-1], out=out[1:, :2], casting="same_kind")
    out[ends - 1, 2] = 1.0
    if not np.isfinite(out).all():
        raise DrawingError(f"{source}: the normalised drawing is not finite")
    return out


def _split(points, ends):
    starts = np.concatenate([[0], ends[:-1]])
    return [(points[a:b, 0].tolist(), points[a:b, 1].tolist()) for a, b in zip(starts, ends)]


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
