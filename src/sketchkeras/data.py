"""Quick, Draw! data as Hugging Face `datasets`: loading, splits, parquet, batches.

Every loader returns rows with the same columns:

* `word`: a `ClassLabel` over Google's 345 categories (in `categories.txt`
  order) or over the class list you pass;
* `key_id`: Google's drawing id (`None` where the file has none);
* `recognized`: Google's flag (`None` where unknown);
* `strokes`: the canonical `(n, 3)` float32 input of `sketchkeras.strokes`.

Example:
>>> from sketchkeras import load_quickdraw, split_dataset, bundled_sample_dir
>>> ds = load_quickdraw(bundled_sample_dir(), classes=["cat", "dog"], max_per_class=20)
>>> ds.num_rows, ds.features["word"].names
(40, ['cat', 'dog'])
>>> splits = split_dataset(ds, seed=0)
>>> sorted(splits)
['test', 'train', 'validation']
"""

import difflib
import hashlib
from collections import Counter
from importlib import resources
from pathlib import Path

import datasets
import keras
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.utils.tqdm import tqdm

# SkippedRecordsWarning stays importable from here, where it was first defined.
from sketchkeras.sources import (
    SkippedRecords,
    file_kind,
    is_dataset_repo,
    known_records,
    load_repository,
    source_files,
)
from sketchkeras.strokes import canonical_simplified, canonical_strokes, simplified_points

# The drawing columns of `sketchkeras.convert_quickdraw`'s rows (Google's records), and the format of each.
DRAWING_COLUMNS = {
    "simplified_x": "simplified",
    "simplified_y": "simplified",
    "raw_x": "raw",
    "raw_y": "raw",
    "raw_t": "raw",
    "stroke3": "stroke3",
}
BUCKET_LENGTHS = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def categories():
    """Google's 345 Quick, Draw! class names, in the official order.

    Example:
    >>> names = categories()
    >>> len(names), names[:2]
    (345, ['aircraft carrier', 'airplane'])
    """
    text = resources.files("sketchkeras").joinpath("data/categories.txt").read_text()
    return [line for line in text.splitlines() if line]


def qd35_classes():
    """The 35 QD-35 benchmark classes (those with ≥ 385 drawings in the shared sample).

    Example:
    >>> names = qd35_classes()
    >>> len(names), names[0]
    (35, 'airplane')
    """
    text = resources.files("sketchkeras").joinpath("data/qd35.txt").read_text()
    return [line for line in text.splitlines() if line]


def bundled_sample_dir():
    """Folder of the real QD-35 sample shipped with the package (CC BY 4.0, Google).

    400 drawings for each of the 35 benchmark classes: Google's simplified
    ndjson, completed from sketch-rnn `.npz` files for the four classes that
    have fewer simplified drawings (see `ATTRIBUTION.md` in that folder).

    Example:
    >>> sorted(p.name for p in (bundled_sample_dir() / "simplified").glob("*.gz"))[:2]
    ['airplane.ndjson.gz', 'alarm clock.ndjson.gz']
    """
    return Path(str(resources.files("sketchkeras").joinpath("data/qd35")))


