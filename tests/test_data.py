"""Loading real Quick, Draw! files through `datasets`, splits, parquet and batches."""

import gzip
import json
import warnings

import datasets
import numpy as np
import pytest

from sketchkeras import (
    DrawingError,
    SkippedRecordsWarning,
    StrokeBatches,
    bundled_sample_dir,
    categories,
    convert_quickdraw,
    exclude_drawings,
    load_quickdraw,
    qd35_classes,
    split_dataset,
)


@pytest.fixture(scope="module")
def qd35(quickdraw_dir):
    sources = [quickdraw_dir / "simplified", quickdraw_dir / "sketchrnn"]
    return load_quickdraw(sources, classes=qd35_classes(), max_per_class=400)


def test_categories_are_googles_345_in_order(quickdraw_dir):
    assert categories() == (quickdraw_dir / "categories.txt").read_text().split("\n")[:345]
    assert len(categories()) == 345


def test_every_simplified_record_loads(quickdraw_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedRecordsWarning)
        ds = load_quickdraw(quickdraw_dir / "simplified")
    assert ds.num_rows == 43294
    assert ds.features["word"].names == categories()
    assert sum(key is None for key in ds["key_id"]) == 18189
    assert len(set(ds["word"])) == 345


def test_every_raw_record_loads_and_is_simplified(quickdraw_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedRecordsWarning)
        ds = load_quickdraw(quickdraw_dir / "raw")
    assert ds.num_rows == 7593
    assert sum(key is None for key in ds["key_id"]) == 0
    # raw strokes hold a point per mouse event; simplified ones a few dozen
    assert np.median([len(s) for s in ds["strokes"]]) < 80


def test_class_subset_and_cap(qd35):
    names = qd35.features["word"].names
    assert names == qd35_classes()
    counts = np.bincount(qd35["word"], minlength=35)
    assert counts.min() == 385 and counts.max() == 400
    assert qd35.num_rows == 13985


def test_sketchrnn_npz_loads_into_its_splits(quickdraw_dir):
    ds = load_quickdraw(quickdraw_dir / "sketchrnn", classes=["alarm clock", "face", "pig", "radio"])
    assert ds.num_rows == 9605
    assert np.bincount(ds["word"]).tolist() == [2400, 2401, 2403, 2401]


def test_bad_records_are_skipped_counted_and_named(tmp_path, quickdraw_dir):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:3]
    lines = (
        good[:1]
        + [
            "{broken",
            json.dumps({"word": "unicorn", "drawing": [[[1], [1]]]}),
            json.dumps({"word": "cat", "drawing": [[[1, 2], [1]]]}),
        ]
        + good[1:]
    )
    (tmp_path / "cat.ndjson").write_text("\n".join(lines))
    with pytest.warns(SkippedRecordsWarning) as caught:
        ds = load_quickdraw(tmp_path)
    assert ds.num_rows == 3
    assert caught[0].message.counts == {"bad drawing": 2, "unknown word": 1}
    assert "cat.ndjson:2: malformed JSON" in str(caught[0].message)
    assert "cat.ndjson:3: unknown word 'unicorn'" in str(caught[0].message)
    with pytest.raises(DrawingError, match="cat.ndjson:2"):
        load_quickdraw(tmp_path, strict=True)


