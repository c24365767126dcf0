"""Google's Quick, Draw! files → a sharded, lossless parquet dataset for `datasets` and the Hub, in bounded memory.

`convert_quickdraw` streams Google's simplified or raw ndjson (`.ndjson`,
`.ndjson.gz`) and sketch-rnn `.npz` files into the Hub's layout,
`data/{split}-XXXXX-of-YYYYY.parquet` plus a dataset card `README.md`.
Each row keeps Google's record as it is (columns absent from the source are
null; only the columns of the formats present are written):

| column | type | holds |
|---|---|---|
| `word` | string | the class name |
| `key_id` | string | Google's drawing id (null for sketch-rnn) |
| `countrycode` | string | two-letter country code |
| `timestamp` | string | Google's text, e.g. `"2017-03-01 20:34:10.93213 UTC"` |
| `recognized` | bool | whether the game recognised the drawing |
| `simplified_x`, `simplified_y` | list<list<uint8>> | simplified ndjson: x and y of each stroke (2 bytes a point) |
| `raw_x`, `raw_y` | list<list<float64>> | raw ndjson: screen coordinates of each stroke (Google's hold fractions) |
| `raw_t` | list<list<int32>> | raw ndjson: milliseconds since the first point |
| `stroke3` | list<fixed_size_list<int16, 3>> | sketch-rnn: `(dx, dy, pen_lifted)` rows |

`sketchkeras.load_quickdraw` and `sketchkeras.stream_quickdraw` read such a
folder (or its Hub copy) and canonicalise the drawings as they read them
(`sketchkeras.data.record_strokes`): the same `(n, 3)` strokes as reading
Google's files directly.

Drawings go to `train`, `validation` or `test` by `sketchkeras.streaming.hash_split`
(their `key_id`, or a hash of the drawing without one), and to a shard of
their split by a seeded hash of the same identity, so every shard is a fair
sample of every class; each shard's rows are shuffled (seeded). Two passes
keep memory bounded by one shard, whatever the input's size: pass 1 reads
the input files (in parallel over `workers` processes) and scatters their
records into per-shard temporary Arrow files; pass 2 loads one shard's
records at a time, shuffles them and writes the shard atomically (temporary
file, fsync, rename). The temporary files live in `OUT/.convert/`, with a
completion marker per input file and the shard files themselves as markers:
a rerun after a kill finishes the missing work. The output does not depend
on `workers`.

Example:
>>> import tempfile
>>> from sketchkeras import bundled_sample_dir, load_quickdraw
>>> out = convert_quickdraw(bundled_sample_dir() / "simplified", tempfile.mkdtemp(), classes=["cat", "dog"])
>>> sorted(p.name for p in (out / "data").iterdir())
['test-00000-of-00001.parquet', 'train-00000-of-00001.parquet', 'validation-00000-of-00001.parquet']
>>> {name: split.num_rows for name, split in load_quickdraw(out, classes=["cat", "dog"]).items()}
{'test': 94, 'train': 620, 'validation': 86}
"""

import gzip
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import shutil
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets.utils.tqdm import tqdm

from sketchkeras.data import DRAWING_COLUMNS, categories, check_classes, record_points
from sketchkeras.sketchrnn import load_sketchrnn_npz
from sketchkeras.sources import SkippedRecords, file_kind, npz_drawings, source_files
from sketchkeras.streaming import SPLITS, hash_splits, identity_hashes
from sketchkeras.strokes import (
    MAX_LINE_BYTES,
    RECORD_SCHEMA,
    DrawingError,
    check_google_drawing,
    ndjson_table,
    record_table,
)

SHARD_SIZE = 256 * 2**20  # bytes of Google's records a shard aims at: about 570k simplified or 77k raw drawings
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}  # hash_split's
_CHUNK = 2_000  # records read and scattered at a time
_BLOCK = 2**20  # bytes of an ndjson file read at a time
_ROW_GROUP = 20_000


