"""The static recognizer page (`sketchkeras.static_page`): its weight file, and the page itself served by a stdlib
file server on 127.0.0.1 in headless Chromium (Debian's, driven by Playwright), against `predict_drawings` on real
Quick, Draw! drawings.

The browser tests are skipped when /usr/bin/chromium or the playwright package is missing, unless
SKETCHKERAS_REQUIRE_BROWSER=1 (as in CI), which makes that a failure.
"""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest
from pen import BLANK, draw, fit

from sketchkeras import (
    SketchBackbone,
    SketchClassifier,
    SketchPreprocessor,
    bundled_model_dir,
    categories,
    qd35_classes,
    simplify_drawing,
)
from sketchkeras.static_page import write_static_page
from sketchkeras.strokes import canonical_strokes

ROOT = Path(__file__).resolve().parents[1]
# The files the page asks for, "" being index.html.
PAGE_FILES = ["", "style.css", "app.js", "pad.js", "preprocess.js", "model.js", "model.json", "weights.bin"]
# Small architectures, one per thing the page supports beyond the bundled model's (LSTM, batch norm, odd kernels).
LONG = ["blueberry", "brain"]  # their first raw drawings have more points than max_points once simplified
SMALL_MODELS = {
    "gru-layer-norm": dict(conv_layers=[(8, 4, 3), (6, 2, 1)], rnn_units=[6, 5], rnn="gru", normalization="layer"),
    "lstm-batch-norm": dict(conv_layers=[(7, 4, 2)], rnn_units=[6], normalization="batch"),
    "lstm-no-norm": dict(conv_layers=[(5, 6, 1)], rnn_units=[4, 6], normalization=None),
    "gru-no-conv": dict(conv_layers=[], rnn_units=[7], rnn="gru"),
}


@pytest.fixture(scope="module")
def model():
    return SketchClassifier.from_pretrained(bundled_model_dir())


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory, model):
    """`(folder, url)`: a folder served by the standard library's file server on a free port of 127.0.0.1, holding
    the QD-35 page in qd35/ (other tests write theirs beside it)."""
    root = tmp_path_factory.mktemp("site")
    write_static_page(model, root / "qd35")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=root))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()
    server.server_close()


def _open(browser, url, labels):
    """The page at `url`, loaded and its model ready; the requests it makes and its console's errors and warnings
    are recorded in `page.requests` and `page.complaints`."""
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    page.requests, page.complaints = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda entry: page.complaints.append(entry.text) if entry.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: page.complaints.append(str(error)))
    page.goto(url)
    page.wait_for_selector(f"#labels:has-text('{len(labels)} things this model knows')")
    return page


def _recognize(page, drawings, top_k):
    """The page's `window.recognize` on each drawing: `[[(label, probability), ...], ...]`."""
    answers = page.evaluate(
        "async ([drawings, k]) => Promise.all(drawings.map(d => window.recognize(d, k)))", [drawings, top_k]
    )
    return [[(g["label"], g["probability"]) for g in guesses] for guesses in answers]


def _assert_same_guesses(shown, expected, tolerance=1e-4):
    """Same labels in the same order, probabilities within `tolerance`; returns the largest difference."""
    assert [[label for label, _ in guesses] for guesses in shown] == [[label for label, _ in g] for g in expected]
    worst = max(abs(p - q) for a, b in zip(shown, expected) for (_, p), (_, q) in zip(a, b))
    assert worst <= tolerance
    return worst


def _raw(quickdraw_dir, word, count):
    """The first `count` raw drawings of `word`, in file order."""
    lines = (quickdraw_dir / "raw" / f"{word}.ndjson").read_text().splitlines()
    return [json.loads(line)["drawing"] for line in lines[:count]]


def _shown(page):
    """The guesses the page shows: `[(label, probability), ...]`."""
    items = page.eval_on_selector_all(
        "#guesses li", "items => items.map(li => [li.dataset.label, Number(li.dataset.probability)])"
    )
    return [tuple(item) for item in items]


def _settled(page):
    page.wait_for_selector('#guesses[aria-busy="false"]', state="attached")
    return _shown(page)