def test_split_is_seeded_stratified_and_grouped_by_key_id(quickdraw_dir):
    classes = ["cat", "dog", "pig"]
    simplified = load_quickdraw(quickdraw_dir / "simplified", classes=classes)
    raw = load_quickdraw(quickdraw_dir / "raw", classes=classes)
    both = datasets.concatenate_datasets([simplified, raw])
    splits = split_dataset(both, seed=3)
    assert sum(s.num_rows for s in splits.values()) == both.num_rows
    keys = {name: {k for k in split["key_id"] if k is not None} for name, split in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert not keys["validation"] & keys["test"]
    shared = {k for k in raw["key_id"]} & {k for k in simplified["key_id"] if k}
    assert len(shared) > 50  # raw/simplified pairs exist and are kept together
    for word in range(3):
        per_split = {name: sum(w == word for w in s["word"]) for name, s in splits.items()}
        assert abs(per_split["test"] / sum(per_split.values()) - 0.1) < 0.03
    again = split_dataset(both, seed=3)
    assert again["test"]["key_id"] == splits["test"]["key_id"]
    assert split_dataset(both, seed=4)["test"]["key_id"] != splits["test"]["key_id"]


def test_exclude_drawings_finds_a_drawing_by_key_id_in_another_format_and_by_its_strokes(quickdraw_dir):
    simplified = load_quickdraw(quickdraw_dir / "simplified", classes=["cat"])
    raw = load_quickdraw(quickdraw_dir / "raw", classes=["cat"])  # 23 of the same cats, as Google recorded them
    kept = exclude_drawings(simplified, raw)
    assert (simplified.num_rows, raw.num_rows, kept.num_rows) == (3475, 23, 3452)
    assert not set(kept["key_id"]) & set(raw["key_id"])
    sample = load_quickdraw(bundled_sample_dir(), classes=["cat"])  # the bundled cats come from Google's file
    assert exclude_drawings(sample, simplified).num_rows == 0 and sample.num_rows == 400
    anonymous = sample.select(range(5)).map(lambda row: {"key_id": None})  # the same drawings, found by strokes
    assert exclude_drawings(sample, anonymous).num_rows == 395
    assert exclude_drawings(sample, raw.select([])).num_rows == 400


def test_0_1_stroke_parquet_still_loads_offline(tmp_path, quickdraw_dir, monkeypatch, stroke_parquet):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = stroke_parquet(quickdraw_dir / "simplified", tmp_path / "qd", classes=["cat", "owl"], max_per_class=50)
    original = split_dataset(load_quickdraw(quickdraw_dir / "simplified", classes=["cat", "owl"], max_per_class=50))
    loaded = load_quickdraw(out, classes=["owl", "cat"])["test"]
    assert loaded.features["word"].names == ["owl", "cat"]
    assert loaded.num_rows == original["test"].num_rows == 10
    names = original["test"].features["word"].names
    assert [names[w] for w in original["test"]["word"]] == [["owl", "cat"][w] for w in loaded["word"]]
    np.testing.assert_array_equal(np.concatenate(loaded["strokes"]), np.concatenate(original["test"]["strokes"]))
    hub_layout = datasets.load_dataset(str(out))
    assert {name: split.num_rows for name, split in hub_layout.items()} == {"train": 80, "validation": 10, "test": 10}
    one_file = load_quickdraw(out / "data" / "train-00000-of-00001.parquet", classes=["cat", "owl"], max_per_class=7)
    assert np.bincount(one_file["word"]).tolist() == [7, 7]


def test_batches_are_bucketed_padded_and_reshuffled(qd35):
    batches = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0)
    shapes, seen = set(), []
    for i in range(len(batches)):
        x, y = batches[i]
        strokes, lengths = x["strokes"], x["lengths"]
        shapes.add(strokes.shape[1])
        assert strokes.dtype == np.float32 and lengths.dtype == np.int32 and y.dtype == np.int32
        steps = np.arange(strokes.shape[1])[None, :]
        assert not strokes[steps >= lengths[:, None]].any()
        truncated = np.diff(batches.offsets)[batches.batches[i][1]] > 256
        assert ((strokes[np.arange(len(y)), lengths - 1, 2] == 1) | truncated).all()
        seen.extend(batches.batches[i][1].tolist())
    assert sorted(seen) == list(range(qd35.num_rows))
    assert shapes <= {16, 32, 48, 64, 96, 128, 192, 256} and len(shapes) <= 8
    (length_0, rows_0), (length_1, rows_1) = batches.batches[:2]  # TensorFlow's tf.data signature comes from these
    assert length_0 != length_1 and len(rows_0) != len(rows_1)
    first = [rows.tolist() for _, rows in batches.batches]
    batches.on_epoch_end()
    assert [rows.tolist() for _, rows in batches.batches] != first
    assert batches.padding_fraction() < 0.18


