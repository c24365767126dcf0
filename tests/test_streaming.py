"""Streaming the real Quick, Draw! files: same rows as `load_quickdraw`, hash splits, node shards, batches."""

import itertools
import json
import pickle
import queue
import subprocess
import sys
import threading
import warnings
from collections import Counter

import keras
import numpy as np
import pytest
from datasets.distributed import split_dataset_by_node

from sketchkeras import (
    SketchBackbone,
    SketchClassifier,
    SketchPreprocessor,
    SkippedRecordsWarning,
    categories,
    load_quickdraw,
    streaming,
)
from sketchkeras.data import stroke_arrays
from sketchkeras.streaming import hash_split, stream_batches, stream_quickdraw, take_sample

CLASSES = ["pig", "The Eiffel Tower", "radio", "zigzag", "anvil", "owl"]


def _rows(dataset):
    """(word, key_id, recognized, strokes bytes) per row, in order."""
    return [
        (row["word"], row["key_id"], row["recognized"], np.asarray(row["strokes"], np.float32).tobytes())
        for row in dataset
    ]


@pytest.fixture(scope="module")
def sources(quickdraw_dir):
    """Simplified ndjson of six classes, then raw ndjson of three."""
    return [quickdraw_dir / "simplified" / f"{word}.ndjson" for word in CLASSES] + [
        quickdraw_dir / "raw" / f"{word}.ndjson" for word in CLASSES[:3]
    ]


def test_stream_yields_the_rows_load_quickdraw_loads(sources, quickdraw_dir):
    files = sources + [quickdraw_dir / "sketchrnn" / "radio.npz"]
    stream = stream_quickdraw(files, classes=CLASSES[::-1])
    loaded = load_quickdraw(files, classes=CLASSES[::-1])
    assert stream.features == loaded.features
    assert stream.num_shards == len(files)
    rows = _rows(stream)
    assert len(rows) == loaded.num_rows == 3271
    assert rows == _rows(loaded)


def test_every_345_class_file_streams(quickdraw_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedRecordsWarning)
        words = np.bincount([row["word"] for row in stream_quickdraw(quickdraw_dir / "simplified")], minlength=345)
    assert words.sum() == 43294 and (words > 0).all()
    assert words[categories().index("eye")] == 5280


def test_bad_records_are_skipped_and_counted_like_load_quickdraw(tmp_path, quickdraw_dir):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:3]
    unicorn = json.dumps({"word": "unicorn", "drawing": [[[1], [1]]]})
    ragged = json.dumps({"word": "cat", "drawing": [[[1, 2], [1]]]})
    (tmp_path / "cat.ndjson").write_text("\n".join(good[:1] + ["{broken", unicorn, ragged] + good[1:]))
    with pytest.warns(SkippedRecordsWarning) as streamed:
        rows = list(stream_quickdraw(tmp_path))
    with pytest.warns(SkippedRecordsWarning) as loaded:
        load_quickdraw(tmp_path)
    assert len(rows) == 3
    assert streamed[0].message.counts == loaded[0].message.counts == {"bad drawing": 2, "unknown word": 1}
    assert streamed[0].message.examples == loaded[0].message.examples
    assert "cat.ndjson:3: unknown word 'unicorn'" in str(streamed[0].message)


def test_hash_split_is_stable_disjoint_and_keeps_identities_together(quickdraw_dir, sources):
    everything = load_quickdraw(quickdraw_dir / "simplified")
    splits = [hash_split(key, strokes) for key, strokes in zip(everything["key_id"], stroke_arrays(everything))]
    assert {name: splits.count(name) for name in ("train", "validation", "test")} == {
        "train": 34673,
        "validation": 4308,
        "test": 4313,
    }
    # Streamed splits: exactly the rows hash_split puts there, together all rows once.
    loaded = load_quickdraw(sources, classes=CLASSES)
    expected = [hash_split(key, strokes) for key, strokes in zip(loaded["key_id"], stroke_arrays(loaded))]
    by_split = {
        name: _rows(stream_quickdraw(sources, classes=CLASSES, split=name)) for name in ("train", "validation", "test")
    }
    for name, rows in by_split.items():
        assert rows == [row for row, split in zip(_rows(loaded), expected) if split == name]
    assert sum(len(rows) for rows in by_split.values()) == loaded.num_rows
    # A raw drawing and its simplified twin share a key_id, hence a split.
    keys = {name: {row[1] for row in rows} - {None} for name, rows in by_split.items()}
    assert (
        not keys["train"] & keys["test"]
        and not keys["train"] & keys["validation"]
        and not keys["validation"] & keys["test"]
    )
    raw = load_quickdraw(sources[6:], classes=CLASSES)
    assert sum(key in keys["test"] for key in raw["key_id"]) == 5