def _randomise(model, seed):
    """Random weights everywhere (positive variances), so every weight of the page's arithmetic counts."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if weight.path.endswith("moving_variance"):
            weight.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
        else:
            weight.assign(rng.normal(0.0, 0.6, shape).astype("float32"))
    return model


def test_the_weight_file_holds_the_models_own_weights_in_stage_order(tmp_path, model):
    folder = write_static_page(model, tmp_path / "page")
    assert folder == tmp_path / "page" and isinstance(folder, Path)
    header = json.loads((folder / "model.json").read_text())
    assert header["labels"] == model.labels and header["max_points"] == model.max_points == 256
    values = np.fromfile(folder / header["weights"], dtype="<f4")
    tensors = {}  # variable path -> its entry in model.json
    for i, (stage, (filters, size, strides)) in enumerate(zip(header["stages"], model.backbone.conv_layers)):
        assert [stage[key] for key in ("type", "filters", "kernel_size", "strides")] == ["conv", filters, size, strides]
        assert stage["padding"] == [(size - 1) // 2, size - 1 - (size - 1) // 2]
        norm = stage.pop("norm")
        assert norm.pop("type") == "batch" and norm.pop("epsilon") == pytest.approx(1e-3)
        tensors |= {f"encoder/conv_{i}/conv/{key}": stage[key] for key in ("kernel", "bias")}
        tensors |= {f"encoder/norm_{i}/{key}": entry for key, entry in norm.items()}
    for i, (stage, units) in enumerate(zip(header["stages"][3:], model.backbone.rnn_units)):
        assert (stage["type"], stage["units"]) == ("lstm", units)
        tensors |= {
            f"encoder/lstm_{i}_forward/lstm_cell/{key}": stage[key] for key in ("kernel", "recurrent_kernel", "bias")
        }
    assert len(header["stages"]) == 5
    tensors |= {f"predictions/{key}": entry for key, entry in header["head"].items()}
    # In the file, every variable of the model, back to back in stage order, bit for bit.
    assert sorted(tensors) == sorted(weight.path for weight in model.weights)
    weights = {weight.path: np.asarray(keras.ops.convert_to_numpy(weight), np.float32) for weight in model.weights}
    offset = 0
    for path, entry in tensors.items():
        expected = weights[path]
        assert entry["offset"] == offset and entry["shape"] == list(expected.shape)
        assert np.array_equal(values[offset : offset + expected.size].reshape(expected.shape), expected)
        offset += expected.size
    assert offset == len(values)
    assert (folder / "style.css").read_bytes() == (ROOT / "src" / "sketchkeras" / "web" / "style.css").read_bytes()


def test_models_the_page_cannot_run_are_refused(tmp_path):
    labels = ["cat", "dog"]
    with pytest.raises(ValueError, match="forward-only"):
        write_static_page(
            SketchClassifier(SketchBackbone(conv_layers=[], rnn_units=[4], bidirectional=True), labels), tmp_path
        )
    with pytest.raises(ValueError, match="masked"):
        write_static_page(SketchClassifier.from_preset("geron", labels=labels), tmp_path)
    gru = SketchClassifier(SketchBackbone(conv_layers=[], rnn_units=[4], rnn="gru"), labels)
    gru.backbone.stages()[0].forward.cell.reset_after = False
    with pytest.raises(ValueError, match="reset_after=True"):
        write_static_page(gru, tmp_path)
    lstm = SketchClassifier(SketchBackbone(conv_layers=[], rnn_units=[4]), labels)
    lstm.backbone.stages()[0].forward.cell.activation = lambda x: x
    with pytest.raises(ValueError, match="tanh/sigmoid"):
        write_static_page(lstm, tmp_path)
    assert list(tmp_path.iterdir()) == []  # refused before writing anything


def test_the_pages_preprocessing_equals_pythons(browser, site, model, quickdraw_dir):
    root, url = site
    words = categories()[::10]
    drawings = [d for word in words for d in _raw(quickdraw_dir, word, 2)]
    drawings += [_raw(quickdraw_dir, word, 1)[0] for word in LONG]
    # Beside the real drawings, the odd cases: a one-point stroke, a one-point drawing, repeated points.
    drawings += [
        [[[100, 300], [50, 60], [0, 250]], [[200], [150]]],
        [[[7.5], [3.25]]],
        [[[10, 10, 10, 60, 60], [5, 5, 5, 5, 5]], [[0, 0], [0, 0]]],
    ]
    page = _open(browser, f"{url}qd35/", model.labels)
    simplified, canonical, truncated = page.evaluate(
        "async drawings => { const p = await import('./preprocess.js'); return ["
        "drawings.map(d => p.simplifyDrawing(d)), drawings.map(d => p.canonicalStrokes(d)),"
        "drawings.map(d => p.canonicalStrokes(d, 40))]; }",
        drawings,
    )
    assert len(drawings) == 75
    assert simplified == [simplify_drawing(d) for d in drawings]  # the same integers
    assert canonical == [canonical_strokes(d, format="raw").tolist() for d in drawings]  # the same float32 values
    assert truncated == [canonical_strokes(d, format="raw", max_points=40).tolist() for d in drawings]
    assert [len(rows) for rows in canonical[-5:-3]] == [325, 277]  # past the model's 256 points
    assert page.complaints == []
    page.close()


def test_the_page_recognises_real_drawings_as_predict_drawings_does(browser, site, model, quickdraw_dir, capsys):
    root, url = site
    drawings = [_raw(quickdraw_dir, word, 1)[0] for word in qd35_classes()]
    drawings += [_raw(quickdraw_dir, word, 1)[0] for word in LONG]
    assert [len(canonical_strokes(d, format="raw")) for d in drawings[-2:]] == [325, 277]  # the page truncates them
    page = _open(browser, f"{url}qd35/", model.labels)
    shown = _recognize(page, drawings, 5)
    worst = _assert_same_guesses(shown, model.predict_drawings(drawings, format="raw", top_k=5))
    elapsed = page.evaluate(
        "async d => { const t = performance.now(); await window.recognize(d); return performance.now() - t; }",
        drawings[-1],
    )
    with capsys.disabled():
        print(f"\nstatic page: top-5 within {worst:.1e} of predict_drawings; the longest drawing in {elapsed:.0f} ms")
    assert page.complaints == []
    assert sorted(page.requests) == sorted(f"{url}qd35/{name}" for name in PAGE_FILES)  # its own files, nothing else
    page.close()


def test_drawing_with_the_mouse_shows_the_guesses_while_drawing(browser, site, model, quickdraw_dir):
    root, url = site
    drawing = _raw(quickdraw_dir, "cat", 3)[2]
    page = _open(browser, f"{url}qd35/", model.labels)
    assert _shown(page) == []
    width = page.eval_on_selector("#canvas", "c => c.width")
    strokes = fit(drawing, width)
    assert len(strokes) >= 3

    def check_mid_stroke(i):
        if i == 1:  # pen still down in the second stroke: the guesses are those for the drawing so far
            expected = model.predict_drawings([strokes[:2]], format="raw", top_k=5)
            _assert_same_guesses([_settled(page)], expected)

    draw(page, strokes, before_lift=check_mid_stroke)
    shown = _settled(page)
    _assert_same_guesses([shown], model.predict_drawings([strokes], format="raw", top_k=5))
    assert page.inner_text("#guesses li .name") == shown[0][0] and page.inner_text("#message") == ""
    assert page.complaints == []  # before the test reads the canvas twice, which Chromium warns about
    assert not page.eval_on_selector("#canvas", BLANK)

    page.click("#clear")
    assert _shown(page) == [] and page.eval_on_selector("#canvas", BLANK)
    assert all(request.startswith(f"{url}qd35/") for request in page.requests)
    page.close()


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_every_supported_architecture_runs_in_the_page(browser, site, quickdraw_dir, name):
    root, url = site
    labels = qd35_classes()[:9]
    model = _randomise(
        SketchClassifier(SketchBackbone(**SMALL_MODELS[name]), labels, SketchPreprocessor(40)), seed=len(name)
    )
    write_static_page(model, root / name)
    drawings = [d for word in labels[:4] for d in _raw(quickdraw_dir, word, 3)]
    page = _open(browser, f"{url}{name}/", labels)
    expected = model.predict_drawings(drawings, format="raw", top_k=len(labels))
    assert max(p for guesses in expected for _, p in guesses) < 0.99  # random weights, yet not one certain answer
    _assert_same_guesses(_recognize(page, drawings, len(labels)), expected)
    assert page.complaints == []
    assert sorted(page.requests) == sorted(f"{url}{name}/{file}" for file in PAGE_FILES)
    page.close()
