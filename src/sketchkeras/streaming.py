"""Quick, Draw! as a stream: data that does not fit in memory, read lazily through `datasets`.

Google's full data holds 50M drawings; `load_quickdraw` holds everything in
memory, this module never does:

* `stream_quickdraw` gives a `datasets.IterableDataset` with the columns of
  `load_quickdraw` (`sketchkeras.data.features`). Google's files are
  read a record at a time, each file a shard, so
  `datasets.distributed.split_dataset_by_node` and `IterableDataset.shuffle`
  work file by file; parquet files and Hub datasets are streamed by
  `datasets.load_dataset(..., streaming=True)`, each parquet file a shard.
* `hash_split` puts each drawing in `train` (80%), `validation` (10%) or
  `test` (10%) by a hash of its identity alone, so held-out drawings are
  never trained on, whatever the order, sharding or number of files.
* `stream_batches` turns a stream into endless, shuffled, length-bucketed
  batches of the same structure as `sketchkeras.StrokeBatches`, for
  `model.fit(..., steps_per_epoch=...)`.
* `StreamEpochs` cuts such an endless stream into "epochs" of a fixed
  number of batches, with `len()` and `arrange(epoch)`, for
  `sketchkeras.training.train` (checkpoints, resume).
* `take_sample` keeps the first drawings of a shuffled stream as an
  in-memory `datasets.Dataset`: a fixed validation or test sample.

Example:
>>> from sketchkeras import bundled_sample_dir
>>> stream = stream_quickdraw(bundled_sample_dir() / "simplified", classes=["cat", "dog"], split="test")
>>> x, y = next(stream_batches(stream, batch_size=8, max_points=64))
>>> x["strokes"].shape[0], x["strokes"].shape[1] in (16, 32, 48, 64), y.dtype.name
(8, True, 'int32')
"""

import functools
import hashlib
import itertools
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import datasets
import keras
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sketchkeras.data import (
    BUCKET_LENGTHS,
    bucket_length,
    categories,
    check_classes,
    features,
    is_record_layout,
    pad_points,
    parquet_classes,
    record_table,
)
from sketchkeras.sources import SkippedRecords, file_kind, is_dataset_repo, known_records, load_repository, source_files

SPLITS = ("train", "validation", "test")
_CHUNK_ROWS = 256  # drawings of Google's files per chunk of the stream
_CHUNK_FEATURES = datasets.Features(
    {
        "word": datasets.List(datasets.Value("int64")),
        "key_id": datasets.List(datasets.Value("string")),
        "recognized": datasets.List(datasets.Value("bool")),
        "sizes": datasets.List(datasets.Value("int32")),
        "points": datasets.List(datasets.Value("float32")),
    }
)


def hash_split(key_id, strokes):
    """The split (`"train"`, `"validation"` or `"test"`) a drawing belongs to, from its identity alone.

    The identity is the one `sketchkeras.split_dataset` groups by: the
    `key_id` (so a drawing's raw and simplified forms share a split) or,
    without one, a hash of its canonical strokes (so duplicates do). Its
    BLAKE2b hash, read as a fraction of 2**64, falls in `test` below 0.1,
    in `validation` below 0.2 and in `train` above: the same answer on
    every machine and run.

    Example:
    >>> [hash_split(key_id, strokes=None) for key_id in ("1", "2", "3")]
    ['train', 'validation', 'train']
    """
    if key_id is None:
        key_id = hashlib.blake2b(np.ascontiguousarray(strokes, dtype=np.float32).tobytes()).hexdigest()
    return SPLITS[hash_splits(identity_hashes([key_id]))[0]]


def identity_hashes(identities):
    """The 64-bit BLAKE2b hash of each identity string (a `key_id`), as `hash_split` reads it, for many at once.

    Example:
    >>> identity_hashes(["1", "2"]).dtype.name, len(identity_hashes([]))
    ('uint64', 0)
    """
    digests = b"".join(hashlib.blake2b(identity.encode(), digest_size=8).digest() for identity in identities)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def hash_splits(hashes):
    """`hash_split` for many drawings: the index in `SPLITS` of each `identity_hashes` value.

    Example:
    >>> [SPLITS[i] for i in hash_splits(identity_hashes(["1", "2", "3"]))]
    ['train', 'validation', 'train']
    """
    fraction = hashes / 2.0**64  # as int / 2**64: scaling by a power of two keeps the rounding
    test, validation, train = (SPLITS.index(s) for s in ("test", "validation", "train"))
    return np.where(fraction < 0.1, test, np.where(fraction < 0.2, validation, train))