def convert_quickdraw(source, output_dir, classes=None, workers=1, shard_size=SHARD_SIZE, seed=0):
    """Converts Google's files into a sharded, lossless parquet dataset (see the module docstring).

    Args:
        source: a folder, file or glob (or a list of them) of Google ndjson
            (simplified or raw, optionally `.gz`) and sketch-rnn `.npz`.
        output_dir: the folder to write (`data/*.parquet`, `README.md`);
            rerun with the same arguments to finish an interrupted run.
        classes: the class names to keep (default: Google's 345). Records of
            other categories are left out; records whose word is not a
            category are bad records.
        workers: processes reading files (pass 1) and writing shards (pass 2).
        shard_size: the bytes of Google's records a shard aims at (their
            ndjson text, uncompressed; a sketch-rnn drawing's int16 array);
            each split gets `ceil(bytes / shard_size)` shards, its bytes
            estimated from the input files. Sizing by bytes keeps a shard's
            memory the same whatever the format: a raw drawing is about
            seven times the bytes of a simplified one.
        seed: seeds the shard assignment and the shuffle within shards.

    Returns:
        `output_dir` as a `Path`. Bad records, and files that cannot be read
        at all, are skipped and reported with a `SkippedRecordsWarning`.

    Raises:
        ValueError: `output_dir` holds another conversion (other arguments)
            or another dataset; a class name is neither a category nor in
            the files (the message suggests the closest); no drawing was found.

    Example:
    >>> import tempfile
    >>> from sketchkeras import bundled_sample_dir
    >>> out = convert_quickdraw(bundled_sample_dir(), tempfile.mkdtemp(), classes=["pig"], shard_size=100_000)
    >>> sorted(p.name for p in (out / "data").glob("train-*"))
    ['train-00000-of-00002.parquet', 'train-00001-of-00002.parquet']
    """
    output_dir = Path(output_dir)
    labels = list(classes) if classes is not None else categories()
    files = [str(f) for f in source_files(source)]
    if any(file_kind(Path(f)) == "parquet" for f in files):
        raise ValueError(f"{source}: convert Google's ndjson and npz files, not parquet")
    work = output_dir / ".convert"
    plan = {"files": [str(Path(f).resolve()) for f in files], "classes": labels, "shard_size": shard_size, "seed": seed}
    if (output_dir / "README.md").exists() and not (work / "plan.json").exists():
        if work.exists() or any((output_dir / "data").glob("*.parquet")):
            shutil.rmtree(work, ignore_errors=True)
            raise ValueError(f"{output_dir}: already holds a dataset; convert into an empty folder")
    if (work / "plan.json").exists():
        stored = json.loads((work / "plan.json").read_text())
        if {k: stored.get(k) for k in plan} != plan:
            raise ValueError(f"{output_dir}: holds an unfinished conversion of other files or arguments")
        plan = stored
    else:
        shutil.rmtree(work, ignore_errors=True)
        (work / "scatter").mkdir(parents=True)
        size = sum(_estimated_bytes(Path(f), labels) for f in tqdm(files, desc="Sizing", unit="file", disable=None))
        plan["shards"] = {s: max(1, math.ceil(size * SPLIT_FRACTIONS[s] / shard_size)) for s in SPLITS}
        _write_atomic(work / "plan.json", json.dumps(plan).encode())
    for partial in (work / "scatter").glob("*.partial"):
        shutil.rmtree(partial)
    scatter = [(i, f) for i, f in enumerate(files) if not (work / "scatter" / f"{i:05d}" / "done.json").exists()]
    _run(_scatter_file, [(work, i, f, labels, plan) for i, f in scatter], workers, "Reading Google files", "file")
    markers = [json.loads((work / "scatter" / f"{i:05d}" / "done.json").read_text()) for i in range(len(files))]
    check_classes(labels, set(categories()) | {w for m in markers for s in SPLITS for w in m["rows"][s]}, source)
    formats = sorted({f for m in markers for f in m["formats"]})
    if not formats:
        raise ValueError(f"{source}: no drawing of the classes asked for")
    columns = [c for c in RECORD_SCHEMA.names if c not in DRAWING_COLUMNS or DRAWING_COLUMNS[c] in formats]
    shards = [(s, k, plan["shards"][s]) for s in SPLITS for k in range(plan["shards"][s])]
    (output_dir / "data").mkdir(parents=True, exist_ok=True)
    missing = [(s, k, n) for s, k, n in shards if not (output_dir / "data" / _shard_name(s, k, n)).exists()]
    _run(
        _write_shard, [(output_dir, s, k, n, columns, seed) for s, k, n in missing], workers, "Writing shards", "shard"
    )
    skipped = SkippedRecords()
    for marker in markers:
        skipped.counts.update(marker["skipped"])
        skipped.examples.extend(marker["examples"][: 5 - len(skipped.examples)])
    per_class = {s: Counter() for s in SPLITS}
    for marker in markers:
        for s in SPLITS:
            per_class[s].update(marker["rows"][s])
    card = dataset_card(per_class, formats, [Path(f).name for f in files], seed)
    _write_atomic(output_dir / "README.md", card.encode())
    (work / "plan.json").unlink()
    shutil.rmtree(work)
    skipped.warn(stacklevel=2)
    return output_dir