def load_quickdraw(source, classes=None, max_per_class=None, strict=False, max_points=None):
    """Loads Quick, Draw! drawings from Google files, parquet or the Hub.

    Args:
        source: a folder, file or glob (or a list of them) of Google ndjson
            (simplified or raw, optionally `.gz`), sketch-rnn `.npz` (all
            its splits, in file order) and parquet written by
            `convert_quickdraw`; or a dataset repository holding such
            parquet files: a Hub id (`"owner/name"`,
            `"hf://datasets/owner/name"`) or `convert_quickdraw`'s folder.
        classes: the class list (its order gives the label ids); defaults
            to Google's 345 categories. Records of other known categories are
            left out; records whose word is not a Quick, Draw! category are
            bad records. A name that is neither a category nor present in
            the data (in parquet: its stored names) is a `ValueError` that
            suggests the closest real names.
        max_per_class: keep at most this many drawings per class (the first
            ones, in the order the sources and their sorted files are given).
        strict: raise on the first bad record or unreadable file instead of
            skipping it.
        max_points: truncate drawings to this many points.

    Returns:
        A `datasets.Dataset`; for a dataset repository, its `DatasetDict`.
        Skipped bad records and files (a corrupt `.gz` or `.npz` among good
        ones) are reported with a `SkippedRecordsWarning`.

    Raises:
        ValueError: an unknown class name; parquet without sketchkeras'
            columns; with `strict=True`, the first bad record or file.

    Example:
    >>> ds = load_quickdraw(bundled_sample_dir() / "simplified" / "cat.ndjson.gz", classes=["cat"])
    >>> ds.num_rows, ds[0]["word"], len(ds[0]["strokes"][0])
    (400, 0, 3)
    """
    known = categories()
    labels = list(classes) if classes is not None else known
    check = classes is not None
    if is_dataset_repo(source):
        return _select_parquet(load_repository(source), labels, max_per_class, str(source), check)
    files = source_files(source)
    parquet = [str(f) for f in files if file_kind(f) == "parquet"]
    if parquet:
        if len(parquet) != len(files):
            raise ValueError(f"{source}: load parquet files apart from Google's ndjson and npz files")
        loaded = datasets.load_dataset("parquet", data_files=parquet, split="train")
        return _select_parquet(loaded, labels, max_per_class, ", ".join(Path(f).name for f in parquet), check)
    rows, skipped = _Rows(labels, max_per_class), SkippedRecords(strict)
    # No bar in a log (stderr not a terminal) nor after datasets.disable_progress_bars().
    files = tqdm(files, desc="Reading Quick, Draw! files", unit="file", disable=None)
    for _, record in known_records(files, set(known) | set(labels), skipped, max_points):
        rows.add(record)
    check_classes(labels, set(known) | rows.seen, source)
    skipped.warn(stacklevel=2)
    return rows.dataset()


def check_classes(classes, available, source):
    """Raises a `ValueError` naming the first class not in `available`, with the closest real names.

    Example:
    >>> check_classes(["cat", "dgo"], categories(), "my data")
    Traceback (most recent call last):
    ...
    ValueError: my data: unknown class 'dgo'; did you mean 'dog' or 'dragon'?
    """
    available = set(available)
    for name in classes:
        if name not in available:
            close = _closest(str(name), available)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "; no class is close to it"
            raise ValueError(f"{source}: unknown class {name!r}{hint}")


def _closest(name, names, n=3, cutoff=0.6):
    """Up to `n` of `names` most like `name`: difflib's ratio, averaged with the ratio of sorted letters (swaps)."""

    def score(other):
        a, b = name.lower(), other.lower()
        ratio = difflib.SequenceMatcher(None, a, b).ratio()
        return (ratio + difflib.SequenceMatcher(None, sorted(a), sorted(b)).ratio()) / 2

    scored = sorted(((score(other), other) for other in names), key=lambda pair: (-pair[0], pair[1]))
    return [other for value, other in scored[:n] if value >= cutoff]


def split_dataset(dataset, validation_size=0.1, test_size=0.1, seed=0):
    """Seeded split, stratified by `word` and grouped by drawing identity.

    Drawings that share a `key_id` (a raw drawing and its simplified form)
    or the same strokes (one drawing found in several files, with or
    without a `key_id`) are one identity, and an identity lands in one
    split only.

    Args:
        validation_size, test_size: a fraction of each class's identities,
            or an int: that many identities of each class (a class-balanced
            split; a class with fewer than three times as many keeps at
            least a third for training).
        seed: seeds the assignment.

    Example:
    >>> ds = load_quickdraw(bundled_sample_dir(), classes=["cat", "pig"])
    >>> {name: split.num_rows for name, split in split_dataset(ds, seed=0).items()}
    {'train': 640, 'validation': 80, 'test': 80}
    >>> {name: split.num_rows for name, split in split_dataset(ds, test_size=25, seed=0).items()}
    {'train': 670, 'validation': 80, 'test': 50}
    """
    groups = drawing_identities(dataset)
    words = np.asarray(dataset["word"])
    rng = np.random.default_rng(seed)
    parts = {"train": [], "validation": [], "test": []}
    assigned = {}
    for word in np.unique(words):
        rows = np.flatnonzero(words == word)
        unique = sorted({groups[i] for i in rows} - assigned.keys())
        order = rng.permutation(len(unique))
        n_test, n_valid = (_split_count(size, len(unique)) for size in (test_size, validation_size))
        for rank, g in enumerate(order):
            assigned[unique[g]] = "test" if rank < n_test else "validation" if rank < n_test + n_valid else "train"
        for i in rows:
            parts[assigned[groups[i]]].append(i)
    return datasets.DatasetDict({name: dataset.select(sorted(idx)) for name, idx in parts.items()})


