"""Files, folders, globs, Hub ids -> records; bad-record accounting.

What `load_quickdraw`, `stream_quickdraw` and the `sketchkeras` command
read, found and read in one place:

* `is_dataset_repo` tells a dataset repository (a Hub id or
  `convert_quickdraw`'s folder, read by `load_repository`) from files;
* `source_files` turns a folder, file or glob (or a list of them) into
  the Quick, Draw! files it names, and `file_kind` tells their kind;
* `file_records` reads a Google ndjson or sketch-rnn file record by record,
  a bad record given as the `DrawingError` naming it;
* `known_records` keeps the records of known words, and `SkippedRecords`
  counts the bad ones (or raises at the first) and reports them with a
  `SkippedRecordsWarning`.

Example:
>>> from sketchkeras import bundled_sample_dir
>>> files = source_files(bundled_sample_dir())
>>> len(files), sorted({file_kind(f) for f in files})
(39, ['ndjson', 'npz'])
>>> skipped = SkippedRecords()
>>> where, record = next(known_records(files, {"airplane"}, skipped))
>>> where, record["word"], record["strokes"].shape[1]
('airplane.ndjson.gz:1', 'airplane', 3)
"""

import glob
import re
import warnings
from collections import Counter
from pathlib import Path

import datasets

from sketchkeras.sketchrnn import UnsafePickleError, load_sketchrnn_npz
from sketchkeras.strokes import DrawingError, canonical_strokes, read_ndjson

_HUB_ID = re.compile(r"^(hf://datasets/)?[\w.-]+/[\w.-]+$")
_SUFFIXES = ((".ndjson", "ndjson"), (".ndjson.gz", "ndjson"), (".npz", "npz"), (".parquet", "parquet"))


class SkippedRecordsWarning(UserWarning):
    """Bad records were skipped while loading; `counts` maps reasons to counts.

    `examples` holds the first few error messages, each naming file and line.

    Example:
    >>> str(SkippedRecordsWarning({"bad drawing": 1}, ["cat.ndjson:3: malformed JSON"]))
    "skipped 1 bad record(s) {'bad drawing': 1}: cat.ndjson:3: malformed JSON"
    """

    def __init__(self, counts, examples):
        self.counts = dict(counts)
        self.examples = list(examples)
        total = sum(self.counts.values())
        lines = "; ".join(self.examples)
        super().__init__(f"skipped {total} bad record(s) {self.counts}: {lines}")


class SkippedRecords:
    """Counts bad records by reason and keeps the first five messages; with `strict`, raises the first instead.

    Example:
    >>> import warnings
    >>> skipped = SkippedRecords()
    >>> skipped.skip(DrawingError("cat.ndjson:3: malformed JSON"), "bad drawing")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     skipped.warn()
    >>> caught[0].message.counts
    {'bad drawing': 1}
    >>> SkippedRecords(strict=True).skip(DrawingError("cat.ndjson:3: malformed JSON"), "bad drawing")
    Traceback (most recent call last):
    ...
    sketchkeras.strokes.DrawingError: cat.ndjson:3: malformed JSON
    """

    def __init__(self, strict=False):
        self.strict = strict
        self.counts, self.examples = Counter(), []

    def skip(self, error, reason):
        """Counts `error` (a `DrawingError`) under `reason`, or raises it if `strict`."""
        if self.strict:
            raise error
        self.counts[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(str(error))

    def warn(self, stacklevel=1):
        """Warns with a `SkippedRecordsWarning` if any record was skipped (`stacklevel` as `warnings.warn` takes it)."""
        if self.counts:
            warnings.warn(SkippedRecordsWarning(self.counts, self.examples), stacklevel=stacklevel + 1)


def is_dataset_repo(source):
    """Whether `source` is a Hub dataset id or a local folder in the Hub's layout (`convert_quickdraw`'s output).

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> [is_dataset_repo(source) for source in ("owner/name", "hf://datasets/owner/name", bundled_sample_dir())]
    [True, True, False]
    """
    if isinstance(source, (list, tuple)):
        return False
    text = str(source)
    if Path(text).is_dir():
        return (Path(text) / "README.md").is_file() and any(Path(text).glob("data/*.parquet"))
    return text.startswith("hf://datasets/") or bool(_HUB_ID.match(text))


def load_repository(source, streaming=False):
    """`datasets.load_dataset` for a Hub dataset id or a local folder in the Hub's layout.

    A local folder is loaded by its parquet files, so that `datasets`' cache
    follows the files (by folder, it would key on the folder's name alone).

    Example:
    >>> import tempfile
    >>> from sketchkeras import bundled_sample_dir, convert_quickdraw
    >>> cats = bundled_sample_dir() / "simplified" / "cat.ndjson.gz"
    >>> out = convert_quickdraw(cats, tempfile.mkdtemp(), classes=["cat"])
    >>> {name: split.num_rows for name, split in load_repository(out).items()}
    {'test': 49, 'train': 303, 'validation': 48}
    """
    if not Path(str(source)).is_dir():
        return datasets.load_dataset(str(source).removeprefix("hf://datasets/"), streaming=streaming)
    splits = sorted({p.name.split("-")[0] for p in Path(source).glob("data/*.parquet")})
    files = {split: str(Path(source) / "data" / f"{split}-*.parquet") for split in splits}
    return datasets.load_dataset("parquet", data_files=files, streaming=streaming)


def file_kind(path):
    """`"ndjson"` (`.ndjson`, `.ndjson.gz`), `"npz"`, `"parquet"`, or `None` for a file sketchkeras does not read.

    Example:
    >>> [file_kind(Path(name)) for name in ("cat.ndjson.gz", "cat.npz", "train.parquet", "cat.png")]
    ['ndjson', 'npz', 'parquet', None]
    """
    for suffix, kind in _SUFFIXES:
        if path.name.endswith(suffix):
            return kind
    return None


def source_files(source):
    """The Quick, Draw! files of a folder (sorted, subfolders too), file or glob (sorted), or of a list of them.

    Raises:
        FileNotFoundError: a folder or glob with no Quick, Draw! file.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> [f.name for f in source_files([bundled_sample_dir() / "sketchrnn", bundled_sample_dir() / "*/cat.*"])]
    ['alarm clock.npz', 'face.npz', 'pig.npz', 'radio.npz', 'cat.ndjson.gz']
    """
    return [f for s in (source if isinstance(source, (list, tuple)) else [source]) for f in _expand(s)]


def _expand(source):
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(source)) if file_kind(Path(p)))
    if not files:
        raise FileNotFoundError(f"{source}: no Quick, Draw! files (.ndjson, .ndjson.gz, .npz, .parquet) found")
    return files