def _ndjson_chunks(path, skipped):
    """`(line numbers, lines)` of a Google ndjson file, up to `_CHUNK` non-blank lines at a time.

    The file is read in blocks. A line longer than `MAX_LINE_BYTES` is never
    held whole: it goes to `skipped`, as does a `.gz` file that cannot be
    read (the lines read before the fault are kept).
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    numbers, lines, partial, too_long, number = [], [], [], False, 0

    def take(line):
        if too_long or len(line) > MAX_LINE_BYTES:
            message = f"{path.name}:{number}: line longer than {MAX_LINE_BYTES:,} bytes; not read"
            skipped.skip(DrawingError(message), "bad drawing")
        elif line.strip():
            numbers.append(number)
            lines.append(line)

    try:
        with opener(path, "rb") as file:
            while block := file.read(_BLOCK):
                *complete, rest = block.split(b"\n")
                for line in complete:
                    number += 1
                    take(b"".join([*partial, line]) if partial else line)
                    partial, too_long = [], False
                    if len(lines) == _CHUNK:
                        yield numbers, lines
                        numbers, lines = [], []
                if not too_long and rest:
                    partial.append(rest)
                    if sum(map(len, partial)) > MAX_LINE_BYTES:  # dropped unread up to its newline
                        partial, too_long = [], True
            if partial or too_long:
                number += 1
                take(b"".join(partial))
    except (OSError, EOFError, zlib.error) as error:
        if not path.name.endswith(".gz") or isinstance(error, (FileNotFoundError, PermissionError)):
            raise
        message = f"{path.name}: not a readable gzip file ({type(error).__name__}: {error})"
        skipped.skip(DrawingError(message), "bad file")
    if lines:
        yield numbers, lines


def _tables(path, skipped):
    """`(table of RECORD_SCHEMA, where)` for a file's good records, `_CHUNK` at a time; bad ones to `skipped`.

    `where(i)` names the record of row `i`. Google's ndjson goes through
    Arrow's JSON reader a chunk at a time (`sketchkeras.strokes.ndjson_table`); a chunk with
    anything odd in it is read a record at a time, which names the bad
    records.
    """
    if file_kind(path) == "npz":
        yield from _npz_tables(path, skipped)
        return
    value_types = None
    for numbers, lines in _ndjson_chunks(path, skipped):
        if value_types is None:  # simplified first, unless the first drawing has a fraction; then what read the last
            value_types = [pa.uint8(), pa.float64()][:: -1 if b"." in lines[0].partition(b'"drawing"')[2] else 1]
        for value_type in value_types:
            table = ndjson_table(lines, value_type)
            if table is not None:
                value_types.sort(key=lambda t: t != value_type)
                yield table, (lambda i, numbers=numbers: f"{path.name}:{numbers[i]}")
                break
        else:
            records, wheres = [], []
            for number, line in zip(numbers, lines):
                where = f"{path.name}:{number}"
                record = _ndjson_record(line, where)
                if isinstance(record, DrawingError):
                    skipped.skip(record, "bad drawing")
                else:
                    records.append(record)
                    wheres.append(where)
            if records:
                columns = {name: [r.get(name) for r in records] for name in RECORD_SCHEMA.names}
                yield pa.table(columns, schema=RECORD_SCHEMA), wheres.__getitem__


def _formats(table):
    """The formats (`DRAWING_COLUMNS`' values) of the drawings a table of RECORD_SCHEMA holds."""
    return {f for column, f in DRAWING_COLUMNS.items() if table[column].null_count < table.num_rows}


def _npz_tables(path, skipped):
    """The drawings of a sketch-rnn `.npz` as tables of RECORD_SCHEMA, `_CHUNK` at a time."""
    word = path.name.removesuffix(".npz")
    drawings, wheres = [], []
    for where, drawing, reason in itertools.chain(npz_drawings(path), [(None, None, None)]):
        if isinstance(drawing, DrawingError):
            skipped.skip(drawing, reason)
        elif drawing is not None and not len(drawing):  # the one way a drawing load_sketchrnn_npz reads can be bad
            skipped.skip(DrawingError(f"{where}: an empty stroke-3 drawing (no points)"), "bad drawing")
        elif drawing is not None:
            drawings.append(drawing)
            wheres.append(where)
        if drawings and (drawing is None or len(drawings) == _CHUNK):
            offsets = np.concatenate([[0], np.cumsum([len(d) for d in drawings])]).astype(np.int32)
            points = pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(drawings).reshape(-1)), 3)
            columns = {"word": pa.array([word] * len(drawings)), "stroke3": pa.ListArray.from_arrays(offsets, points)}
            yield record_table(columns, len(drawings)), wheres.__getitem__
            drawings, wheres = [], []


