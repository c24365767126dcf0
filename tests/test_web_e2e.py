"""The web demo end to end: the real server on a free port with the bundled QD-35 model, and headless
Chromium (Debian's, driven by Playwright) drawing a real Quick, Draw! drawing with the mouse.

Skipped when /usr/bin/chromium or the playwright package is missing, unless
SKETCHKERAS_REQUIRE_BROWSER=1 (as in CI), which makes that a failure.
"""

import gzip
import json
import re
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import uvicorn
from pen import BLANK, draw, fit

from sketchkeras import (
    SketchClassifier,
    bundled_model_dir,
    bundled_sample_dir,
    load_quickdraw,
    qd35_classes,
    simplify_drawing,
)
from sketchkeras.serve import create_app
from sketchkeras.strokes import canonical_strokes, read_ndjson

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "test-artifacts" / "web_demo.png"


@pytest.fixture(scope="module")
def model():
    return SketchClassifier.from_pretrained(bundled_model_dir())


@pytest.fixture(scope="module")
def url(model):
    """The demo served by uvicorn from a background thread, on a free port of 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(model), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join()
    sock.close()


def _unseen_drawing(model, quickdraw_dir):
    """The first raw drawing (QD-35 classes in order, lines in file order) that training never saw and
    whose true label `predict_drawings` ranks in its top 5: `(word, drawing)`."""
    seen_keys, seen_drawings = set(), set()
    for path in (bundled_sample_dir() / "simplified").glob("*.ndjson.gz"):
        for line in gzip.open(path, "rt"):
            record = json.loads(line)
            seen_keys.add(record.get("key_id"))
            seen_drawings.add(json.dumps(record["drawing"]))  # half the records carry no key_id
    for word in qd35_classes():
        for line in (quickdraw_dir / "raw" / f"{word}.ndjson").open():
            record = json.loads(line)
            drawing = record["drawing"]
            simplified = json.dumps(simplify_drawing([stroke[:2] for stroke in drawing]))
            if record["key_id"] in seen_keys or simplified in seen_drawings:
                continue
            if word in [label for label, _ in model.predict_drawings([drawing], format="raw")[0]]:
                return word, drawing
    raise AssertionError("no unseen raw drawing of a QD-35 class has its label in the model's top 5")


def test_drawing_on_the_page_shows_the_models_guesses(browser, url, model, quickdraw_dir, capsys):
    word, drawing = _unseen_drawing(model, quickdraw_dir)
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    posted = []
    page.on(
        "request", lambda request: posted.append(request.post_data_json) if request.url == f"{url}api/predict" else None
    )
    page.goto(url)
    page.wait_for_selector(f"#labels:has-text('{len(model.labels)} things')")
    width = page.eval_on_selector("#canvas", "c => c.width")
    strokes = fit(drawing, width)

    draw(page, strokes)
    page.wait_for_selector('#guesses[aria-busy="false"]', state="attached")

    final = posted[-1]
    assert final["top_k"] == 5
    assert [stroke[:2] for stroke in final["drawing"]] == strokes  # every point, in canvas pixels
    times = [t for stroke in final["drawing"] for t in stroke[2]]
    assert times[0] == 0 and times == sorted(times)
    assert [stroke[:2] for stroke in posted[0]["drawing"]] == [
        [strokes[0][0][:2], strokes[0][1][:2]]
    ]  # asked during the first stroke
    shown = page.eval_on_selector_all(
        "#guesses li", "items => items.map(li => [li.dataset.label, Number(li.dataset.probability)])"
    )
    assert shown == [[label, p] for label, p in model.predict_drawings([final["drawing"]], format="raw")[0]]
    assert word in [label for label, _ in shown]
    assert page.inner_text("#guesses li .name") == shown[0][0] and page.inner_text("#message") == ""
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    with capsys.disabled():
        print(f"\nweb demo screenshot ({word}): {SCREENSHOT}")

    page.click("#clear")
    assert page.eval_on_selector_all("#guesses li", "items => items.length") == 0
    assert page.eval_on_selector("#canvas", BLANK)
    page.close()


def test_the_page_shows_the_servers_error_message(browser, url):
    page = browser.new_page()
    page.goto(url)
    detail = "stroke 0: xs has 2 values but ys has 1"
    page.route("**/api/predict", lambda route: route.fulfill(status=422, json={"detail": detail}))
    draw(page, [[[100, 200], [100, 200]]])
    page.wait_for_selector('#guesses[aria-busy="false"]', state="attached")
    assert page.inner_text("#message") == detail
    page.close()


def test_saving_downloads_the_collected_drawings_as_googles_raw_ndjson(browser, url, quickdraw_dir, tmp_path):
    word = "The Eiffel Tower"  # spaces and capitals: the file is "The Eiffel Tower.ndjson", as Google names it
    originals = [json.loads(line) for line in (quickdraw_dir / "raw" / f"{word}.ndjson").read_text().splitlines()[:2]]
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    downloads, console = [], []
    page.on("download", lambda download: downloads.append(download))
    page.on("console", lambda entry: console.append(entry.text) if entry.type in ("error", "warning") else None)
    page.goto(url)
    width = page.eval_on_selector("#canvas", "c => c.width")
    # The replayed canvas pixels: x -> round(25 + (x - min x) * 450 / extent), y likewise, extent the drawing's
    # longer side (361 and 619 pixels of Google's screen), repeated points dropped: 183 -> 182 and 110 -> 104 points.
    replayed = [fit(record["drawing"], width) for record in originals]
    assert [[len(xs) for xs, _ in strokes] for strokes in replayed] == [[43, 58, 81], [19, 21, 10, 11, 15, 16, 12]]
    start = datetime.now(timezone.utc)
    start = start.replace(microsecond=start.microsecond // 1000 * 1000)  # the page's clock has milliseconds

    draw(page, replayed[0])
    page.click("#clear")  # keeps the finished drawing
    assert page.inner_text("#collection") == "1 drawing collected."
    draw(page, replayed[1])  # left on the canvas: Save keeps it too
    page.click("#save")
    assert page.inner_text("#collection") == "Type the word your drawings show before saving them."
    assert page.eval_on_selector("#word", "w => [w === document.activeElement, w.getAttribute('aria-invalid')]") == [
        True,
        "true",
    ]
    page.fill("#word", f" {word} ")
    with page.expect_download() as saving:
        page.click("#save")
    download = saving.value
    end = datetime.now(timezone.utc)
    assert download.suggested_filename == f"{word}.ndjson" and downloads == [download]  # the word's error saved nothing
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert page.inner_text("#collection") == f"Saved 2 drawings as {word}.ndjson."
    assert page.eval_on_selector("#word", "w => w.getAttribute('aria-invalid')") is None
    assert page.eval_on_selector("#canvas", BLANK)
    assert console == []  # no Content-Security-Policy report, nor any other
    page.close()

    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 2
    records = [json.loads(line) for line in text.splitlines()]
    for line, record, original, strokes in zip(text.splitlines(), records, originals, replayed):
        assert list(record) == list(original)  # Google's keys, in Google's order
        assert line == json.dumps(record, separators=(",", ":"))  # compact, as Google's lines
        assert (record["word"], record["countrycode"], record["recognized"]) == (word, "", False)
        assert re.fullmatch(r"[1-9]\d{15}", record["key_id"])  # 16 digits, as Google's
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", record["timestamp"])
        assert len(record["drawing"]) == len(strokes)
        assert [len(stroke[2]) for stroke in record["drawing"]] == [len(xs) for xs, _ in strokes]
        assert [stroke[:2] for stroke in record["drawing"]] == strokes
        times = [t for stroke in record["drawing"] for t in stroke[2]]
        assert times[0] == 0 and times == sorted(times) and all(isinstance(t, int) for t in times)
    assert records[0]["key_id"] != records[1]["key_id"]
    started = [datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S.%f %Z") for r in records]
    assert start <= started[0].replace(tzinfo=timezone.utc) <= started[1].replace(tzinfo=timezone.utc) <= end

    read = list(read_ndjson(path))
    assert [(n, r["word"], r["key_id"], r["recognized"]) for n, r in read] == [
        (n, word, record["key_id"], False) for n, record in enumerate(records, start=1)
    ]
    for (_, r), strokes in zip(read, replayed):
        assert (r["strokes"] == canonical_strokes(strokes, format="raw")).all()  # read as raw: simplified as Google's
    dataset = load_quickdraw(path, classes=[word], strict=True)
    assert dataset["word"] == [0, 0]
    assert [len(strokes) for strokes in dataset["strokes"]] == [len(r["strokes"]) for _, r in read]