def stream_quickdraw(source, classes=None, split=None):
    """Streams Quick, Draw! drawings from Google files, parquet or the Hub.

    Args:
        source: what `load_quickdraw` reads: a folder, file or glob (or a
            list of them) of Google ndjson (simplified or raw, optionally
            `.gz`), sketch-rnn `.npz` and parquet; or a dataset repository
            of parquet files: a Hub id (`"owner/name"`,
            `"hf://datasets/owner/name"`) or `convert_quickdraw`'s folder.
        classes: the class list (its order gives the label ids); defaults
            to Google's 345 categories. Records of other known categories are
            left out; records whose word is not a Quick, Draw! category are
            bad records. A name that is not a category (for parquet: not
            one of its stored names) is a `ValueError` that suggests the
            closest real names.
        split: `None` for every drawing, or `"train"`, `"validation"` or
            `"test"`: for files, the drawings `hash_split` puts there; for
            a dataset repository, its own split of that name.

    Returns:
        A `datasets.IterableDataset` with the columns of `load_quickdraw`;
        for a dataset repository and `split=None`, its
        `IterableDatasetDict`. Each file is a shard, read in the order
        given (sorted within a folder); sketch-rnn `.npz` files are read
        whole. Bad records, and files that cannot be read at all, are
        skipped; each pass over a file reports them with a
        `SkippedRecordsWarning`.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> stream = stream_quickdraw(bundled_sample_dir() / "simplified", classes=["cat", "dog"])
    >>> stream.num_shards, stream.features["word"].names
    (35, ['cat', 'dog'])
    >>> row = next(iter(stream))
    >>> row["word"], len(row["strokes"][0])
    (0, 3)
    """
    labels = list(classes) if classes is not None else categories()
    if split not in (None, *SPLITS):
        raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
    check = classes is not None
    if is_dataset_repo(source):
        loaded = load_repository(source, streaming=True)
        if split is None:
            selected = {name: _select(stream, labels, str(source), check) for name, stream in loaded.items()}
            return datasets.IterableDatasetDict(selected)
        return _select(loaded[split], labels, str(source), check)
    files = source_files(source)
    parquet = [str(f) for f in files if file_kind(f) == "parquet"]
    if parquet:
        if len(parquet) != len(files):
            raise ValueError(f"{source}: stream parquet files apart from Google's ndjson and npz files")
        loaded = datasets.load_dataset("parquet", data_files=parquet, split="train", streaming=True)
        stream = _select(loaded, labels, ", ".join(Path(f).name for f in parquet), check)
        if split is None:
            return stream
        return stream.filter(functools.partial(_in_split, split=split), input_columns=["key_id", "strokes"])
    check_classes(labels, categories(), source)
    chunks = datasets.IterableDataset.from_generator(
        _generate,
        features=_CHUNK_FEATURES,
        # A list shards (one file each); tuples and strings go to every shard.
        gen_kwargs={"files": [str(f) for f in files], "labels": tuple(labels), "split": split},
    )
    rows = chunks.with_format("arrow").map(_unchunked, batched=True, batch_size=1, features=features(labels))
    return rows.with_format(None)