def dataset_card(per_class, formats, files, seed):
    """The dataset card (`README.md`) of a conversion: counts per split and class, source, licence, schema.

    Example:
    >>> from collections import Counter
    >>> counts = {"train": Counter(cat=8), "validation": Counter(cat=1), "test": Counter()}
    >>> card = dataset_card(counts, ["raw"], ["cat.ndjson"], seed=0)
    >>> "| cat | 8 | 1 | 0 | 9 |" in card, "`raw_t`" in card
    (True, True)
    """
    words = sorted({w for counts in per_class.values() for w in counts})
    table = ["| class | train | validation | test | total |", "|---|---|---|---|---|"]
    for word in words:
        counts = [per_class[s][word] for s in SPLITS]
        table.append(f"| {word} | {' | '.join(map(str, counts))} | {sum(counts)} |")
    totals = [sum(per_class[s].values()) for s in SPLITS]
    table.append(f"| **all** | {' | '.join(map(str, totals))} | {sum(totals)} |")
    names = ", ".join(f"`{n}`" for n in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    schema = [line for line in _SCHEMA_LINES.splitlines() if not line.startswith("| `") or _keeps(line, formats)]
    return _CARD.format(
        words=len(words),
        rows=sum(totals),
        files=names,
        formats=", ".join(formats),
        seed=seed,
        counts="\n".join(table),
        schema="\n".join(schema),
    )


def _keeps(line, formats):
    column = line.split("`")[1]
    return column not in DRAWING_COLUMNS or DRAWING_COLUMNS[column] in formats


def _ndjson_record(line, where):
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return DrawingError(f"{where}: malformed JSON or UTF-8 ({error})")
    if not isinstance(record, dict) or not isinstance(record.get("word"), str) or "drawing" not in record:
        return DrawingError(f"{where}: a record needs a string 'word' and a 'drawing'")
    drawing = record["drawing"]
    try:
        check_google_drawing(drawing, where)
        row = _google_columns(drawing, where)
        for name in ("countrycode", "timestamp"):
            if not isinstance(record.get(name), (str, type(None))):
                raise DrawingError(f"{where}: {name!r} must be a string")
        if not isinstance(record.get("recognized"), (bool, type(None))):
            raise DrawingError(f"{where}: 'recognized' must be true or false")
    except DrawingError as error:
        return error
    key_id = record.get("key_id")
    row.update(
        word=record["word"],
        key_id=None if key_id is None else str(key_id),
        countrycode=record.get("countrycode"),
        timestamp=record.get("timestamp"),
        recognized=record.get("recognized"),
    )
    return row


def _google_columns(drawing, where):
    """A valid Google drawing as its lossless columns (`check_google_drawing` has checked the nesting)."""
    if any(len(stroke) != len(drawing[0]) for stroke in drawing):
        raise DrawingError(f"{where}: strokes mix [xs, ys] and [xs, ys, ts]")
    axes = list(zip(*drawing))
    if len(axes) == 2:
        for axis in axes:
            if not all(type(v) is int and 0 <= v <= 255 for stroke in axis for v in stroke):
                raise DrawingError(f"{where}: simplified coordinates must be integers 0..255")
        return {"format": "simplified", "simplified_x": list(axes[0]), "simplified_y": list(axes[1])}
    if not all(_whole(v) and -(2**31) <= v < 2**31 for stroke in axes[2] for v in stroke):
        raise DrawingError(f"{where}: raw times must be whole numbers (milliseconds)")
    if not all(type(v) in (int, float) and abs(v) < 2**53 for axis in axes[:2] for s in axis for v in s):
        raise DrawingError(f"{where}: raw coordinates must be numbers below 2**53")
    times = [[int(v) for v in stroke] for stroke in axes[2]]
    return {"format": "raw", "raw_x": list(axes[0]), "raw_y": list(axes[1]), "raw_t": times}


def _whole(value):
    return type(value) is int or (type(value) is float and value.is_integer())


def _estimated_bytes(path, labels):
    """The bytes of a file's records (see `shard_size`); 0 for a Google file named after a category not asked for."""
    stem = path.name.removesuffix(".gz").removesuffix(".ndjson").removesuffix(".npz")
    if stem in set(categories()) - set(labels):
        return 0
    if file_kind(path) == "npz":
        try:
            return sum(d.nbytes for drawings in load_sketchrnn_npz(path).values() for d in drawings)
        except ValueError:
            return 0
    if not path.name.endswith(".gz"):
        return path.stat().st_size
    size = 0
    try:
        with gzip.open(path, "rb") as file:
            while block := file.read(2**24):
                size += len(block)
    except (OSError, EOFError, zlib.error):
        pass
    return size


def _scatter_file(work, index, path, labels, plan):
    """Pass 1 for one input file: its records of `labels` into `{split}-{shard}.arrow` files, then its marker."""
    partial = work / "scatter" / f"{index:05d}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    known, wanted = pa.array(sorted(set(categories()) | set(labels))), pa.array(labels)
    skipped, rows, formats, writers = SkippedRecords(), {s: Counter() for s in SPLITS}, set(), {}
    for table, where in _tables(Path(path), skipped):
        is_known = pc.is_in(table["word"], value_set=known)
        if not pc.all(is_known).as_py():
            for i in np.flatnonzero(~is_known.to_numpy(zero_copy_only=False)).tolist():
                skipped.skip(DrawingError(f"{where(i)}: unknown word {table['word'][i].as_py()!r}"), "unknown word")
        table_formats = _formats(table)
        is_wanted = pc.is_in(table["word"], value_set=wanted)
        if not pc.all(is_wanted).as_py():
            table = table.filter(is_wanted)
            if not table.num_rows:
                continue
        formats |= table_formats
        hashes = identity_hashes(_identities(table))
        splits = hash_splits(hashes)
        shards = _shard_of(hashes, plan["seed"], np.array([plan["shards"][s] for s in SPLITS])[splits])
        for (split, word), count in Counter(zip(splits.tolist(), table["word"].to_pylist())).items():
            rows[SPLITS[split]][word] += count
        group = splits * (max(plan["shards"].values()) + 1) + shards
        order = np.argsort(group, kind="stable")  # each group's rows in input order
        table, group = table.take(order), group[order]
        starts = np.flatnonzero(np.diff(group, prepend=-1))
        for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(group)]):
            split, shard = SPLITS[splits[order[start]]], int(shards[order[start]])
            if (split, shard) not in writers:
                sink = open(partial / f"{split}-{shard:05d}.arrow", "wb")
                writers[split, shard] = sink, pa.ipc.new_file(sink, RECORD_SCHEMA)
            writers[split, shard][1].write_table(table.slice(start, end - start))
    for sink, writer in writers.values():
        writer.close()
        sink.flush()
        os.fsync(sink.fileno())
        sink.close()
    marker = {"rows": rows, "skipped": skipped.counts, "examples": skipped.examples, "formats": sorted(formats)}
    _write_atomic(partial / "done.json", json.dumps(marker).encode())
    os.replace(partial, work / "scatter" / f"{index:05d}")