def _split_count(size, identities):
    if isinstance(size, (int, np.integer)):
        return min(int(size), identities // 3)
    return round(size * identities)


def drawing_identities(dataset):
    """One identity per row: rows that share a `key_id` or the same strokes get the same one.

    An identity is the smallest `key_id` among its rows, or, where none has
    one, a hash of the strokes.

    Example:
    >>> ds = datasets.Dataset.from_dict(
    ...     {"key_id": ["7", None, "3", "7"], "strokes": [[[0, 1, 1]], [[0, 1, 1]], [[2, 2, 1]], [[5, 5, 1]]]})
    >>> identities = drawing_identities(ds)
    >>> identities[:3], identities[3]
    (['7', '7', '3'], '7')
    """
    flat, offsets = _strokes_buffers(dataset)
    parent = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = node = parent[parent[node]]
        return node

    contents = []
    for i, key in enumerate(dataset["key_id"]):
        content = (1, hashlib.blake2b(flat[offsets[i] : offsets[i + 1]].tobytes()).hexdigest())
        if key is not None:
            # The smaller root becomes the parent: key nodes (0, key) sort before content nodes (1, hash), so a
            # component is named by its smallest key_id.
            a, b = sorted((root(content), root((0, key))))
            parent[b] = a
        contents.append(content)
    return [root(content)[1] for content in contents]


def exclude_drawings(dataset, others):
    """The rows of `dataset` that share no drawing identity (`drawing_identities`) with a row of `others`.

    Use it to keep a second training stage's data apart from a first stage's
    held-out drawings: the same drawing in two files, or a raw drawing and
    its simplified form, counts as one.

    Example:
    >>> strokes = [[[0, 1, 1]], [[5, 5, 1]], [[2, 2, 1]]]
    >>> ds = datasets.Dataset.from_dict({"key_id": ["1", None, "2"], "strokes": strokes})
    >>> held_out = datasets.Dataset.from_dict({"key_id": ["9", "2"], "strokes": [[[5, 5, 1]], [[7, 7, 1]]]})
    >>> list(exclude_drawings(ds, held_out)["key_id"])
    ['1']
    """
    columns = ["key_id", "strokes"]
    both = datasets.concatenate_datasets([others.select_columns(columns), dataset.select_columns(columns)])
    identities = drawing_identities(both)
    taken = set(identities[: others.num_rows])
    return dataset.select([i for i, identity in enumerate(identities[others.num_rows :]) if identity not in taken])


def bucket_length(n, max_points):
    """The padded length a drawing of `n` points gets: the smallest bucket ≥ n (elementwise for an array).

    Example:
    >>> bucket_length(40, max_points=256), bucket_length(900, max_points=256)
    (48, 256)
    >>> bucket_length(np.array([1, 17, 300]), max_points=256).tolist()
    [16, 32, 256]
    """
    lengths = np.minimum([*BUCKET_LENGTHS, max_points], max_points)
    padded = lengths[np.searchsorted(BUCKET_LENGTHS, np.minimum(n, max_points))]
    return int(padded) if np.ndim(n) == 0 else padded


def pad_strokes(strokes, length):
    """Right-pads canonical stroke arrays into `(batch, length, 3)` plus lengths.

    Drawings longer than `length` are truncated to their first points.

    Example:
    >>> x, lengths = pad_strokes([np.ones((2, 3), "float32"), np.ones((5, 3), "float32")], 4)
    >>> x.shape, lengths.tolist(), float(x[0, 2:].sum())
    ((2, 4, 3), [2, 4], 0.0)
    """
    sizes = np.array([len(drawing) for drawing in strokes], dtype=np.int64)
    flat = np.concatenate(strokes) if len(strokes) else np.zeros((0, 3), np.float32)
    return pad_points(flat, np.cumsum(sizes) - sizes, sizes, length)


def pad_points(points, starts, sizes, length):
    """Right-pads drawings stored back to back in one `(points, 3)` array into `(batch, length, 3)` plus lengths.

    Drawing `i` is `points[starts[i] : starts[i] + sizes[i]]`, truncated to
    its first `length` points; one vectorised copy, no Python per drawing.

    Example:
    >>> points = np.arange(15, dtype="float32").reshape(5, 3)
    >>> x, lengths = pad_points(points, starts=np.array([3, 0]), sizes=np.array([2, 3]), length=2)
    >>> x[:, :, 0].tolist(), lengths.tolist()
    ([[9.0, 12.0], [0.0, 3.0]], [2, 2])
    """
    kept = np.minimum(sizes, length).astype(np.int64)
    batch = np.zeros((len(kept), length, 3), dtype=np.float32)
    rows = np.repeat(np.arange(len(kept)), kept)
    columns = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    batch[rows, columns] = points[np.repeat(np.asarray(starts, np.int64), kept) + columns]
    return batch, kept.astype(np.int32)


class StrokeBatches(keras.utils.PyDataset):
    """Length-bucketed, right-padded batches of a stroke dataset for `model.fit`.

    Each batch is `({"strokes": (b, L, 3) float32, "lengths": (b,) int32},
    labels (b,) int32)`, with `L` drawn from a small fixed set of bucket
    lengths (so JAX compiles a few graphs, not one per batch). With
    `shuffle=True` the batches of epoch `e` are a fixed function of
    `(seed, e)`: reshuffled every epoch, and the same again when a run
    resumes. `augment=True` (for training only) applies a random scale,
    shear and rotation to each drawing's offsets, and cuts a `cut_fraction`
    of the drawings (one in five) after their first 25-100% of points (pen
    lifted there), so that the model also learns drawings in progress, as
    live recognition sees them; `cut_fraction=0` trains on whole drawings.
    `drop_fraction` drops that share of the points inside strokes at random
    (each dropped point's offset carried to the next one, so the rest of the
    drawing stays where it was), as sketch-rnn's `augment_strokes` does: a
    drawing seen many times is seen with fewer, different points each time.
    `per_class=N` samples class-balanced epochs: each epoch draws N
    drawings of every class, a fresh subset of a large class and repeats of
    a small one, so that all the data is seen over the epochs and a class
    with 2,400 drawings weighs no more than one with 30.

    Example:
    >>> ds = load_quickdraw(bundled_sample_dir(), classes=["cat", "dog"])
    >>> batches = StrokeBatches(ds, batch_size=32, max_points=128)
    >>> x, y = batches[0]
    >>> x["strokes"].shape[0], x["strokes"].shape[1] in (16, 32, 48, 64, 96, 128)
    (32, True)
    >>> balanced = StrokeBatches(ds, batch_size=32, per_class=100)
    >>> len(balanced), np.bincount(np.concatenate([balanced[i][1] for i in range(len(balanced))])).tolist()
    (7, [100, 100])
    """

    def __init__(
        self,
        dataset,
        batch_size=64,
        max_points=256,
        shuffle=True,
        augment=False,
        cut_fraction=0.2,
        drop_fraction=0.0,
        per_class=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("cut_fraction", cut_fraction), ("drop_fraction", drop_fraction)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        self.flat, self.offsets = _strokes_buffers(dataset)
        self.lengths = np.minimum(np.diff(self.offsets), max_points)
        self.labels = np.asarray(dataset["word"], dtype=np.int32)
        self.batch_size = batch_size
        self.max_points = max_points
        self.shuffle = shuffle
        self.augment = augment
        self.cut_fraction = cut_fraction
        self.drop_fraction = drop_fraction
        self.per_class = per_class
        self.seed = seed
        self.padded = bucket_length(self.lengths, max_points)
        self.classes = [np.flatnonzero(self.labels == label) for label in np.unique(self.labels)]
        self.arrange(0)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        length, rows = self.batches[index]
        batch, lengths = pad_points(self.flat, self.offsets[rows], self.lengths[rows], length)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            batch[..., :2] = np.einsum("btj,bij->bti", batch[..., :2], _random_transforms(rng, len(rows)))
            # Drawings in progress: a cut_fraction is cut after its first 25-100% of points, pen lifted.
            cut = np.flatnonzero(rng.random(len(rows)) < self.cut_fraction)
            kept = np.ceil(rng.uniform(0.25, 1.0, len(cut)) * lengths[cut]).astype(np.int32)
            for i, n in zip(cut, kept):
                batch[i, n:] = 0.0
                batch[i, n - 1, 2] = 1.0
            lengths[cut] = kept
            if self.drop_fraction:
                batch, lengths = _drop_points(batch, lengths, rng.random(batch.shape[:2]) < self.drop_fraction)
        return {"strokes": batch, "lengths": lengths}, self.labels[rows]

    def arrange(self, epoch):
        """Lays out the batches of `epoch` (Keras calls `on_epoch_end` for the next)."""
        # Rows sorted by bucket (shuffled within each), cut into batches: only
        # batches straddling two buckets take the longer length, and only the
        # last batch is short, so an epoch has at most one shape per bucket + 1.
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        rows = np.arange(len(self.labels))
        if self.per_class is not None:
            # Each class's drawings in a fresh order, cycled to per_class (subset or repeats).
            rows = np.sort(np.concatenate([np.resize(rng.permutation(c), self.per_class) for c in self.classes]))
        padded = self.padded[rows]
        order = np.concatenate(
            [
                rng.permutation(rows[padded == length]) if self.shuffle else rows[padded == length]
                for length in np.unique(padded)
            ]
        )
        self.batches = []
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            self.batches.append((bucket_length(int(self.lengths[rows].max()), self.max_points), rows))
        if self.shuffle:
            self.batches = [self.batches[i] for i in rng.permutation(len(self.batches))]
        self._lead_with_distinct_shapes()

    def _lead_with_distinct_shapes(self):
        # Keras' TensorFlow backend fixes the tf.data signature from the first
        # two batches: they must differ in every dimension that varies.
        if len(self.batches) < 2:
            return
        sizes = [len(rows) for _, rows in self.batches]
        first = int(np.argmin(sizes))
        others = [i for i in range(len(self.batches)) if i != first]
        second = next((i for i in others if self.batches[i][0] != self.batches[first][0]), others[0])
        lead = [self.batches[first], self.batches[second]]
        self.batches = lead + [b for i, b in enumerate(self.batches) if i not in (first, second)]

    def on_epoch_end(self):
        self.arrange(self.epoch + 1)

    def padding_fraction(self):
        """Fraction of the padded batch cells that are padding.

        Example:
        >>> ds = load_quickdraw(bundled_sample_dir(), classes=["circle"])
        >>> 0 < StrokeBatches(ds, batch_size=32).padding_fraction() < 0.5
        True
        """
        padded = sum(length * len(rows) for length, rows in self.batches)
        return 1.0 - float(self.lengths.sum()) / padded


class _Rows:
    """Collects good records of known words into Arrow columns."""

    def __init__(self, labels, max_per_class):
        self.label_ids = {name: i for i, name in enumerate(labels)}
        self.labels, self.max_per_class = labels, max_per_class
        self.per_class, self.seen = Counter(), set()
        self.words, self.key_ids, self.recognized, self.strokes = [], [], [], []

    def add(self, record):
        word = record["word"]
        self.seen.add(word)
        label = self.label_ids.get(word)
        if label is None or (self.max_per_class is not None and self.per_class[label] >= self.max_per_class):
            return
        self.per_class[label] += 1
        self.words.append(label)
        self.key_ids.append(record["key_id"])
        self.recognized.append(record["recognized"])
        self.strokes.append(record["strokes"])

    def dataset(self):
        lengths = np.array([len(s) for s in self.strokes], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        flat = np.concatenate(self.strokes) if self.strokes else np.zeros((0, 3), np.float32)
        points = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), 3)
        columns = {
            "word": pa.array(self.words, pa.int64()),
            "key_id": pa.array(self.key_ids, pa.string()),
            "recognized": pa.array(self.recognized, pa.bool_()),
            "strokes": pa.ListArray.from_arrays(pa.array(offsets), points),
        }
        return datasets.Dataset.from_dict(columns, features=features(self.labels))


def features(labels):
    """The `datasets.Features` of every sketchkeras stroke dataset.

    Example:
    >>> sorted(features(["cat", "dog"]))
    ['key_id', 'recognized', 'strokes', 'word']
    """
    return datasets.Features(
        {
            "word": datasets.ClassLabel(names=list(labels)),
            "key_id": datasets.Value("string"),
            "recognized": datasets.Value("bool"),
            "strokes": datasets.List(datasets.List(datasets.Value("float32"), length=3)),
        }
    )


def parquet_classes(features, source):
    """The class names a parquet stroke dataset stores, checking it has sketchkeras' columns.

    Example:
    >>> import datasets
    >>> strings = datasets.Features({"word": datasets.Value("string"), "strokes": features(["cat"])["strokes"]})
    >>> parquet_classes(strings, "x.parquet")
    Traceback (most recent call last):
    ...
    ValueError: x.parquet: 'word' holds string values, not a ClassLabel: write it with sketchkeras convert
    """
    features = features or {}
    missing = [name for name in ("word", "strokes") if name not in features]
    if missing:
        raise ValueError(
            f"{source}: no {' or '.join(map(repr, missing))} column (has {sorted(features)}): "
            "not a sketchkeras stroke dataset; write it with sketchkeras convert"
        )
    word = features["word"]
    if not isinstance(word, datasets.ClassLabel):
        kind = getattr(word, "dtype", type(word).__name__)
        raise ValueError(f"{source}: 'word' holds {kind} values, not a ClassLabel: write it with sketchkeras convert")
    return word.names


def _select_parquet(loaded, labels, max_per_class, source, check):
    """The rows of `labels` (each of them stored there, if `check`), renumbered in that order."""
    if isinstance(loaded, datasets.DatasetDict):
        selected = {k: _select_parquet(v, labels, max_per_class, source, check) for k, v in loaded.items()}
        return datasets.DatasetDict(selected)
    if is_record_layout(loaded.features):
        loaded = _canonical_records(loaded, labels)
    stored = parquet_classes(loaded.features, source)
    if check:
        check_classes(labels, stored, source)
    wanted = [i for i, name in enumerate(stored) if name in set(labels)]
    words = np.asarray(loaded["word"])
    keep = np.flatnonzero(np.isin(words, wanted))
    if max_per_class is not None:
        keep = np.concatenate([keep[words[keep] == w][:max_per_class] for w in wanted]) if wanted else keep
    selected = loaded.select(np.sort(keep))
    mapping = {name: i for i, name in enumerate(labels)}
    return (
        selected.cast_column("word", datasets.ClassLabel(names=stored))
        .align_labels_with_mapping(mapping, "word")
        .cast(features(labels))
    )


def is_record_layout(features):
    """Whether parquet `features` hold Google's records (`sketchkeras.convert_quickdraw`) rather than strokes.

    Example:
    >>> is_record_layout(features(["cat"])), is_record_layout({"word": None, "simplified_x": None})
    (False, True)
    """
    return (
        bool(features)
        and "word" in features
        and "strokes" not in features
        and any(column in features for column in DRAWING_COLUMNS)
    )


def record_strokes(row, max_points=None):
    """The canonical strokes of one of `sketchkeras.convert_quickdraw`'s rows (a dict with its drawing columns).

    Example:
    >>> record_strokes({"simplified_x": [[0, 255], [0]], "simplified_y": [[0, 0], [100]]})[:, 2].tolist()
    [0.0, 1.0, 1.0]
    """
    if row.get("simplified_x") is not None:
        drawing = [[xs, ys] for xs, ys in zip(row["simplified_x"], row["simplified_y"])]
        return canonical_strokes(drawing, "simplified", max_points)
    if row.get("raw_x") is not None:
        drawing = [[xs, ys, ts] for xs, ys, ts in zip(row["raw_x"], row["raw_y"], row["raw_t"])]
        return canonical_strokes(drawing, "raw", max_points)
    return canonical_strokes(np.asarray(row["stroke3"], dtype=np.int16), "stroke3", max_points)


def record_table(table, label_ids):
    """A `pyarrow.Table` of `convert_quickdraw`'s rows as one of `features`' columns; every word in `label_ids`.

    The strokes are `record_points`' (vectorised for simplified drawings).

    Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"word": ["dog"], "key_id": ["7"], "simplified_x": [[[0, 9]]], "simplified_y": [[[0, 9]]]})
    >>> rows = record_table(table, {"cat": 0, "dog": 1}).to_pylist()
    >>> rows[0]["word"], rows[0]["key_id"], rows[0]["recognized"], rows[0]["strokes"]
    (1, '7', None, [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    """
    n = table.num_rows
    flat, lengths = record_points(table)
    word_index = pc.index_in(table["word"], value_set=pa.array(list(label_ids), pa.string())).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    points = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), 3)
    column = {name: table[name] if name in table.column_names else pa.nulls(n) for name in ("key_id", "recognized")}
    return pa.table(
        {
            "word": np.array(list(label_ids.values()), np.int64)[word_index],
            "key_id": column["key_id"].cast(pa.string()),
            "recognized": column["recognized"].cast(pa.bool_()),
            "strokes": pa.ListArray.from_arrays(pa.array(offsets), points),
        }
    )


