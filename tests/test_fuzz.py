"""A seeded fuzz of every input path with mutated real drawings and files: no traceback, no NaN, no 5xx.

Each test mutates real Quick, Draw! records (extreme numbers, dropped fields, swapped types, shuffled and
ragged strokes, bit flips, truncation, non-UTF-8 bytes) or whole files (truncated, bit-flipped or
mislabelled gzip, truncated npz) a bounded number of times, and asserts that sketchkeras either returns
finite canonical arrays and probabilities or raises one of its documented errors with a message.
"""

import gzip
import json
import random
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sketchkeras import (
    DrawingError,
    SketchClassifier,
    SkippedRecordsWarning,
    bundled_model_dir,
    canonical_strokes,
    load_quickdraw,
)
from sketchkeras.serve import create_app
from sketchkeras.strokes import read_ndjson

SEED = 13
ERRORS = (DrawingError, ValueError, OSError)  # what sketchkeras documents raising on bad input
# Finite numbers at the edges of float64, and literals that Python's json reads as inf or as an int past float64.
EXTREMES = [
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "1e-320",
    "-1e-320",
    "5e-324",
    "-0.0",
    "1e300",
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "NaN",
    "Infinity",
]
SWAPS = ['"5"', "null", "true", "[1]", "{}", '"cat"', "[]", "[[]]"]
INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"]
MARK = '"@@fuzz@@"'
SHORT = 48  # points: the bundled model's three smallest buckets, compiled once each


def _real_records(quickdraw_dir, kind, words, per_word):
    lines = [line for w in words for line in (quickdraw_dir / kind / f"{w}.ndjson").read_text().splitlines()[:per_word]]
    return [json.loads(line) for line in lines]


def _coordinates(drawing):
    return [(s, a, i) for s, stroke in enumerate(drawing) for a in (0, 1) for i in range(len(stroke[a]))]


def _mutate_record(rng, record):
    """One record-level mutation of a copy of `record`, as JSON text."""
    record = json.loads(json.dumps(record))
    drawing = record["drawing"]
    kind = rng.randrange(9)
    literal = None
    if kind == 0:  # one to three coordinates at the edges of float64
        literal = rng.choice(EXTREMES)
        for s, a, i in rng.sample(_coordinates(drawing), min(3, len(_coordinates(drawing)))):
            drawing[s][a][i] = MARK
    elif kind == 1:  # the whole drawing scaled to the edges of float64, or shifted so far that its extent vanishes
        edges = [(1e305, 0.0), (1e-320, 0.0), (5e-324, 0.0), (1.0, 1e308), (1.0, -1e308), (1e-300, 1e300)]
        scale, shift = rng.choice(edges)
        for s, a, i in _coordinates(drawing):
            drawing[s][a][i] = drawing[s][a][i] * scale + shift
    elif kind == 2:  # a field dropped
        if rng.random() < 0.5:
            del record[rng.choice(["drawing", *(key for key in record if key != "drawing")])]
        else:
            drawing[rng.randrange(len(drawing))].pop(rng.randrange(2))
    elif kind == 3:  # the word (or another field) swapped for another type
        record[rng.choice([key for key in record if key != "drawing"])], literal = MARK, rng.choice([*SWAPS, "5", "-1"])
    elif kind == 4:  # the drawing, a stroke or a coordinate swapped for another type
        literal = rng.choice(SWAPS)
        target = rng.randrange(3)
        if target == 0:
            record["drawing"] = MARK
        elif target == 1:
            drawing[rng.randrange(len(drawing))] = MARK
        else:
            s, a, i = rng.choice(_coordinates(drawing))
            drawing[s][a][i] = MARK
    elif kind == 5:  # strokes shuffled, or one axis of a stroke reversed
        if rng.random() < 0.5:
            rng.shuffle(drawing)
        else:
            stroke = rng.choice(drawing)
            stroke[0].reverse()
    elif kind == 6:  # a ragged stroke, or an empty one
        stroke = rng.choice(drawing)
        if rng.random() < 0.5:
            stroke[1].pop()
        else:
            for axis in stroke:
                axis.clear()
    elif kind == 7:  # one level of nesting too many or too few
        record["drawing"] = [drawing] if rng.random() < 0.5 else drawing[0]
    else:  # no strokes at all
        record["drawing"] = []
    text = json.dumps(record, separators=(",", ":"))
    return text.replace(MARK, literal) if literal is not None else text


def _mutate_bytes(rng, data):
    """One byte-level mutation: bit flips, truncation or an invalid UTF-8 sequence."""
    data = bytearray(data)
    kind = rng.randrange(3)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del data[rng.randrange(1, len(data)) :]
    else:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice(INVALID_UTF8)
    return bytes(data)