def test_augmented_batches_also_hold_drawings_in_progress(qd35):
    plain = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0)
    augmented = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0, augment=True)
    cut = total = 0
    for i in range(len(plain)):
        (x, _), (x_aug, y_aug) = plain[i], augmented[i]
        lengths, kept = x["lengths"], x_aug["lengths"]
        shorter = kept < lengths
        assert (kept <= lengths).all() and (kept >= np.ceil(0.25 * lengths)).all()
        rows = np.arange(len(y_aug))
        assert (x_aug["strokes"][rows[shorter], kept[shorter] - 1, 2] == 1).all()  # the pen lifts at the cut
        steps = np.arange(x_aug["strokes"].shape[1])[None, :]
        assert not x_aug["strokes"][steps >= kept[:, None]].any()
        # The points kept are the drawing's first points, transformed: pen flags before the cut unchanged.
        before = steps < (kept - 1)[:, None]
        np.testing.assert_array_equal(x_aug["strokes"][..., 2][before], x["strokes"][..., 2][before])
        cut, total = cut + int(shorter.sum()), total + len(rows)
    assert 0.17 < cut / total < 0.20  # one in five is cut, a few of them keep every point


def test_cut_fraction_zero_trains_on_whole_drawings_and_one_cuts_nearly_all(qd35):
    plain = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0)
    whole = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0, augment=True, cut_fraction=0)
    most = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0, augment=True, cut_fraction=1)
    lengths = np.concatenate([plain[i][0]["lengths"] for i in range(len(plain))])
    np.testing.assert_array_equal(np.concatenate([whole[i][0]["lengths"] for i in range(len(whole))]), lengths)
    shorter = np.concatenate([most[i][0]["lengths"] for i in range(len(most))]) < lengths
    assert 0.95 < shorter.mean() < 1  # every drawing is cut; a few short ones keep every point
    with pytest.raises(ValueError, match="cut_fraction must be between 0 and 1, not 1.5"):
        StrokeBatches(qd35, cut_fraction=1.5)


def test_drop_fraction_drops_points_inside_strokes_and_keeps_the_rest_of_the_drawing_in_place(qd35):
    whole = StrokeBatches(qd35, batch_size=64, max_points=256, seed=0, augment=True, cut_fraction=0)
    dropped = StrokeBatches(
        qd35, batch_size=64, max_points=256, seed=0, augment=True, cut_fraction=0, drop_fraction=0.2
    )
    inside = gone = 0
    for i in range(20):
        (x, _), (x_drop, _) = whole[i], dropped[i]
        for strokes, n, strokes_drop, n_drop in zip(x["strokes"], x["lengths"], x_drop["strokes"], x_drop["lengths"]):
            assert not strokes_drop[n_drop:].any()
            points, pen = np.cumsum(strokes[:n, :2], axis=0), strokes[:n, 2]
            # The kept points are some of the drawing's own points, in order, at the same places.
            kept, j = [], 0
            for point in np.cumsum(strokes_drop[:n_drop, :2], axis=0):
                while np.abs(points[j] - point).max() > 1e-3:
                    j += 1
                kept.append(j)
                j += 1
            np.testing.assert_array_equal(strokes_drop[:n_drop, 2], pen[kept])
            # Only points inside a stroke go: never a stroke's first two points or its last.
            droppable = np.zeros(n, bool)
            droppable[2:] = (pen[2:] == 0) & (pen[1:-1] == 0) & (pen[:-2] == 0)
            assert droppable[np.setdiff1d(np.arange(n), kept)].all()
            inside, gone = inside + int(droppable.sum()), gone + n - n_drop
    assert 0.19 < gone / inside < 0.21
    with pytest.raises(ValueError, match="drop_fraction must be between 0 and 1, not -0.1"):
        StrokeBatches(qd35, drop_fraction=-0.1)


def test_bundled_sample_is_the_real_qd35_benchmark_set(qd35):
    ds = load_quickdraw(bundled_sample_dir(), classes=qd35_classes())
    assert "CC BY 4.0" in (bundled_sample_dir() / "ATTRIBUTION.md").read_text()
    assert ds["word"] == qd35["word"]
    np.testing.assert_array_equal(np.concatenate(ds["strokes"]), np.concatenate(qd35["strokes"]))


def test_extreme_coordinates_load_finite(tmp_path, quickdraw_dir):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:2]
    point = json.dumps({"word": "cat", "drawing": [[[0, 1e-320], [0, 0]]]})
    (tmp_path / "cat.ndjson").write_text("\n".join([good[0], point, good[1]]) + "\n")
    ds = load_quickdraw(tmp_path, classes=["cat"])
    assert ds.num_rows == 3 and np.isfinite(np.concatenate([np.asarray(s) for s in ds["strokes"]])).all()
    assert ds[1]["strokes"] == [[0, 0, 0], [0, 0, 1]]