def _identities(table):
    """Each row's identity for `hash_split`: its `key_id`, else the hash of its canonical strokes."""
    identities = table["key_id"].to_pylist()
    missing = [i for i, identity in enumerate(identities) if identity is None]
    if missing:
        points, sizes = record_points(table.take(missing))
        ends = np.cumsum(sizes)
        for i, start, end in zip(missing, (ends - sizes).tolist(), ends.tolist()):
            identities[i] = hashlib.blake2b(points[start:end].tobytes()).hexdigest()
    return identities


def _shard_of(hashes, seed, shards):
    """Each drawing's shard among `shards` of its split: SplitMix64 of its identity hash mixed with the seed."""
    mixed = (hashes ^ np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)).astype(np.uint64)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        mixed = (mixed ^ (mixed >> np.uint64(shift))) * np.uint64(factor)
    return (mixed ^ (mixed >> np.uint64(31))) % shards.astype(np.uint64)


def _write_shard(output_dir, split, shard, shards, columns, seed):
    """Pass 2 for one shard: its scattered records, in input order, shuffled, written atomically."""
    work = output_dir / ".convert"
    parts = sorted((work / "scatter").glob(f"*/{split}-{shard:05d}.arrow"))
    tables = [pa.ipc.open_file(pa.memory_map(str(p))).read_all().select(columns) for p in parts]
    table = pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table().select(columns)
    order = np.random.default_rng([seed, SPLITS.index(split), shard]).permutation(table.num_rows)
    table = table.take(order)  # from the memory-mapped chunks: no combined copy first
    name = _shard_name(split, shard, shards)
    temporary = work / f"{name}.tmp"
    pq.write_table(table, temporary, row_group_size=_ROW_GROUP)
    with open(temporary, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temporary, output_dir / "data" / name)
    _fsync_dir(output_dir / "data")