def test_split_by_node_gives_each_rank_its_own_files(sources):
    stream = stream_quickdraw(sources[:6], classes=CLASSES)
    parts = [_rows(split_dataset_by_node(stream, rank=rank, world_size=2)) for rank in (0, 1)]
    assert Counter(parts[0] + parts[1]) == Counter(_rows(stream))
    assert not set(parts[0]) & set(parts[1])
    words = [{row[0] for row in part} for part in parts]
    assert words == [{0, 2, 4}, {1, 3, 5}]  # every other file, one class per file


def test_batches_are_bucketed_right_padded_drawings_of_the_stream(sources):
    loaded = load_quickdraw(sources, classes=CLASSES)
    label_of = {s[:64].tobytes(): w for s, w in zip(stroke_arrays(loaded), loaded["word"])}
    stream = stream_quickdraw(sources, classes=CLASSES)
    batches = stream_batches(stream, batch_size=16, max_points=64, seed=3)
    lengths_seen, words, first = set(), Counter(), None
    for _ in range(100):  # 1600 drawings: the stream goes round more than once
        x, y = next(batches)
        strokes, lengths = x["strokes"], x["lengths"]
        assert strokes.dtype == np.float32 and lengths.dtype == np.int32 and y.dtype == np.int32
        assert strokes.shape[0] == 16 and len(lengths) == len(y) == 16
        assert not strokes[np.arange(strokes.shape[1])[None, :] >= lengths[:, None]].any()
        assert [label_of[s[:n].tobytes()] for s, n in zip(strokes, lengths)] == y.tolist()
        lengths_seen.add(strokes.shape[1])
        words.update(y.tolist())
        first = first if first is not None else y
    assert 100 * 16 > loaded.num_rows
    # TensorFlow only: the second batch may be padded one bucket longer (see stream_batches).
    assert lengths_seen == ({16, 32, 48, 64} | ({96} if keras.backend.backend() == "tensorflow" else set()))
    assert sorted(words) == list(range(len(CLASSES)))
    same = stream_batches(stream, batch_size=16, max_points=64, seed=3)
    other = stream_batches(stream, batch_size=16, max_points=64, seed=4)
    assert next(same)[1].tolist() == first.tolist() != next(other)[1].tolist()


def test_a_pass_gives_every_drawing_once_in_this_process_and_over_workers(sources, tmp_path):
    loaded = load_quickdraw(sources, classes=CLASSES)
    expected = Counter(s[:64].tobytes() for s in stroke_arrays(loaded))
    stream = stream_quickdraw(sources, classes=CLASSES)
    # Fewer than 16 drawings wait in each of the 4 bucket queues of a reader: its first pass fills at least
    # (drawings - 60) // 16 batches. Two workers read 5 and 4 of the 9 files each, and give batches in turn.
    smallest = sorted(len(list(stream_quickdraw(f, classes=CLASSES))) for f in sources)
    for workers, batches in ((1, (loaded.num_rows - 4 * 15) // 16), (2, 2 * ((sum(smallest[:4]) - 4 * 15) // 16))):
        seen = Counter()
        for x, _ in itertools.islice(stream_batches(stream, batch_size=16, max_points=64, workers=workers), batches):
            seen.update(s[:n].tobytes() for s, n in zip(x["strokes"], x["lengths"]))
        assert not seen - expected  # no drawing twice, none that is not in the stream
        assert sum(seen.values()) == 16 * batches
    first = [y.tolist() for _, y in itertools.islice(stream_batches(stream, batch_size=16, workers=2), 6)]
    again = [y.tolist() for _, y in itertools.islice(stream_batches(stream, batch_size=16, workers=2), 6)]
    assert first == again


def test_model_fit_trains_on_the_batches_of_two_workers(sources):
    stream = stream_quickdraw(sources[:6], classes=CLASSES, split="train")
    losses = []
    for batches in (
        stream_batches(stream, batch_size=16, max_points=64, workers=2),
        (batch for batch in list(itertools.islice(stream_batches(stream, batch_size=16, max_points=64, workers=2), 8))),
    ):
        keras.utils.set_random_seed(0)
        model = SketchClassifier(
            SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[16]), CLASSES, SketchPreprocessor(64)
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        losses.append(model.fit(batches, steps_per_epoch=4, epochs=2, verbose=0).history["loss"])
    assert len(losses[0]) == 2 and np.isfinite(losses[0]).all()
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)  # fit read exactly the workers' batches


def test_a_failing_worker_is_an_error_that_shows_its_traceback(tmp_path, quickdraw_dir):
    for word in ("cat", "dog"):
        (tmp_path / f"{word}.ndjson").write_bytes((quickdraw_dir / "simplified" / f"{word}.ndjson").read_bytes())
    stream = stream_quickdraw(tmp_path, classes=["cat", "dog"])
    (tmp_path / "dog.ndjson").unlink()  # the worker reading it fails
    with pytest.raises(RuntimeError, match=r"worker \d failed:(.|\n)*FileNotFoundError(.|\n)*dog.ndjson"):
        list(itertools.islice(stream_batches(stream, batch_size=16, workers=2), 1000))


def test_a_worker_killed_mid_batch_is_reported_as_dead_not_as_a_thread_traceback():
    """What a reader thread sees when the generator kills its worker halfway through writing a batch."""
    half = pickle.dumps(np.zeros((64, 96, 3), np.float32), protocol=pickle.HIGHEST_PROTOCOL)[:5000]
    worker = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.stdout.buffer.write({half!r})"], stdout=subprocess.PIPE
    )
    batches = queue.Queue()
    streaming._read_worker(worker, 3, batches, threading.Event())
    item = batches.get_nowait()
    assert isinstance(item, RuntimeError) and str(item) == "stream_batches: worker 3 died (exit code 0)"
    assert batches.empty()