def test_a_corrupt_file_among_good_ones_is_skipped_and_counted(tmp_path, quickdraw_dir):
    for word in ("cat", "dog"):
        data = (quickdraw_dir / "simplified" / f"{word}.ndjson").read_bytes()
        (tmp_path / f"{word}.ndjson.gz").write_bytes(gzip.compress(data))
    (tmp_path / "owl.ndjson.gz").write_bytes((quickdraw_dir / "simplified" / "owl.ndjson").read_bytes())  # not gzip
    (tmp_path / "pig.npz").write_bytes((quickdraw_dir / "sketchrnn" / "pig.npz").read_bytes()[:5000])  # truncated
    with pytest.warns(SkippedRecordsWarning) as caught:
        ds = load_quickdraw(tmp_path, classes=["cat", "dog", "owl", "pig"])
    good = [quickdraw_dir / "simplified" / f"{w}.ndjson" for w in ("cat", "dog")]
    expected = load_quickdraw(good, classes=["cat", "dog", "owl", "pig"])
    assert ds["word"] == expected["word"] and ds["strokes"] == expected["strokes"]
    assert caught[0].message.counts == {"bad file": 2}
    owl = "owl.ndjson.gz: not a readable gzip file (BadGzipFile: Not a gzipped file (b'{\"'))"
    assert owl in caught[0].message.examples
    assert any(e.startswith(f"{tmp_path / 'pig.npz'}: not a readable .npz file") for e in caught[0].message.examples)
    with pytest.raises(DrawingError, match="owl.ndjson.gz: not a readable gzip file"):
        load_quickdraw(tmp_path, classes=["cat"], strict=True)


def test_a_misspelt_class_is_an_error_that_suggests_real_names(tmp_path, quickdraw_dir, stroke_parquet):
    source = quickdraw_dir / "simplified"
    with pytest.raises(ValueError, match=r"cat.ndjson: unknown class 'dgo'; did you mean 'dog' or 'dragon'\?"):
        load_quickdraw(source / "cat.ndjson", classes=["cat", "dgo"])
    with pytest.raises(ValueError, match=r"unknown class 'aple'; did you mean 'apple' or 'airplane' or 'table'\?"):
        convert_quickdraw(source / "cat.ndjson", tmp_path / "out", classes=["aple"])
    assert not (tmp_path / "out" / "data").exists()
    out = stroke_parquet([source / "cat.ndjson", source / "dog.ndjson"], tmp_path / "qd", classes=["cat", "dog"])
    # A dataset repository holds only its stored names: a real category that it lacks is unknown too.
    with pytest.raises(ValueError, match=r"qd: unknown class 'cow'; no class is close to it"):
        load_quickdraw(out, classes=["cat", "cow"])
    # Words of the user's own files are real names there.
    (tmp_path / "mine.ndjson").write_text(json.dumps({"word": "gizmo", "drawing": [[[1, 5], [1, 5]]]}) + "\n")
    assert load_quickdraw(tmp_path / "mine.ndjson", classes=["gizmo"]).num_rows == 1


def test_parquet_without_sketchkeras_columns_is_a_clear_error(tmp_path, quickdraw_dir):
    ds = load_quickdraw(quickdraw_dir / "simplified" / "cat.ndjson", classes=["cat"])
    ds.remove_columns("word").to_parquet(tmp_path / "noword.parquet")
    message = r"noword.parquet: no 'word' column \(has \['key_id', 'recognized', 'strokes'\]\)"
    with pytest.raises(ValueError, match=message):
        load_quickdraw(tmp_path / "noword.parquet", classes=["cat"])
    ds.cast_column("word", datasets.Value("string")).to_parquet(tmp_path / "strings.parquet")
    with pytest.raises(ValueError, match="strings.parquet: 'word' holds string values, not a ClassLabel"):
        load_quickdraw(tmp_path / "strings.parquet", classes=["cat"])


def test_parquet_loads_all_its_classes_by_default(tmp_path, quickdraw_dir):
    out = convert_quickdraw(quickdraw_dir / "simplified" / "cat.ndjson", tmp_path / "qd", classes=["cat"])
    parts = load_quickdraw(out)
    lines = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()
    assert sum(part.num_rows for part in parts.values()) == len(lines)
    assert parts["train"].features["word"].names == categories()