def _mutated_line(rng, record):
    """A mutated record as one ndjson line: never blank and never split in two."""
    while True:
        line = _mutate_record(rng, record).encode()
        if rng.random() < 0.4:
            line = _mutate_bytes(rng, line)
        line = line.replace(b"\n", b" ")
        if line.strip():
            return line


def _assert_canonical(strokes):
    strokes = np.asarray(strokes)
    assert strokes.dtype == np.float32 and strokes.ndim == 2 and strokes.shape[1] == 3 and len(strokes) > 0
    assert np.all(np.isfinite(strokes))
    assert set(np.unique(strokes[:, 2])) <= {0.0, 1.0} and strokes[-1, 2] == 1.0
    points = np.cumsum(strokes[:, :2].astype(np.float64), axis=0)
    assert np.all(points >= -1e-5) and np.all(points <= 1 + 1e-5)  # the frame is 0..1 on the longest side


def _assert_documented(error, where):
    assert isinstance(error, ERRORS), f"{type(error).__name__}: {error}"
    assert where in str(error), f"{error!r} does not name {where!r}"


@pytest.fixture(scope="module")
def records(quickdraw_dir):
    """Real simplified and raw records of five classes, 8 each of at most `SHORT` points (few shapes to compile)."""
    words = ["eye", "ant", "circle", "square", "triangle"]
    chosen = {}
    for kind in ("simplified", "raw"):
        real = _real_records(quickdraw_dir, kind, words, 200)
        short = [r for r in real if len(canonical_strokes(r["drawing"])) <= SHORT]
        chosen[kind] = [r for w in words for r in [r for r in short if r["word"] == w][:8]]
        assert len(chosen[kind]) == 40
    return chosen


@pytest.fixture(scope="module")
def model():
    """The bundled QD-35 classifier."""
    return SketchClassifier.from_pretrained(bundled_model_dir())


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_read_ndjson_reads_each_mutated_line_alone(records, kind, tmp_path):
    rng = random.Random(SEED)
    mutated = 0
    for case in range(8):  # 8 files of 24 lines, every other one mutated: 96 mutated lines
        originals = [rng.choice(records[kind]) for _ in range(24)]
        lines = [json.dumps(r).encode() if n % 2 else _mutated_line(rng, r) for n, r in enumerate(originals)]
        path = tmp_path / f"case{case}.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        results = list(read_ndjson(path))
        assert [number for number, _ in results] == list(range(1, 25))
        for (number, result), original, line in zip(results, originals, lines):
            if number % 2 == 0:  # an untouched line reads as if its neighbours were fine
                assert result["word"] == original["word"]
                np.testing.assert_array_equal(result["strokes"], canonical_strokes(original["drawing"]))
            elif isinstance(result, Exception):
                mutated += 1
                _assert_documented(result, f"{path.name}:{number}:")
            else:
                mutated += 1
                _assert_canonical(result["strokes"])
                assert isinstance(result["word"], str)
                # The table path and the line path agree on every line that they accept.
                np.testing.assert_array_equal(result["strokes"], canonical_strokes(json.loads(line)["drawing"]))
    assert mutated == 96


def test_canonical_strokes_and_predict_drawings_refuse_or_give_finite_answers(records, quickdraw_dir, model):
    rng = random.Random(SEED)
    drawings = []
    for _ in range(200):  # Google drawings, simplified and raw
        try:
            record = rng.choice(records[rng.choice(["simplified", "raw"])])
            drawing = json.loads(_mutate_record(rng, record))["drawing"]
        except (ValueError, KeyError):
            continue  # not JSON with a drawing: read_ndjson's case
        drawings.append(drawing)
    for array in np.load(quickdraw_dir / "sketchrnn" / "pig.npz", allow_pickle=True, encoding="latin1")["test"][:60]:
        array = array[:SHORT].astype(np.float64)  # sketch-rnn stroke-3
        kind = rng.randrange(4)
        if kind == 0:
            array[rng.randrange(len(array)), rng.randrange(2)] = float(rng.choice(EXTREMES[:8]))
        elif kind == 1:
            array[:, :2] *= rng.choice([1e305, 1e-320, 5e-324, -0.0])
        elif kind == 2:
            array = array[: rng.randrange(0, len(array))]
        drawings.append(array.astype(str) if kind == 3 else array)
    accepted = []
    for drawing in drawings:
        try:
            strokes = canonical_strokes(drawing)
        except Exception as error:  # noqa: BLE001 - the assertion names the exception
            _assert_documented(error, "drawing")
            with pytest.raises(DrawingError, match="^drawing 0: "):
                model.predict_drawings([drawing])
            continue
        _assert_canonical(strokes)
        accepted.append(drawing)
    assert len(accepted) >= 50
    for guesses in model.predict_drawings(accepted, top_k=5):
        probabilities = [p for _, p in guesses]
        assert len(guesses) == 5 and all(np.isfinite(probabilities)) and all(0 <= p <= 1 for p in probabilities)
        assert probabilities == sorted(probabilities, reverse=True)