def stream_batches(dataset, batch_size=64, max_points=256, seed=0, buffer_size=10_000, workers=1):
    """Endless shuffled, length-bucketed batches of a stroke stream, for `model.fit(steps_per_epoch=...)`.

    Each batch is `({"strokes": (batch_size, L, 3) float32, "lengths":
    (batch_size,) int32}, labels (batch_size,) int32)`, as
    `sketchkeras.StrokeBatches` yields them, with `L` one of a few bucket
    lengths (`sketchkeras.bucket_length`). Drawings wait in one queue per
    bucket length, and a queue leaves as a batch once it holds
    `batch_size`: memory stays bounded and every batch is full.

    The path is vectorised: the stream is read as Arrow tables
    (`with_format("arrow")`), a chunk of drawings at a time, and turned
    into batches with NumPy offsets, with no Python per drawing (Google's
    ndjson files are still parsed a record at a time; `convert_quickdraw`'s
    parquet is the fast source).

    The stream is read over and over. Each pass reads its shards in a seeded
    order, all at once, taking turns (Google's files hold one class each, so
    classes mix); `buffer_size` drawings at a time are shuffled together,
    reshuffled every pass. The same `seed` (and `workers`) gives the same
    batches. With `workers > 1`, that many processes each read every
    `workers`-th shard of each pass's order (so at most one worker per
    shard) and batches come from them in turn: a fixed function of `seed`
    and `workers`.

    Under TensorFlow, which takes as variable only the dimensions that
    differ between the first two batches, the second batch never has the
    first one's length: if it would, it is padded to the next of
    `BUCKET_LENGTHS` (the model ignores padding).

    Args:
        dataset: a stroke `datasets.IterableDataset` (`stream_quickdraw`),
            e.g. one process's part from `split_dataset_by_node`.
        batch_size: drawings per batch (per process under data parallelism).
        max_points: drawings are truncated to their first `max_points` points.
        seed: seeds the shard order and the shuffle; give every process the same one.
        buffer_size: drawings shuffled together.
        workers: processes reading the stream (at most one per shard); 1
            reads it in this process.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> stream = stream_quickdraw(bundled_sample_dir() / "simplified", classes=["cat", "dog"])
    >>> batches = stream_batches(stream, batch_size=16)
    >>> [x["strokes"].shape for x, _ in itertools.islice(batches, 3)]
    [(16, 96, 3), (16, 64, 3), (16, 96, 3)]
    """
    parts = max(1, min(workers, dataset.num_shards))
    task = (dataset, batch_size, max_points, seed, buffer_size)
    batches = _batches(*task, 0, 1) if parts == 1 else _from_workers(task, parts)
    return _vary_first_lengths(batches) if keras.backend.backend() == "tensorflow" else batches


class StreamEpochs(keras.utils.PyDataset):
    """An endless batch stream as epochs of `steps` batches: epoch `e` is the stream's batches `e * steps` on.

    The stream is carried on, not re-seeded: an uninterrupted run reads it
    once, straight through, and `arrange(e)` in a fresh process (a resumed
    run) starts the stream again from `batches()` and skips ahead to batch
    `e * steps`. The batches of epoch `e` are thus a fixed function of
    `(seed, e)`, as `sketchkeras.training.train` needs for an exact resume.
    The cost is on resume: the batches skipped are read again (not trained
    on), at the input pipeline's rate.

    The first `cached` batches of the current epoch are kept in memory
    (`train` reads up to 64 of them for BatchNormalization statistics before
    `fit` reads them); reading further back restarts the stream. Under
    TensorFlow, batch 1 of every epoch is padded to the next bucket length
    when it has batch 0's length (see `stream_batches`), since a resumed
    `fit` takes its tensor signature from the first two batches of its first
    epoch.

    Args:
        batches: a function of no arguments returning the endless batch
            stream, the same batches at every call, e.g. `lambda:
            stream_batches(stream, batch_size=256, seed=0)`.
        steps: batches per epoch.
        cached: how many of each epoch's first batches are kept (at least 2).

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> stream = stream_quickdraw(bundled_sample_dir() / "simplified", classes=["cat", "dog"])
    >>> epochs = StreamEpochs(lambda: stream_batches(stream, batch_size=8), steps=3)
    >>> fifth = list(itertools.islice(stream_batches(stream, batch_size=8), 5))[-1]
    >>> epochs.arrange(1)
    >>> len(epochs), bool((epochs[1][1] == fifth[1]).all())
    (3, True)
    """

    def __init__(self, batches, steps, cached=64, **kwargs):
        super().__init__(**kwargs)
        if cached < 2:
            raise ValueError(f"cached must be at least 2, not {cached}")
        self.batches, self.steps, self.cached = batches, steps, cached
        self._stream, self._position = None, 0  # the next batch `self._stream` gives
        self._lock = threading.Lock()  # tf.data reads from its own thread
        self.arrange(0)

    def __len__(self):
        return self.steps

    def arrange(self, epoch):
        """Makes the batches of `epoch` current (Keras calls `on_epoch_end` for the next)."""
        self.epoch, self._epoch_cache = epoch, {}

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"batch {index} of an epoch of {self.steps}")
        with self._lock:
            if index not in self._epoch_cache:
                return self._read(index)
            return self._epoch_cache[index]

    def _read(self, index):
        target = self.epoch * self.steps + index
        if self._stream is None or self._position > target:
            self._stream, self._position = self.batches(), 0
        start = self.epoch * self.steps
        while True:
            batch = next(self._stream)
            self._position += 1
            local = self._position - 1 - start
            if 0 <= local < self.cached:
                batch = self._epoch_cache[local] = self._lead_with_distinct_lengths(local, batch)
            if self._position > target:
                return batch

    def _lead_with_distinct_lengths(self, index, batch):
        if index != 1 or keras.backend.backend() != "tensorflow":
            return batch
        x, y = batch
        length = x["strokes"].shape[1]
        if length != self._epoch_cache[0][0]["strokes"].shape[1]:
            return batch
        return _padded_to_next_bucket(x), y

    def on_epoch_end(self):
        self.arrange(self.epoch + 1)