def record_points(table):
    """The canonical strokes of a `pyarrow.Table` of `convert_quickdraw`'s rows: flat `(points, 3)` float32 and sizes.

    Drawing `i` is `points[sum(sizes[:i]) :][: sizes[i]]`, as `record_strokes`
    gives it. The simplified and the stroke-3 drawings are canonicalised all
    at once, each format in one pass (`sketchkeras.strokes.canonical_simplified`);
    raw drawings, which Google's simplification takes one by one, go a
    drawing at a time.

    Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"simplified_x": [[[0, 9]], [[5]]], "simplified_y": [[[0, 9]], [[5]]]})
    >>> points, sizes = record_points(table)
    >>> sizes.tolist(), points[:, 2].tolist()
    ([2, 1], [0.0, 1.0, 1.0])
    """
    formats = np.full(table.num_rows, 2)  # 0 simplified, 1 stroke-3, 2 anything else
    for code, column in ((1, "stroke3"), (0, "simplified_x")):
        if column in table.column_names:
            formats[table[column].is_valid().to_numpy(zero_copy_only=False)] = code
    parts = []
    for code in np.unique(formats).tolist():
        rows = np.flatnonzero(formats == code)
        part = table if len(rows) == table.num_rows else table.take(rows)
        vectorised = (simplified_points, _stroke3_strokes, None)[code]
        parts.append((rows, (vectorised and vectorised(part)) or _drawing_by_drawing(part)))
    if len(parts) == 1:
        return parts[0][1]
    sizes = np.zeros(table.num_rows, np.int64)
    for rows, (_, part_sizes) in parts:
        sizes[rows] = part_sizes
    starts = np.cumsum(sizes) - sizes
    points = np.empty((sizes.sum(), 3), np.float32)
    for rows, (part_points, part_sizes) in parts:
        within = np.arange(len(part_points)) - np.repeat(np.cumsum(part_sizes) - part_sizes, part_sizes)
        points[np.repeat(starts[rows], part_sizes) + within] = part_points
    return points, sizes