def _shard_name(split, shard, shards):
    return f"{split}-{shard:05d}-of-{shards:05d}.parquet"


def _run(function, tasks, workers, description, unit):
    """`function(*task)` for each task, in this process or over `workers` processes, with a progress bar."""
    bar = tqdm(total=len(tasks), desc=description, unit=unit, disable=None)
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            function(*task)
            bar.update()
    else:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
            for _ in pool.imap_unordered(_call, [(function, task) for task in tasks]):
                bar.update()
    bar.close()


def _call(job):
    function, task = job
    return function(*task)


def _write_atomic(path, data):
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder):
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


_SCHEMA_LINES = """| column | type | holds |
|---|---|---|
| `word` | string | the class name |
| `key_id` | string | Google's drawing id (null for sketch-rnn drawings) |
| `countrycode` | string | two-letter country code (null where the source has none) |
| `timestamp` | string | Google's text, e.g. `2017-03-01 20:34:10.93213 UTC` (null where the source has none) |
| `recognized` | bool | whether the game recognised the drawing (null where the source has none) |
| `simplified_x` | list<list<uint8>> | simplified drawings: the x of each stroke's points, 0..255 |
| `simplified_y` | list<list<uint8>> | simplified drawings: the y of each stroke's points, 0..255 |
| `raw_x` | list<list<float64>> | raw drawings: the x of each stroke's points, in screen pixels |
| `raw_y` | list<list<float64>> | raw drawings: the y of each stroke's points, in screen pixels |
| `raw_t` | list<list<int32>> | raw drawings: each point's time, in ms since the first point |
| `stroke3` | list<fixed_size_list<int16, 3>> | sketch-rnn drawings: `(dx, dy, pen_lifted)` rows |"""

_CARD = """---
license: cc-by-4.0
pretty_name: Quick, Draw! (Google's records, sketchkeras)
tags:
- quickdraw
- sketches
- strokes
- sketchkeras
task_categories:
- image-classification
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
  - split: validation
    path: data/validation-*.parquet
  - split: test
    path: data/test-*.parquet
---

# Quick, Draw!

{rows} drawings of {words} classes from Google's [Quick, Draw! dataset](https://github.com/googlecreativelab/quickdraw-dataset)
({formats}), converted by `sketchkeras convert` from {files}. Each row keeps Google's record losslessly.

Splits: by a hash of each drawing's identity (its `key_id`, else its strokes), 80/10/10, the same on every
machine (`sketchkeras.streaming.hash_split`). Shards: by a hash of the same identity (seed {seed}), each a fair
sample of every class, its rows shuffled.

## Schema

{schema}

Load it with `sketchkeras.load_quickdraw("owner/name")` (drawings as `(n, 3)` strokes) or
`datasets.load_dataset("owner/name")` (Google's records).

## Counts

{counts}

## License and attribution

The drawings are by Google LLC, from the Quick, Draw! dataset, licensed under
[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/). This copy only changes their encoding.
"""
