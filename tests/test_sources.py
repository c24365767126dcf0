"""Finding and reading real Quick, Draw! sources; counting their bad records."""

import json
from collections import Counter

import pytest

from sketchkeras import DrawingError, SkippedRecordsWarning, load_quickdraw
from sketchkeras.sources import SkippedRecords, file_records, is_dataset_repo, known_records, source_files


def test_source_files_sort_folders_and_globs_and_keep_the_list_order(quickdraw_dir):
    qd = quickdraw_dir
    files = source_files([qd / "sketchrnn", qd / "simplified" / "ca*.ndjson", qd / "raw" / "cat.ndjson"])
    names = [f"{f.parent.name}/{f.name}" for f in files]
    assert names == [
        "sketchrnn/alarm clock.npz",
        "sketchrnn/face.npz",
        "sketchrnn/pig.npz",
        "sketchrnn/radio.npz",
        "simplified/cactus.ndjson",
        "simplified/cake.ndjson",
        "simplified/calculator.ndjson",
        "simplified/calendar.ndjson",
        "simplified/camel.ndjson",
        "simplified/camera.ndjson",
        "simplified/camouflage.ndjson",
        "simplified/campfire.ndjson",
        "simplified/candle.ndjson",
        "simplified/cannon.ndjson",
        "simplified/canoe.ndjson",
        "simplified/car.ndjson",
        "simplified/carrot.ndjson",
        "simplified/castle.ndjson",
        "simplified/cat.ndjson",
        "raw/cat.ndjson",
    ]
    assert len(source_files(quickdraw_dir / "simplified")) == 345
    with pytest.raises(FileNotFoundError, match=r"zz\*\.ndjson: no Quick, Draw! files"):
        source_files(quickdraw_dir / "simplified" / "zz*.ndjson")
    assert not is_dataset_repo(quickdraw_dir) and not is_dataset_repo([quickdraw_dir / "raw"])


def test_file_records_read_every_sketchrnn_split_in_file_order(quickdraw_dir):
    records = list(file_records(quickdraw_dir / "sketchrnn" / "face.npz", max_points=20))
    splits = Counter(where.split(":")[1].split("[")[0] for where, _, _ in records)
    assert list(splits.items()) == [("train", 1920), ("valid", 240), ("test", 241)]
    assert records[1920][0] == "face.npz:valid[0]"
    assert {record["word"] for _, record, _ in records} == {"face"}
    assert max(len(record["strokes"]) for _, record, _ in records) == 20


def test_bad_records_and_files_are_counted_by_reason_first_five_named(tmp_path, quickdraw_dir):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:2]
    owl = json.loads((quickdraw_dir / "simplified" / "owl.ndjson").read_text().splitlines()[0])
    lines = [good[0], *["{broken"] * 5, json.dumps({**owl, "word": "unicorn"}), good[1], json.dumps(owl)]
    (tmp_path / "cat.ndjson").write_text("\n".join(lines) + "\n")
    (tmp_path / "dog.ndjson.gz").write_bytes(b"not gzip")
    files = [tmp_path / "cat.ndjson", tmp_path / "dog.ndjson.gz"]
    skipped = SkippedRecords()
    kept = [where for where, _ in known_records(files, {"cat", "owl"}, skipped)]
    assert kept == ["cat.ndjson:1", "cat.ndjson:8", "cat.ndjson:9"]
    assert skipped.counts == {"bad drawing": 5, "unknown word": 1, "bad file": 1}
    assert [message.split(": ")[0] for message in skipped.examples] == [f"cat.ndjson:{n}" for n in range(2, 7)]
    with pytest.warns(SkippedRecordsWarning, match=r"^skipped 7 bad record\(s\) ") as caught:
        skipped.warn()
    assert caught[0].filename == __file__
    with pytest.raises(DrawingError, match="^cat.ndjson:2: malformed JSON"):
        list(known_records(files, {"cat"}, SkippedRecords(strict=True)))


def test_load_quickdraw_warns_at_its_caller(tmp_path, quickdraw_dir):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[0]
    (tmp_path / "cat.ndjson").write_text(f"{good}\n{{broken\n")
    with pytest.warns(SkippedRecordsWarning) as caught:
        assert load_quickdraw(tmp_path, classes=["cat"]).num_rows == 1
    assert caught[0].filename == __file__ and caught[0].message.counts == {"bad drawing": 1}