def _drawing_by_drawing(table):
    drawings = table.select([c for c in DRAWING_COLUMNS if c in table.column_names]).to_pylist()
    arrays = [record_strokes(row) for row in drawings]
    sizes = np.array([len(a) for a in arrays], dtype=np.int64)
    return (np.concatenate(arrays) if arrays else np.zeros((0, 3), np.float32)), sizes


def _stroke3_strokes(table):
    """Flat `(points, 3)` canonical strokes and per-row lengths of a table whose rows all hold stroke-3 drawings.

    The offsets are summed per drawing in integers (exact), then go through
    `canonical_simplified`; None if any row holds another format or no point.
    """
    drawings = table["stroke3"].combine_chunks()
    sizes = drawings.value_lengths().to_numpy(zero_copy_only=False)
    if drawings.null_count or not len(sizes) or (sizes == 0).any():
        return None
    rows = drawings.flatten().flatten().to_numpy(zero_copy_only=False).reshape(-1, 3).astype(np.int64)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    summed = np.cumsum(rows[:, :2], axis=0)
    before = np.concatenate([[[0, 0]], summed[ends[:-1] - 1]])
    points = summed - np.repeat(before, sizes, axis=0)
    lifted = rows[:, 2] > 0
    lifted[ends - 1] = True
    stroke_ends = np.flatnonzero(lifted) + 1
    stroke_points = np.diff(stroke_ends, prepend=0)
    drawing_strokes = np.add.reduceat(lifted.astype(np.int64), starts)
    return canonical_simplified(points[:, 0], points[:, 1], stroke_points, drawing_strokes)