def take_sample(dataset, n, seed=0, buffer_size=10_000):
    """The first `n` drawings of a shuffled stream, as an in-memory `datasets.Dataset`.

    The stream is shuffled as `stream_batches` shuffles it: Google's
    per-class files take turns, so even a small sample of the full data
    holds every class. For a fixed validation or test sample of a split.

    Example:
    >>> from sketchkeras import bundled_sample_dir
    >>> stream = stream_quickdraw(bundled_sample_dir() / "simplified", classes=["cat", "dog"], split="test")
    >>> sample = take_sample(stream, 20)
    >>> sample.num_rows, sorted(set(sample["word"]))
    (20, [0, 1])
    """
    return datasets.Dataset.from_list(list(_shuffled(dataset, seed, buffer_size).take(n)), features=dataset.features)


def _shuffled(dataset, seed, buffer_size):
    """All shards read at once, taking turns (a row from each), through a seeded shuffle buffer."""
    return dataset.shuffle(seed=seed, buffer_size=buffer_size, max_buffer_input_shards=dataset.num_shards)


def _batches(dataset, batch_size, max_points, seed, buffer_size, part, parts):
    """Pass after pass over shards `part::parts` of each pass's shard order: bucketed batches."""
    waiting = {}  # bucket length -> (strokes, lengths, labels) of fewer than batch_size drawings
    columns = dataset.select_columns(["word", "strokes"]).with_format("arrow")
    for epoch in itertools.count():
        order = np.random.default_rng([seed, epoch]).permutation(dataset.num_shards)[part::parts]
        rng = np.random.default_rng([seed, epoch, part])
        drawings = 0
        for points, sizes, labels in _chunks(columns, order, buffer_size):
            drawings += len(sizes)
            yield from _bucket(points, sizes, labels, rng, waiting, batch_size, max_points)
        if not drawings:
            raise ValueError(f"stream_batches: shards {order.tolist()} of the stream hold no drawing")