def test_take_sample_is_a_fixed_sample_of_the_split(sources):
    test = stream_quickdraw(sources, classes=CLASSES, split="test")
    sample = take_sample(test, 50, seed=1)
    assert sample.num_rows == 50 and sample.features == test.features
    assert set(_rows(sample)) <= set(_rows(test))
    assert _rows(take_sample(test, 50, seed=1)) == _rows(sample)
    # Without a buffer, the first rows show the files taking turns: one drawing of each class.
    turns = take_sample(stream_quickdraw(sources[:6], classes=CLASSES), 6, buffer_size=1)
    assert sorted(turns["word"]) == list(range(6))


def test_0_1_stroke_parquet_streams_like_it_loads(tmp_path, quickdraw_dir, monkeypatch, stroke_parquet):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = stroke_parquet(quickdraw_dir / "simplified", tmp_path / "qd", classes=["cat", "owl", "pig"], max_per_class=40)
    repo = stream_quickdraw(out, classes=["pig", "cat"])
    loaded = load_quickdraw(out, classes=["pig", "cat"])
    assert sorted(repo) == ["test", "train", "validation"]
    for name in repo:
        assert _rows(repo[name]) == _rows(loaded[name])
        assert _rows(stream_quickdraw(out, classes=["pig", "cat"], split=name)) == _rows(loaded[name])
    files = stream_quickdraw(sorted((out / "data").glob("*.parquet")), classes=["pig", "cat"], split="test")
    everything = load_quickdraw(sorted((out / "data").glob("*.parquet")), classes=["pig", "cat"])
    expected = [
        r
        for r, k, s in zip(_rows(everything), everything["key_id"], stroke_arrays(everything))
        if hash_split(k, s) == "test"
    ]
    assert Counter(_rows(files)) == Counter(expected) and len(expected) == 9


def test_a_corrupt_file_is_skipped_and_counted_like_load_quickdraw(tmp_path, quickdraw_dir):
    (tmp_path / "cat.ndjson").write_bytes((quickdraw_dir / "simplified" / "cat.ndjson").read_bytes())
    (tmp_path / "dog.ndjson.gz").write_bytes((quickdraw_dir / "simplified" / "dog.ndjson").read_bytes())  # not gzip
    (tmp_path / "pig.npz").write_bytes((quickdraw_dir / "sketchrnn" / "pig.npz").read_bytes()[:5000])
    with pytest.warns(SkippedRecordsWarning) as streamed:
        rows = _rows(stream_quickdraw(tmp_path, classes=["cat", "dog", "pig"]))
    with pytest.warns(SkippedRecordsWarning) as loaded:
        expected = _rows(load_quickdraw(tmp_path, classes=["cat", "dog", "pig"]))
    assert rows == expected and len(rows) == len((quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines())
    counts = Counter()
    for warning in streamed:
        counts.update(warning.message.counts)
    assert counts == loaded[0].message.counts == {"bad file": 2}


def test_a_misspelt_class_is_an_error_that_suggests_real_names(tmp_path, quickdraw_dir, stroke_parquet):
    with pytest.raises(ValueError, match=r"cat.ndjson: unknown class 'dgo'; did you mean 'dog' or 'dragon'\?"):
        stream_quickdraw(quickdraw_dir / "simplified" / "cat.ndjson", classes=["cat", "dgo"])
    cats = quickdraw_dir / "simplified" / "cat.ndjson"
    out = stroke_parquet(cats, tmp_path / "qd", classes=["cat"], max_per_class=10)
    with pytest.raises(ValueError, match=r"qd: unknown class 'cta'; did you mean 'cat'\?"):
        stream_quickdraw(out, classes=["cta"], split="test")
    with pytest.raises(ValueError, match=r"train-00000-of-00001.parquet: unknown class 'dog'; no class is close to it"):
        stream_quickdraw(out / "data" / "train-00000-of-00001.parquet", classes=["dog"])