def _canonical_records(loaded, labels):
    """Google's records of `labels` as stroke rows; the class names stored are those of `labels` present."""
    present = set(loaded.unique("word"))
    stored = [name for name in labels if name in present]
    ids = {name: i for i, name in enumerate(stored)}
    kept = loaded.filter(lambda word: word in ids, input_columns="word").with_format("arrow")
    columns = kept.column_names
    rows = kept.map(
        record_table, fn_kwargs={"label_ids": ids}, batched=True, remove_columns=columns, features=features(stored)
    )
    return rows.with_format(None)


def stroke_arrays(dataset):
    """The `strokes` column as a list of `(n, 3)` float32 arrays (views, no copies).

    Example:
    >>> arrays = stroke_arrays(load_quickdraw(bundled_sample_dir(), classes=["cat"], max_per_class=3))
    >>> len(arrays), arrays[0].dtype.name, arrays[0].shape[1]
    (3, 'float32', 3)
    """
    flat, offsets = _strokes_buffers(dataset)
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def _random_transforms(rng, n):
    """`n` random 2x2 maps: scale 0.8-1.2 per axis, shear ±0.15, rotation ±12°."""
    scale = rng.uniform(0.8, 1.2, size=(n, 2))
    shear = rng.uniform(-0.15, 0.15, size=n)
    angle = np.deg2rad(rng.uniform(-12, 12, size=n))
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
    affine = np.zeros((n, 2, 2))
    affine[:, 0, 0], affine[:, 0, 1], affine[:, 1, 1] = scale[:, 0], shear, scale[:, 1]
    return (rotation @ affine).astype(np.float32)