def _corrupt_file(rng, quickdraw_dir, folder):
    """Writes one damaged real file into `folder`; returns its name and how many drawings it held undamaged."""
    text = (quickdraw_dir / "simplified" / "bicycle.ndjson").read_text().splitlines()[:10]
    packed = gzip.compress(("\n".join(text) + "\n").encode(), mtime=0)
    kind = rng.randrange(6)
    if kind == 0:
        name, data = "bicycle.ndjson.gz", packed[: rng.randrange(1, len(packed))]
    elif kind == 1:
        name, data = "bicycle.ndjson.gz", bytearray(packed)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(10, len(data) - 8)] ^= 1 << rng.randrange(8)
    elif kind == 2:
        name, data = "bicycle.ndjson.gz", packed[:-8] + bytes(8)  # wrong CRC and size
    elif kind == 3:
        name, data = "bicycle.ndjson.gz", ("\n".join(text) + "\n").encode()  # not gzip at all
    elif kind == 4:
        name, data = "bicycle.ndjson", ("\n".join(text)).encode()[: rng.randrange(1, 2000)]
    else:
        name = "pig.npz"
        data = (quickdraw_dir / "sketchrnn" / "pig.npz").read_bytes()
        data = data[: rng.randrange(1, len(data))]
    (folder / name).write_bytes(bytes(data))
    return name, (2403 if name == "pig.npz" else 10)


def _load_counting(source):
    """`load_quickdraw(source)`, how many bad records its warnings counted, and their text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_quickdraw(source)
    skipped = [w.message for w in caught if isinstance(w.message, SkippedRecordsWarning)]
    return dataset, sum(sum(w.counts.values()) for w in skipped), " ".join(map(str, skipped))


def test_load_quickdraw_skips_and_counts_mutated_records_and_files(records, quickdraw_dir, tmp_path):
    rng = random.Random(SEED)
    eyes = [r for r in records["simplified"] if r["word"] == "eye"]
    ants = [r for r in records["simplified"] if r["word"] == "ant"]
    for case in range(12):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        (folder / "eye.ndjson").write_text("".join(json.dumps(r) + "\n" for r in eyes))
        ant_lines = [json.dumps(r).encode() if n % 2 else _mutated_line(rng, r) for n, r in enumerate(ants)]
        (folder / "ant.ndjson").write_bytes(b"\n".join(ant_lines))
        damaged, undamaged = _corrupt_file(rng, quickdraw_dir, folder)
        # Alone, each line of the mutated file is loaded or counted.
        ant, ant_skipped, _ = _load_counting(folder / "ant.ndjson")
        assert ant.num_rows + ant_skipped == 8 and ant.num_rows >= 4
        # Alone, a damaged file that lost drawings says so by name.
        bad, bad_skipped, messages = _load_counting(folder / damaged)
        if bad.num_rows < undamaged:
            assert bad_skipped >= 1 and damaged in messages, f"case {case}: {damaged} lost drawings without a word"
        # Together, the good file loads in full and each file counts as it did alone.
        dataset, skipped, _ = _load_counting(folder)
        assert (dataset.num_rows, skipped) == (8 + ant.num_rows + bad.num_rows, ant_skipped + bad_skipped)
        names = dataset.features["word"].names
        assert [names[i] for i in dataset["word"]].count("eye") == 8
        for strokes in dataset["strokes"]:
            _assert_canonical(np.asarray(strokes, dtype=np.float32))


def test_server_answers_mutated_requests_without_5xx(records, model):
    rng = random.Random(SEED)
    client = TestClient(create_app(model), base_url="http://localhost")
    statuses = []
    for _ in range(120):
        data = _mutate_record(rng, {"drawing": rng.choice(records["raw"])["drawing"], "top_k": 5}).encode()
        if rng.random() < 0.3:
            data = _mutate_bytes(rng, data)
        answer = client.post("/api/predict", content=data, headers={"Content-Type": "application/json"})
        statuses.append(answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text, data[:200])
        payload = json.loads(answer.text, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))
        if answer.status_code == 200:
            probabilities = [guess["probability"] for guess in payload["guesses"]]
            assert len(probabilities) == 5 and all(np.isfinite(probabilities))
        else:
            assert isinstance(payload["detail"], (str, list)) and payload["detail"]
    assert statuses.count(200) >= 5 and len(set(statuses)) >= 3