def file_records(path, max_points=None):
    """`(where, record or DrawingError, reason)` for each drawing of a Google ndjson or sketch-rnn file.

    `reason` is `"bad drawing"` for a bad record and `"bad file"` for a file
    that cannot be read at all (a corrupt `.gz` or `.npz`, given once);
    a sketch-rnn drawing's word is its file's name.

    Example:
    >>> import tempfile, pathlib
    >>> from sketchkeras import bundled_sample_dir
    >>> where, record, _ = next(file_records(bundled_sample_dir() / "sketchrnn" / "face.npz"))
    >>> where, record["word"], record["key_id"]
    ('face.npz:train[0]', 'face', None)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cat.ndjson.gz"
    >>> _ = path.write_bytes(b"not gzip")
    >>> [(where, reason) for where, _, reason in file_records(path)]
    [('cat.ndjson.gz', 'bad file')]
    """
    path = Path(path)
    if file_kind(path) == "npz":
        for where, drawing, reason in npz_drawings(path):
            if isinstance(drawing, DrawingError):
                yield where, drawing, reason
            else:
                yield where, _stroke3_record(drawing, path.name.removesuffix(".npz"), max_points, where), reason
    else:
        for number, record in read_ndjson(path, max_points=max_points):
            yield (f"{path.name}:{number}", record, "bad drawing") if number else (path.name, record, "bad file")


def npz_drawings(path):
    """`(where, stroke-3 array or DrawingError, reason)` for each drawing of a sketch-rnn `.npz`, member by member.

    A file that cannot be read gives one `DrawingError` with reason
    `"bad file"`; an unsafe pickle raises `UnsafePickleError`.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> where, drawing, reason = next(npz_drawings(bundled_sample_dir() / "sketchrnn" / "face.npz"))
    >>> where, drawing.shape[1], reason
    ('face.npz:train[0]', 3, 'bad drawing')
    """
    path = Path(path)
    try:
        members = load_sketchrnn_npz(path)
    except UnsafePickleError:
        raise
    except ValueError as error:
        yield path.name, DrawingError(str(error)), "bad file"
        return
    for member, drawings in members.items():
        for i, drawing in enumerate(drawings):
            yield f"{path.name}:{member}[{i}]", drawing, "bad drawing"


def known_records(files, known, skipped, max_points=None):
    """`(where, record)` for each good record of `files` whose word is in `known`, in file order.

    Bad records and files go to `skipped` (a `SkippedRecords`) under the
    reasons `"bad drawing"`, `"bad file"` and `"unknown word"`.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> skipped = SkippedRecords()
    >>> records = list(known_records([bundled_sample_dir() / "simplified" / "cat.ndjson.gz"], {"dog"}, skipped))
    >>> len(records), dict(skipped.counts), skipped.examples[0]
    (0, {'unknown word': 400}, "cat.ndjson.gz:1: unknown word 'cat'")
    """
    for where, record, reason in (item for path in files for item in file_records(path, max_points)):
        if isinstance(record, DrawingError):
            skipped.skip(record, reason)
        elif record["word"] not in known:
            skipped.skip(DrawingError(f"{where}: unknown word {record['word']!r}"), "unknown word")
        else:
            yield where, record


def _stroke3_record(drawing, word, max_points, source):
    try:
        strokes = canonical_strokes(drawing, "stroke3", max_points, source)
    except DrawingError as error:
        return error
    return {"word": word, "key_id": None, "recognized": None, "strokes": strokes}