def _drop_points(batch, lengths, chosen):
    """`batch` without the `chosen` points that lie inside a stroke (not its first two or its last), re-padded."""
    pen = batch[..., 2]
    inside = np.zeros(pen.shape, bool)
    inside[:, 2:] = (pen[:, 2:] == 0) & (pen[:, 1:-1] == 0) & (pen[:, :-2] == 0)
    steps = np.arange(batch.shape[1])
    keep = (steps < lengths[:, None]) & ~(inside & chosen)
    # The kept points' positions, moved to the front of each row in order, back to offsets.
    order = np.argsort(~keep, axis=1, kind="stable")[..., None]
    positions = np.take_along_axis(np.cumsum(batch[..., :2], axis=1), order, axis=1)
    lengths = keep.sum(axis=1).astype(lengths.dtype)
    dropped = np.zeros_like(batch)
    dropped[..., :2] = np.diff(positions, axis=1, prepend=np.zeros_like(positions[:, :1]))
    dropped[..., 2:] = np.take_along_axis(batch[..., 2:], order, axis=1)
    dropped[steps[None] >= lengths[:, None]] = 0.0
    return dropped, lengths


def _strokes_buffers(dataset):
    """Zero-copy view of the `strokes` column: flat (points, 3) array and offsets."""
    column = dataset.with_format("arrow")["strokes"]
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = column.offsets.to_numpy()
    flat = column.values.values.to_numpy(zero_copy_only=False).reshape(-1, 3)
    return flat[offsets[0] :], offsets - offsets[0]
