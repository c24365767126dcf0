"""`convert_quickdraw` on Google's real files: lossless rows, hash splits, mixed shards, resume, bounded memory."""

import gzip
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sketchkeras import convert as convert_module
from sketchkeras import load_quickdraw, run_splits, run_training, stream_quickdraw
from sketchkeras.convert import convert_quickdraw
from sketchkeras.data import record_points, record_strokes, record_table
from sketchkeras.sketchrnn import load_sketchrnn_npz
from sketchkeras.sources import SkippedRecordsWarning
from sketchkeras.streaming import SPLITS, hash_split
from sketchkeras.strokes import canonical_strokes
from sketchkeras_cli import main

CLASSES = ["alarm clock", "face", "pig", "radio", "cat", "dog"]  # the four sketch-rnn classes, two large simplified
SHARD_SIZE = 900_000  # bytes of Google's records: 7 train shards of the 7.5 MB these files hold


def _files(quickdraw_dir):
    simplified = [quickdraw_dir / "simplified" / f"{c}.ndjson" for c in CLASSES]
    raw = [quickdraw_dir / "raw" / f"{c}.ndjson" for c in CLASSES]
    return simplified + raw + [quickdraw_dir / "sketchrnn" / f"{c}.npz" for c in CLASSES[:4]]


@pytest.fixture(scope="module")
def converted(quickdraw_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted")
    return convert_quickdraw(_files(quickdraw_dir), out, classes=CLASSES, shard_size=SHARD_SIZE)


def _shards(out):
    return sorted((out / "data").glob("*.parquet"))


def _rows(out):
    """split -> list of row dicts, shard by shard."""
    rows = {s: [] for s in SPLITS}
    for path in _shards(out):
        rows[path.name.split("-")[0]] += pq.read_table(path).to_pylist()
    return rows


def _form(word, key_id, countrycode, timestamp, recognized, drawing):
    return json.dumps([word, key_id, countrycode, timestamp, recognized, drawing])


def _google_forms(files):
    """Each Google record of `files` as a comparable text, raw coordinates as floats (their stored type)."""
    forms = Counter()
    for path in files:
        if path.suffix == ".npz":
            for drawings in load_sketchrnn_npz(path).values():
                forms.update(_form(path.stem, None, None, None, None, d.tolist()) for d in drawings)
            continue
        for line in path.read_text().splitlines():
            r = json.loads(line)
            drawing = [
                [[float(v) for v in s[0]], [float(v) for v in s[1]], s[2]] if len(s) == 3 else s for s in r["drawing"]
            ]
            fields = [r.get(k) for k in ("key_id", "countrycode", "timestamp", "recognized")]
            forms[_form(r["word"], *fields, drawing)] += 1
    return forms


def _stored_form(row):
    if row.get("simplified_x") is not None:
        drawing = [list(s) for s in zip(row["simplified_x"], row["simplified_y"])]
    elif row.get("raw_x") is not None:
        drawing = [list(s) for s in zip(row["raw_x"], row["raw_y"], row["raw_t"])]
    else:
        drawing = row["stroke3"]
    return _form(row["word"], row["key_id"], row["countrycode"], row["timestamp"], row["recognized"], drawing)


def test_every_google_record_is_stored_losslessly(converted, quickdraw_dir):
    stored = Counter(_stored_form(row) for rows in _rows(converted).values() for row in rows)
    assert stored == _google_forms(_files(quickdraw_dir))
    schema = pq.read_schema(_shards(converted)[0])
    assert schema.field("simplified_x").type == pa.list_(pa.list_(pa.uint8()))
    assert schema.field("raw_x").type == pa.list_(pa.list_(pa.float64()))
    assert schema.field("raw_t").type == pa.list_(pa.list_(pa.int32()))
    assert schema.field("stroke3").type == pa.list_(pa.list_(pa.int16(), 3))


def test_splits_follow_hash_split_and_shards_mix_classes(converted):
    rows = _rows(converted)
    for split, split_rows in rows.items():
        assert split_rows and all(hash_split(r["key_id"], record_strokes(r)) == split for r in split_rows)
    train = [p for p in _shards(converted) if p.name.startswith("train-")]
    assert [p.name for p in train][-1] == "train-00006-of-00007.parquet"  # 80% of 7.5 MB, 0.9 MB a shard
    for path in train:
        words = pq.read_table(path, columns=["word"])["word"].to_pylist()
        assert set(words) == set(CLASSES)
        assert 1000 < len(words) < 2500
        changes = sum(a != b for a, b in zip(words, words[1:]))
        assert changes > len(words) / 2  # shuffled: classes interleave, not in runs


def test_card_gives_counts_per_split_and_class(converted):
    card = (converted / "README.md").read_text()
    counts = {s: Counter(r["word"] for r in rows) for s, rows in _rows(converted).items()}
    for word in CLASSES:
        numbers = [counts[s][word] for s in SPLITS]
        assert f"| {word} | {' | '.join(map(str, numbers))} | {sum(numbers)} |" in card
    assert "license: cc-by-4.0" in card and "Google LLC" in card and "`raw_t` | list<list<int32>>" in card


def _canonical(dataset):
    names = dataset.features["word"].names
    return Counter(
        (names[r["word"]], r["key_id"], r["recognized"], np.asarray(r["strokes"], np.float32).tobytes())
        for r in dataset
    )


def test_load_and_stream_give_the_strokes_of_google_files(converted, quickdraw_dir):
    files = _files(quickdraw_dir)
    loaded = load_quickdraw(converted, classes=CLASSES)
    direct = load_quickdraw(files, classes=CLASSES)
    assert sum(map(_canonical, loaded.values()), Counter()) == _canonical(direct)
    streamed = stream_quickdraw(converted, classes=CLASSES, split="validation")
    assert _canonical(streamed) == _canonical(stream_quickdraw(files, classes=CLASSES, split="validation"))


def test_training_on_the_converted_dataset_keeps_its_own_splits(converted, tmp_path, capsys):
    settings = {"source": converted, "classes": ["cat", "dog"], "max_per_class": 30}
    splits, loaded = run_splits(settings), load_quickdraw(**settings)
    for name in ("train", "validation", "test"):
        assert splits[name]["key_id"] == loaded[name]["key_id"]
    assert {name: split.num_rows for name, split in splits.items()} == {"train": 60, "validation": 60, "test": 60}
    summary = run_training(**settings, run_dir=tmp_path / "run", epochs=1, rnn_units=[16], max_points=32, verbose=0)
    assert summary["metrics"]["test_drawings"] == 60 and "test_size" not in summary["training"]
    assert main(["evaluate", summary["model_dir"], "--data", str(converted), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"top-1 {summary['metrics']['top1']:.2%}") and out.rstrip().endswith("(60 drawings)")
    lacking = tmp_path / "lacking"
    (lacking / "data").mkdir(parents=True)
    (lacking / "README.md").write_text((converted / "README.md").read_text())
    for shard in converted.glob("data/t*.parquet"):  # train and test, no validation
        (lacking / "data" / shard.name).symlink_to(shard)
    message = "a run's dataset repository needs ['train', 'validation', 'test'] splits; it has ['test', 'train']"
    with pytest.raises(ValueError, match=re.escape(message)):
        run_splits({**settings, "source": lacking})


def _same_output(a, b):
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_two_workers_write_the_same_dataset(converted, quickdraw_dir, tmp_path):
    out = convert_quickdraw(_files(quickdraw_dir), tmp_path, classes=CLASSES, shard_size=SHARD_SIZE, workers=2)
    _same_output(out, converted)


@pytest.mark.parametrize("stage", ["_scatter_file", "_write_shard"])
def test_a_rerun_after_a_failure_finishes_the_missing_work(converted, quickdraw_dir, tmp_path, monkeypatch, stage):
    real, calls = getattr(convert_module, stage), []

    def failing(*args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(*args)

    monkeypatch.setattr(convert_module, stage, failing)
    with pytest.raises(RuntimeError, match="killed"):
        convert_quickdraw(_files(quickdraw_dir), tmp_path, classes=CLASSES, shard_size=SHARD_SIZE)
    visible = sorted(p.name for p in (tmp_path / "data").glob("*")) if (tmp_path / "data").exists() else []
    assert not (tmp_path / "README.md").exists()
    first_two = ["train-00000-of-00007.parquet", "train-00001-of-00007.parquet"]
    assert visible == ([] if stage == "_scatter_file" else first_two)
    monkeypatch.setattr(convert_module, stage, real)
    convert_quickdraw(_files(quickdraw_dir), tmp_path, classes=CLASSES, shard_size=SHARD_SIZE)
    _same_output(tmp_path, converted)


_KILLED_RUN = """
import os, signal, sys
from sketchkeras import convert
real = convert._write_shard
def killed(*args):
    if args[1:3] == ("train", 3):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args)
convert._write_shard = killed
convert.convert_quickdraw(sys.argv[2:], sys.argv[1], classes={classes!r}, shard_size={size})
"""


def test_sigkill_mid_run_then_rerun_gives_the_same_dataset(converted, quickdraw_dir, tmp_path):
    code = _KILLED_RUN.format(classes=CLASSES, size=SHARD_SIZE)
    args = [sys.executable, "-c", code, str(tmp_path), *map(str, _files(quickdraw_dir))]
    run = subprocess.run(args, capture_output=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert run.returncode == -9
    written = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert written == [f"train-0000{k}-of-00007.parquet" for k in range(3)]  # whole shards only
    convert_quickdraw(_files(quickdraw_dir), tmp_path, classes=CLASSES, shard_size=SHARD_SIZE)
    _same_output(tmp_path, converted)


def test_bad_records_are_skipped_and_reported(quickdraw_dir, tmp_path):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:3]
    too_wide = json.loads(good[0]) | {"drawing": [[[0, 300], [0, 5]]]}
    stranger = json.loads(good[1]) | {"word": "dinosaur"}
    lines = [good[0], "{not json", json.dumps(too_wide), json.dumps(stranger), good[2]]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cat.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.warns(SkippedRecordsWarning) as caught:
        out = convert_quickdraw(tmp_path / "in", tmp_path / "out", classes=["cat"])
    assert caught[0].message.counts == {"bad drawing": 2, "unknown word": 1}
    assert "cat.ndjson:3: simplified coordinates must be integers 0..255" in caught[0].message.examples
    assert sum(pq.read_metadata(p).num_rows for p in _shards(out)) == 2


_RSS_RUN = """
import resource, sys
import datasets
from sketchkeras.convert import convert_quickdraw
datasets.disable_progress_bars()
convert_quickdraw(sys.argv[2], sys.argv[1], classes=["eye", "mouth", "cat", "dog"], shard_size=1_250_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_the_input(quickdraw_dir, tmp_path):
    """Peak RSS converting 1x and 4x the input, in fresh processes.

    The 4x input repeats Google's real drawings of four classes (15.5k of
    them) four times, each copy under fresh `key_id`s, so the copies are
    distinct drawings that land in other shards: a benchmark-only corpus.
    """
    peaks = {}
    for copies in (1, 4):
        folder = tmp_path / f"in{copies}"
        folder.mkdir()
        for word in ("eye", "mouth", "cat", "dog"):
            lines = (quickdraw_dir / "simplified" / f"{word}.ndjson").read_text().splitlines()
            with open(folder / f"{word}.ndjson", "w") as file:
                for copy in range(copies):
                    for i, line in enumerate(lines):
                        record = json.loads(line) | {"key_id": f"{copy}-{word}-{i}"}
                        file.write(json.dumps(record) + "\n")
        args = [sys.executable, "-c", _RSS_RUN, str(tmp_path / f"out{copies}"), str(folder)]
        run = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
        assert run.returncode == 0, run.stderr[-2000:]
        peaks[copies] = int(run.stdout.split()[-1]) / 1024  # MiB
        shards = sorted((tmp_path / f"out{copies}" / "data").glob("train-*"))
        size = sum(f.stat().st_size for f in folder.iterdir())
        assert len(shards) == math.ceil(size * 0.8 / 1_250_000) >= (5 if copies == 1 else 20)
    assert peaks[4] < peaks[1] * 1.1 + 20, peaks


def test_a_finished_dataset_is_not_converted_into(converted, quickdraw_dir):
    with pytest.raises(ValueError, match="already holds a dataset"):
        convert_quickdraw(_files(quickdraw_dir), converted, classes=CLASSES)


def test_a_misspelt_class_is_named(quickdraw_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown class 'dgo'; did you mean 'dog'"):
        convert_quickdraw(quickdraw_dir / "simplified" / "dog.ndjson", tmp_path, classes=["dgo"])


def test_simplified_drawings_are_canonicalised_vectorised_as_record_strokes(quickdraw_dir, tmp_path):
    files = [quickdraw_dir / "simplified" / f"{c}.ndjson" for c in CLASSES]
    out = convert_quickdraw(files, tmp_path, classes=CLASSES, shard_size=SHARD_SIZE)
    table = pa.concat_tables(pq.read_table(p) for p in _shards(out))
    rows = record_table(table, {c: i for i, c in enumerate(CLASSES)})
    expected = [record_strokes(r).tolist() for r in table.select(["simplified_x", "simplified_y"]).to_pylist()]
    assert rows["strokes"].to_pylist() == expected
    assert _canonical(load_quickdraw(out, classes=CLASSES)["test"]) == _canonical(
        stream_quickdraw(files, classes=CLASSES, split="test")
    )


def test_sketchrnn_drawings_are_canonicalised_vectorised_as_canonical_strokes(quickdraw_dir):
    drawings = [d for p in sorted((quickdraw_dir / "sketchrnn").glob("*.npz")) for d in load_sketchrnn_npz(p)["test"]]
    table = pa.table({"stroke3": pa.array([d.tolist() for d in drawings], pa.list_(pa.list_(pa.int16(), 3)))})
    points, sizes = record_points(table)
    assert len(drawings) == 963 and sizes.tolist() == [len(d) for d in drawings]
    assert points.tobytes() == np.concatenate([canonical_strokes(d, "stroke3") for d in drawings]).tobytes()


def test_raw_records_long_lines_and_broken_gzip_are_read_in_blocks(quickdraw_dir, tmp_path, monkeypatch):
    """Blocks of 1,000 bytes and a 4,000-byte line cap, so lines straddle blocks and one is over the cap."""
    monkeypatch.setattr(convert_module, "_BLOCK", 1000)
    monkeypatch.setattr(convert_module, "MAX_LINE_BYTES", 4000)
    raw = [json.loads(line) for line in (quickdraw_dir / "raw" / "cat.ndjson").read_text().splitlines()]
    short = [r for r in raw if len(json.dumps(r)) < 4000][:3]
    whole_times = short[1] | {"drawing": [[xs, ys, [float(t) for t in ts]] for xs, ys, ts in short[1]["drawing"]]}
    fraction = short[2] | {"drawing": [[xs, ys, [t + 0.5 for t in ts]] for xs, ys, ts in short[2]["drawing"]]}
    too_long = next(r for r in raw if len(json.dumps(r)) > 4000)
    (tmp_path / "in").mkdir()
    lines = [short[0], whole_times, fraction, too_long, short[0] | {"key_id": "1"}]
    (tmp_path / "in" / "cat.ndjson").write_text("\n".join(json.dumps(r) for r in lines))  # no final newline
    dog_lines = (quickdraw_dir / "simplified" / "dog.ndjson").read_bytes().splitlines()
    good = b"\n".join(line for line in dog_lines if len(line) < 4000) + b"\n"
    (tmp_path / "in" / "dog.ndjson.gz").write_bytes(gzip.compress(good)[:-2000])  # truncated
    with pytest.warns(SkippedRecordsWarning) as caught:
        out = convert_quickdraw(tmp_path / "in", tmp_path / "out", classes=["cat", "dog"])
    assert caught[0].message.counts == {"bad drawing": 2, "bad file": 1}
    assert set(caught[0].message.examples) == {
        "cat.ndjson:3: raw times must be whole numbers (milliseconds)",
        "cat.ndjson:4: line longer than 4,000 bytes; not read",
        "dog.ndjson.gz: not a readable gzip file (EOFError: Compressed file ended before the end-of-stream marker "
        "was reached)",
    }
    rows = [row for split in _rows(out).values() for row in split]
    cats = sorted((r for r in rows if r["word"] == "cat"), key=lambda r: r["key_id"])
    assert [r["key_id"] for r in cats] == sorted(["1", short[0]["key_id"], short[1]["key_id"]])
    stored = {r["key_id"]: [list(s) for s in zip(r["raw_x"], r["raw_y"], r["raw_t"])] for r in cats}
    assert stored[short[1]["key_id"]] == [
        [[float(v) for v in x], [float(v) for v in y], t] for x, y, t in short[1]["drawing"]
    ]
    dogs = [r for r in rows if r["word"] == "dog"]
    google = [json.loads(line) for line in good.splitlines()]
    assert 0 < len(dogs) < len(google)  # the lines read before the fault are kept, and are Google's
    assert {r["key_id"] for r in dogs} <= {r.get("key_id") for r in google}


def test_rows_mixing_the_three_formats_are_canonicalised_as_record_strokes(converted):
    table = pa.concat_tables(pq.read_table(p) for p in _shards(converted))
    formats = [sum(table[c].is_valid().to_numpy(zero_copy_only=False)) for c in ("simplified_x", "raw_x", "stroke3")]
    assert min(formats) > 100, formats
    points, sizes = record_points(table)
    expected = [record_strokes(row) for row in table.to_pylist()]
    assert sizes.tolist() == [len(e) for e in expected]
    assert points.tobytes() == np.concatenate(expected).tobytes()