def _chunks(columns, shards, buffer_size):
    """`(points, sizes, labels)` of about `buffer_size` drawings at a time, the shards taking turns."""
    turn = max(1, min(1_000, buffer_size // len(shards)))
    readers = [iter(columns.shard(columns.num_shards, int(i)).iter(batch_size=turn)) for i in shards]
    tables, rows = [], 0
    while readers:
        for reader in list(readers):
            table = next(reader, None)
            if table is None:
                readers.remove(reader)
                continue
            tables.append(table)
            rows += table.num_rows
        if tables and (rows >= buffer_size or not readers):
            yield _arrays(pa.concat_tables(tables))
            tables, rows = [], 0


def _arrays(table):
    """A table of `word` and `strokes` as flat `(points, 3)` float32, drawing sizes and int32 labels."""
    strokes = table["strokes"].combine_chunks()
    offsets = strokes.offsets.to_numpy()
    points = strokes.flatten().flatten().to_numpy(zero_copy_only=False).reshape(-1, 3)
    return points, np.diff(offsets), table["word"].to_numpy().astype(np.int32)


def _bucket(points, sizes, labels, rng, waiting, batch_size, max_points):
    """Shuffles a chunk's drawings into the bucket queues; the batches they fill, in the order they fill."""
    order = rng.permutation(len(sizes))
    starts, sizes, labels = (np.cumsum(sizes) - sizes)[order], sizes[order], labels[order]
    padded = bucket_length(sizes, max_points)
    full = []  # (the chunk position of the drawing that filled it, batch)
    for length in np.unique(padded).tolist():
        rows = np.flatnonzero(padded == length)
        strokes, kept = pad_points(points, starts[rows], sizes[rows], length)
        queued = (strokes, kept, labels[rows])
        held = 0
        if length in waiting:
            held = len(waiting[length][1])
            queued = tuple(np.concatenate([a, b]) for a, b in zip(waiting.pop(length), queued))
        filled = len(queued[1]) // batch_size
        for j in range(filled):
            cut = slice(j * batch_size, (j + 1) * batch_size)
            full.append(
                (
                    rows[(j + 1) * batch_size - held - 1],
                    ({"strokes": queued[0][cut], "lengths": queued[1][cut]}, queued[2][cut]),
                )
            )
        if len(queued[1]) > filled * batch_size:
            waiting[length] = tuple(a[filled * batch_size :].copy() for a in queued)
    full.sort(key=lambda item: item[0])
    for _, batch in full:
        yield batch


def _from_workers(task, parts):
    """The batches of `parts` worker processes, taken in turn; the workers stop with the generator.

    A worker is a fresh interpreter (not a `multiprocessing` child, which
    would run the calling script again without its `__main__` guard) that
    reads its task pickled on stdin and writes its batches pickled to
    stdout. A thread per worker reads them into a queue that holds two
    shuffle buffers' worth, so that a worker making a chunk's batches never
    waits for the others.
    """
    command = [sys.executable, "-c", "from sketchkeras import streaming; streaming._worker_main()"]
    workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(parts)]
    _, batch_size, _, _, buffer_size = task
    queues = [queue.Queue(maxsize=2 * (buffer_size // batch_size + 1)) for _ in workers]
    stop = threading.Event()
    try:
        for part, worker in enumerate(workers):
            pickle.dump((task, part, parts), worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            worker.stdin.close()
            threading.Thread(target=_read_worker, args=(worker, part, queues[part], stop), daemon=True).start()
        while True:
            for batches in queues:
                item = batches.get()
                if isinstance(item, RuntimeError):
                    raise item
                yield item
    finally:
        stop.set()
        for worker in workers:
            worker.kill()
            worker.wait()


def _read_worker(worker, part, batches, stop):
    """A worker's batches into `batches`, then its failure or death as the `RuntimeError` to raise."""
    while not stop.is_set():
        try:
            item = pickle.load(worker.stdout)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):  # ended, or killed mid-batch by the generator
            item = RuntimeError(f"stream_batches: worker {part} died (exit code {worker.wait()})")
        if isinstance(item, str):  # the worker's traceback
            item = RuntimeError(f"stream_batches: worker {part} failed:\n{item}")
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.5)
                break
            except queue.Full:
                pass
        if isinstance(item, RuntimeError):
            return


def _worker_main():
    """A worker process (see `_from_workers`): its part's batches to stdout; a failure as its traceback text."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the task prints goes to stderr, not into the batch pipe
    try:
        task, part, parts = pickle.load(sys.stdin.buffer)
        for batch in _batches(*task, part, parts):
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BrokenPipeError:
        pass  # the reader stopped
    except Exception:
        pickle.dump(traceback.format_exc(), out)
        out.flush()


def _vary_first_lengths(batches):
    """Pads the second batch to the next bucket length when it has the first one's length."""
    first = next(batches)
    yield first
    x, y = next(batches)
    yield (_padded_to_next_bucket(x) if x["strokes"].shape[1] == first[0]["strokes"].shape[1] else x), y
    yield from batches


def _padded_to_next_bucket(x):
    """A batch's inputs padded to the next of `BUCKET_LENGTHS` (the model ignores padding)."""
    length = x["strokes"].shape[1]
    longer = next((b for b in BUCKET_LENGTHS if b > length), 2 * length)
    return {"strokes": np.pad(x["strokes"], [(0, 0), (0, longer - length), (0, 0)]), "lengths": x["lengths"]}


def _generate(files, labels, split):
    """Google's drawings of `labels` as chunks of `_CHUNK_ROWS` rows (datasets calls it once per shard: one file).

    A chunk is one row of flat arrays, which `datasets` stores without a
    Python step per point; `_unchunked` makes rows of it again.
    """
    label_ids = {name: i for i, name in enumerate(labels)}
    skipped = SkippedRecords()
    chunk = []
    for _, record in known_records(files, set(categories()) | set(labels), skipped):
        label = label_ids.get(record["word"])
        if label is not None and (split is None or hash_split(record["key_id"], record["strokes"]) == split):
            chunk.append((label, record))
            if len(chunk) == _CHUNK_ROWS:
                yield _chunk(chunk)
                chunk = []
    if chunk:
        yield _chunk(chunk)
    skipped.warn(stacklevel=2)


def _chunk(rows):
    strokes = [record["strokes"] for _, record in rows]
    return {
        "word": np.array([label for label, _ in rows], np.int64),
        "key_id": [record["key_id"] for _, record in rows],
        "recognized": [record["recognized"] for _, record in rows],
        "sizes": np.array([len(s) for s in strokes], np.int32),
        "points": np.concatenate(strokes).reshape(-1),
    }


def _unchunked(table):
    """One chunk row of `_generate` (a `pyarrow.Table`) as the table of its drawings."""
    sizes = table["sizes"][0].values.to_numpy()
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))
    points = pa.FixedSizeListArray.from_arrays(table["points"][0].values, 3)
    return pa.table(
        {
            "word": table["word"][0].values,
            "key_id": table["key_id"][0].values.cast(pa.string()),
            "recognized": table["recognized"][0].values.cast(pa.bool_()),
            "strokes": pa.ListArray.from_arrays(offsets, points),
        }
    )


def _select(stream, labels, source, check):
    """Keeps a parquet stream's rows of `labels` (each one stored there, if `check`), renumbered in that order."""
    if is_record_layout(stream.features):  # Google's records (convert_quickdraw): canonicalised as they are read
        if check:
            check_classes(labels, categories(), source)
        ids = {name: i for i, name in enumerate(labels)}
        wanted = pa.array(list(ids), pa.string())
        kept = stream.with_format("arrow").filter(functools.partial(_words_in, wanted=wanted), batched=True)
        # Columns named like the output's stay listed out: the iterable map would drop the new ones.
        dropped = [name for name in stream.features if name not in ("word", "key_id", "recognized")]
        rows = kept.map(record_table, fn_kwargs={"label_ids": ids}, batched=True, remove_columns=dropped)
        return rows.cast(features(labels)).with_format(None)
    stored = parquet_classes(stream.features, source)
    if check:
        check_classes(labels, stored, source)
    new_ids = {i: labels.index(name) for i, name in enumerate(stored) if name in labels}
    stream = stream.filter(new_ids.__contains__, input_columns="word")
    return stream.map(functools.partial(_renumbered, new_ids=new_ids), input_columns="word", features=features(labels))


# Module-level functions, not lambdas: stream_batches' worker processes receive the stream pickled.
def _in_split(key_id, strokes, split):
    return hash_split(key_id, strokes) == split


def _words_in(table, wanted):
    return pc.is_in(table["word"], value_set=wanted)


def _renumbered(word, new_ids):
    return {"word": new_ids[word]}
