"""The web demo's server (`sketchkeras.serve`) through FastAPI's TestClient, and `sketchkeras serve`."""

import contextlib
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_cli import _run  # main(argv) -> exit status, stdout, stderr

import sketchkeras.serve as serve_module
from sketchkeras import DrawingError, SketchBackbone, SketchClassifier, bundled_model_dir
from sketchkeras.data import BUCKET_LENGTHS
from sketchkeras.serve import (
    MAX_BODY_BYTES,
    MAX_COORDINATE,
    MAX_POINTS,
    MAX_STROKES,
    SECURITY_HEADERS,
    WEB_DIR,
    create_app,
    server,
    warm_up,
)

LABELS = ["cat", "dog", "owl", "pig", "ant", "bee"]
STROKE = [[0, 40, 80], [50, 0, 50], [0, 16, 33]]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny untrained model, saved and loaded back as `sketchkeras serve` loads one."""
    directory = tmp_path_factory.mktemp("model")
    SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), LABELS).save_pretrained(directory)
    return SketchClassifier.from_pretrained(directory)


@pytest.fixture(scope="module")
def client(model):
    return _client(create_app(model))


def _client(app):
    return TestClient(app, base_url="http://127.0.0.1:8000")


def test_the_page_and_its_assets_come_from_this_server_only(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == (WEB_DIR / "index.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]*)"', page.text) == ["data:,", "static/style.css", "static/app.js"]
    script, style = client.get("/static/app.js"), client.get("/static/style.css")
    assert (script.status_code, style.status_code) == (200, 200)
    assert script.text == (WEB_DIR / "app.js").read_text() and style.text == (WEB_DIR / "style.css").read_text()
    assert re.findall(r'fetch\(\s*"([^"]*)"', script.text) == ["api/labels", "api/predict"]
    assert re.findall(r'^import .* from "([^"]*)";$', script.text, flags=re.M) == ["./pad.js"]
    pad = client.get("/static/pad.js")
    assert pad.status_code == 200 and pad.text == (WEB_DIR / "pad.js").read_text()
    assert re.search(r"^import ", pad.text, flags=re.M) is None and "fetch(" not in pad.text
    assert "url(" not in style.text and "@import" not in style.text
    for text in (page.text, script.text, pad.text, style.text):
        assert re.search(r"https?:|//[\w-]+\.", text) is None
    assert client.get("/docs").status_code == 404  # FastAPI's docs page would load scripts from a CDN


def test_labels_are_the_models(client):
    assert client.get("/api/labels").json() == {"labels": LABELS}


def test_a_real_raw_drawing_gets_the_guesses_of_predict_drawings(client, model, quickdraw_dir):
    record = json.loads((quickdraw_dir / "raw" / "cat.ndjson").read_text().splitlines()[0])
    expected = model.predict_drawings([record["drawing"]], top_k=3, format="raw")[0]
    answer = client.post("/api/predict", json={"drawing": record["drawing"], "top_k": 3})
    assert answer.status_code == 200
    assert answer.json() == {"guesses": [{"label": label, "probability": p} for label, p in expected]}
    top5 = client.post("/api/predict", json={"drawing": record["drawing"]}).json()["guesses"]
    assert [(g["label"], g["probability"]) for g in top5] == model.predict_drawings([record["drawing"]], format="raw")[
        0
    ]


def test_a_drawing_at_every_limit_is_accepted(client):
    corners = [[-MAX_COORDINATE, MAX_COORDINATE], [MAX_COORDINATE, -MAX_COORDINATE], [0, 0]]
    dots = _points(16) * (MAX_STROKES - 2) + _points(MAX_POINTS - 2 - 16 * (MAX_STROKES - 2))
    drawing = [corners] + dots
    assert len(drawing) == MAX_STROKES and sum(len(xs) for xs, _, _ in drawing) == MAX_POINTS
    answer = client.post("/api/predict", json={"drawing": drawing, "top_k": len(LABELS)})
    assert answer.status_code == 200 and len(answer.json()["guesses"]) == len(LABELS)
    # Ink (stroke length in Google's 0..255 frame) up to the limit: 195 strokes of 255 px.
    answer = client.post("/api/predict", json={"drawing": _zigzag(98)})
    assert answer.status_code == 200


def _zigzag(turns):
    """Back and forth across a 255 x 255 box: (2 * turns - 1) * 255 px of ink."""
    return [[[0, 255] * turns, [0] * 2 * turns, [0] * 2 * turns], [[0], [255], [0]]]


def _points(n):
    return [[[0] * n, [0] * n, [0] * n]]


BAD_REQUESTS = {
    "malformed JSON": (b'{"drawing": [', 400, "malformed JSON: Expecting value: line 1 column 14 (char 13)"),
    "NaN": (b'{"drawing": [[[NaN], [1], [0]]]}', 400, "malformed JSON: NaN is not a JSON number"),
    "-Infinity": (b'{"drawing": [[[1], [-Infinity], [0]]]}', 400, "malformed JSON: -Infinity is not a JSON number"),
    "a float that overflows": (
        b'{"drawing": [[[1e400], [1], [0]]]}',
        422,
        "stroke 0 xs[0]: Input should be a finite number",
    ),
    "deep nesting": (b"[" * 100_000, 400, "malformed JSON: nested too deeply"),
    "not an object": (
        b"[[[1], [1], [0]]]",
        422,
        'the request body must be a JSON object {"drawing": [[xs, ys, ts], ...], "top_k": 5}',
    ),
    "no drawing": ({"top_k": 1}, 422, "drawing: Field required"),
    "an unknown key": ({"drawing": [STROKE], "topk": 3}, 422, "topk: Extra inputs are not permitted"),
    "no timestamps (simplified format)": ({"drawing": [STROKE[:2]]}, 422, "stroke 0 ts: Field required"),
    "a flat stroke": ({"drawing": [[0, 40, 80]]}, 422, "stroke 0 xs: Input should be a valid list"),
    "four lists in a stroke": (
        {"drawing": [[*STROKE, [1, 1, 1]]]},
        422,
        "stroke 0: Tuple should have at most 3 items after validation, not 4",
    ),
    "a string coordinate": (
        {"drawing": [[[0, "40", 80], *STROKE[1:]]]},
        422,
        "stroke 0 xs[1]: Input should be a valid number",
    ),
    "a boolean coordinate": (
        {"drawing": [[STROKE[0], [0, True, 1], STROKE[2]]]},
        422,
        "stroke 0 ys[1]: Input should be a valid number",
    ),
    "a ragged stroke": (
        {"drawing": [STROKE] * 3 + [[[1, 2, 3, 4, 5], [1, 2, 3, 4], [0, 1, 2, 3, 4]]]},
        422,
        "stroke 3: xs has 5 values but ys has 4",
    ),
    "ragged timestamps": ({"drawing": [[*STROKE[:2], [0, 16]]]}, 422, "stroke 0: xs has 3 values but ts has 2"),
    "an empty drawing": ({"drawing": []}, 422, "the drawing has no strokes"),
    "an empty stroke": ({"drawing": [STROKE, [[], [], []]]}, 422, "stroke 1 is empty"),
    "too many points": (
        {"drawing": _points(MAX_POINTS + 1)},
        422,
        f"the drawing has {MAX_POINTS + 1} points; at most {MAX_POINTS} are allowed",
    ),
    "too many strokes": (
        {"drawing": _points(1) * (MAX_STROKES + 1)},
        422,
        f"the drawing has {MAX_STROKES + 1} strokes; at most {MAX_STROKES} are allowed",
    ),
    "too much ink": (
        {"drawing": _zigzag(99)},
        422,
        "the drawing's ink is 50,235 px long in the 0..255 frame; at most 50,000 are allowed",
    ),
    "x out of range": (
        {"drawing": [[[0, MAX_COORDINATE + 1, 80], *STROKE[1:]]]},
        422,
        "stroke 0 xs[1]: Input should be less than or equal to 100000",
    ),
    "y out of range": (
        {"drawing": [[STROKE[0], [0, 0, -MAX_COORDINATE - 1], STROKE[2]]]},
        422,
        "stroke 0 ys[2]: Input should be greater than or equal to -100000",
    ),
    "a negative time": (
        {"drawing": [[*STROKE[:2], [-1, 16, 33]]]},
        422,
        "stroke 0 ts[0]: Input should be greater than or equal to 0",
    ),
    "top_k 0": ({"drawing": [STROKE], "top_k": 0}, 422, "top_k must be between 1 and 6, got 0"),
    "top_k over the labels": ({"drawing": [STROKE], "top_k": 7}, 422, "top_k must be between 1 and 6, got 7"),
    "a fractional top_k": ({"drawing": [STROKE], "top_k": 2.5}, 422, "top_k: Input should be a valid integer"),
    "a declared body over the limit": (
        b" " * (MAX_BODY_BYTES + 1),
        413,
        f"the request body is over {MAX_BODY_BYTES} bytes",
    ),
}


@pytest.mark.parametrize("body, status, detail", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_gets_its_status_and_a_message_naming_the_fault(client, body, status, detail):
    content = body if isinstance(body, bytes) else json.dumps(body)
    answer = client.post("/api/predict", content=content, headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_a_streamed_body_is_cut_off_at_the_limit(client):
    chunks = iter([b" " * (MAX_BODY_BYTES // 2)] * 3)  # chunked: no Content-Length to check first
    answer = client.post("/api/predict", content=chunks, headers={"content-type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert (answer.status_code, answer.json()) == (413, {"detail": f"the request body is over {MAX_BODY_BYTES} bytes"})


class _Refusing:
    labels = LABELS

    def predict_drawings(self, drawings, top_k, format):
        raise DrawingError("drawing 0: refused")


class _Slow:
    """Counts how many requests are inside `predict_drawings` at once."""

    labels = LABELS

    def __init__(self):
        self.inside = self.most_inside = 0

    def predict_drawings(self, drawings, top_k, format):
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.05)
        self.inside -= 1
        return [[("cat", 1.0)]]


def test_a_drawing_error_from_the_model_is_a_422():
    answer = _client(create_app(_Refusing())).post("/api/predict", json={"drawing": [STROKE]})
    assert (answer.status_code, answer.json()) == (422, {"detail": "drawing 0: refused"})


def test_requests_take_turns_with_the_model():
    model = _Slow()
    client = _client(create_app(model))
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(client.post("/api/predict", json={"drawing": [STROKE]})))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 4
    assert model.most_inside == 1


def test_serve_has_help():
    status, out, _ = _run(["serve", "--help"])
    assert status == 0 and out.startswith("usage: sketchkeras serve [-h] [--host HOST] [--port PORT] [MODEL]")


def test_the_serve_command_passes_its_options(monkeypatch):
    calls = []
    monkeypatch.setattr(serve_module, "serve", lambda *args, **options: calls.append((args, options)))
    assert _run(["serve", "runs/qd35/model", "--port", "8123"])[0] == 0
    assert _run(["serve", "--host", "0.0.0.0"])[0] == 0
    assert calls == [
        (("runs/qd35/model",), {"host": "127.0.0.1", "port": 8123}),
        ((None,), {"host": "0.0.0.0", "port": 8000}),
    ]


def test_serve_without_a_model_loads_the_bundled_one(monkeypatch, model):
    loaded, ran = [], []
    monkeypatch.setattr(SketchClassifier, "from_pretrained", lambda source: loaded.append(source) or model)
    monkeypatch.setattr(serve_module, "warm_up", lambda model: None)
    address = lambda self: ran.append((self.config.host, self.config.port))  # noqa: E731
    monkeypatch.setattr(serve_module.uvicorn.Server, "run", address)
    serve_module.serve()
    assert loaded == [bundled_model_dir()] and ran == [("127.0.0.1", 8000)]


def test_serve_compiles_every_bucket_shape_before_it_listens(monkeypatch, model):
    shapes, events = [], []
    monkeypatch.setattr(SketchClassifier, "from_pretrained", lambda source: model)
    # predict_strokes takes the path a request's single drawing takes (NumPy for this model, else Keras).
    monkeypatch.setattr(
        model, "predict_strokes", lambda strokes: shapes.append(strokes[0].shape) or np.ones((1, 6)) / 6
    )
    monkeypatch.setattr(serve_module.uvicorn.Server, "run", lambda self: events.append(len(shapes)))
    serve_module.serve()
    lengths = [16, 32, 48, 64, 96, 128, 192, 256]
    assert [length for length in BUCKET_LENGTHS if length <= model.max_points] == lengths
    assert shapes == [(length, 3) for length in lengths] and events == [len(lengths)]


def test_after_the_warm_up_a_request_of_any_length_compiles_nothing(model, quickdraw_dir):
    warm_up(model)
    traced = _trace_count(model)
    client = _client(create_app(model))
    records = [json.loads(line) for line in (quickdraw_dir / "raw" / "cat.ndjson").read_text().splitlines()[:40]]
    for record in records:
        assert client.post("/api/predict", json={"drawing": record["drawing"]}).status_code == 200
    assert _trace_count(model) == traced


def _trace_count(model):
    """How many graphs the model's predict function has traced (0 where the backend keeps no count)."""
    function = getattr(model, "predict_function", None)
    for name in ("experimental_get_tracing_count", "_cache_size"):
        if hasattr(function, name):
            return getattr(function, name)()
    return 0


def test_serve_refuses_a_port_out_of_range():
    status, _, err = _run(["serve", "--port", "70000"])
    assert status == 2 and "argument --port: 70000 is not a port number (1-65535)" in err


def test_serve_without_fastapi_says_what_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "sketchkeras.serve")
    monkeypatch.setitem(sys.modules, "fastapi", None)  # makes `import fastapi` fail
    status, _, err = _run(["serve"])
    assert (status, err) == (1, 'sketchkeras serve: error: fastapi is not installed; pip install "sketchkeras[all]"\n')


def test_a_post_must_be_json(client):
    drawing = json.dumps({"drawing": [STROKE]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        answer = client.post("/api/predict", content=drawing, headers={"content-type": content_type})
        media = content_type.partition(";")[0]
        detail = f"the request body must be application/json, not {media}"
        assert (answer.status_code, answer.json()) == (415, {"detail": detail})
    answer = client.post("/api/predict", content=drawing)
    detail = "the request body must be application/json, not untyped"
    assert (answer.status_code, answer.json()) == (415, {"detail": detail})
    answer = client.post("/api/predict", content=drawing, headers={"content-type": "Application/JSON; charset=utf-8"})
    assert answer.status_code == 200


HOSTS = {
    "127.0.0.1": 200,
    "127.0.0.1:8000": 200,
    "localhost": 200,
    "LOCALHOST:1": 200,
    "[::1]:8000": 200,
    "[::1]": 200,
    "attacker.example": 421,
    "localhost.attacker.example": 421,
    "127.0.0.2:8000": 421,
    "0.0.0.0:8000": 421,
    "localhost:http": 400,
    "[::1": 400,
    ":8000": 400,
    "": 400,
}


@pytest.mark.parametrize("host, status", HOSTS.items(), ids=[h or "empty" for h in HOSTS])
def test_only_this_servers_host_names_are_answered(client, host, status):
    answer = client.get("/api/labels", headers={"host": host})
    assert answer.status_code == status
    if status == 421:
        name = host.partition(":")[0].lower()
        assert answer.json() == {"detail": f"this server does not answer for the host {name!r}"}
    if status == 400:
        assert answer.json() == {"detail": "the request has no valid Host header"}


def test_the_listening_host_is_answered_too(model):
    app = create_app(model, host="192.168.1.7")
    assert TestClient(app, base_url="http://192.168.1.7:8000").get("/api/labels").status_code == 200
    assert TestClient(app, base_url="http://192.168.1.8:8000").get("/api/labels").status_code == 421


def test_every_answer_has_the_security_headers(client):
    answers = [
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/api/labels"),
        client.get("/nothing"),
        client.post("/api/predict", json={"drawing": []}),
        client.get("/", headers={"host": "evil.example"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 422, 421]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["content-security-policy"]


@contextlib.contextmanager
def _running(app, **options):
    """`server(app, **options)` on a free port of 127.0.0.1 in a thread; yields the port, then stops it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    running = server(app, log_config=None, timeout_graceful_shutdown=1, **options)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        running.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive()


def _connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _read_until_closed(conn):
    """Everything the server sends until it closes; the seconds that took."""
    start, data = time.monotonic(), b""
    while chunk := conn.recv(65536):
        data += chunk
    return data, time.monotonic() - start


def _request(port, head=b"GET /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"):
    with _connect(port) as conn:
        conn.sendall(head)
        return _read_until_closed(conn)[0]


def test_slow_headers_are_cut_off(model):
    with _running(create_app(model), header_timeout=0.5, timeout_keep_alive=0.3) as port, _connect(port) as conn:
        start = time.monotonic()
        conn.sendall(b"GET /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        with pytest.raises(OSError):  # one header byte every 0.1 s: the server closes it at 0.5 s
            for _ in range(50):
                conn.sendall(b"X")
                time.sleep(0.1)
            raise AssertionError("the server kept a slow client's headers open for 5 s")
        assert 0.4 < time.monotonic() - start < 2


def test_a_slow_body_gets_a_408_and_is_closed(model):
    with _running(create_app(model, body_timeout=0.5)) as port, _connect(port) as conn:
        conn.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"drawing"'
        )
        data, seconds = _read_until_closed(conn)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert data.endswith(b'{"detail":"the request body did not arrive within 0.5 s"}')
        assert seconds < 2


def test_an_idle_keep_alive_connection_is_closed(model):
    with _running(create_app(model), timeout_keep_alive=1) as port, _connect(port) as conn:
        conn.sendall(b"GET /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data, seconds = _read_until_closed(conn)
        assert data.startswith(b"HTTP/1.1 200 ")
        assert data.endswith(json.dumps({"labels": LABELS}, separators=(",", ":")).encode())
        assert 0.8 < seconds < 2.5


def test_past_the_connection_cap_a_request_gets_a_503_at_once(model):
    with _running(create_app(model), limit_concurrency=4) as port:
        stalled = [_connect(port) for _ in range(4)]
        time.sleep(0.2)
        start = time.monotonic()
        assert _request(port).startswith(b"HTTP/1.1 503 ") and time.monotonic() - start < 1
        for conn in stalled:
            conn.close()
        time.sleep(0.2)
        assert _request(port).startswith(b"HTTP/1.1 200 ")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_client_gone_mid_body_is_one_log_line(model):
    records = _Records()
    logger = logging.getLogger("uvicorn.error")  # where uvicorn logs "Exception in ASGI application"
    logger.addHandler(records)
    try:
        with _running(create_app(model), access_log=False) as port:
            with _connect(port) as conn:
                conn.sendall(
                    b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"drawing"'
                )
                time.sleep(0.3)
            deadline = time.monotonic() + 5
            while not records.records and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
    finally:
        logger.removeHandler(records)
    lines = [
        (r.levelname, r.getMessage(), r.exc_info)
        for r in records.records
        if "disconnected" in r.getMessage() or r.levelno >= logging.ERROR
    ]
    assert len(lines) == 1
    assert re.fullmatch(r"127\.0\.0\.1:\d+ - disconnected after 10 bytes of its request body", lines[0][1])
    assert lines[0][0] == "WARNING" and lines[0][2] is None


def test_under_ulimit_n_256_three_hundred_stalled_connections_starve_nothing():
    """A server limited to 256 open files, 300 clients stalled mid-headers: answers stay prompt, the log stays short."""
    script = """
import resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
from sketchkeras import SketchClassifier, bundled_model_dir
from sketchkeras.serve import create_app, server
app = create_app(SketchClassifier.from_pretrained(bundled_model_dir()))
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
server(app, header_timeout=6, log_config=None).run(sockets=[sock])
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stalled = []
    try:
        port = int(process.stdout.readline())
        deadline = time.monotonic() + 60
        while True:  # uvicorn's start-up after the port is known: connections are refused until it listens
            try:
                assert _request(port).startswith(b"HTTP/1.1 200 ")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the server did not start listening within 60 s"
                time.sleep(0.1)
        for _ in range(300):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.sendall(b"GET /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of the headers
            stalled.append(conn)
        start = time.monotonic()
        assert _request(port).startswith(b"HTTP/1.1 503 ")  # past the cap (64 held): refused, not left hanging
        assert time.monotonic() - start < 1
        # The stalled clients' header timeout has passed (6 s: opening 300 clients on a busy box can take 2).
        time.sleep(6.5)
        assert _request(port).startswith(b"HTTP/1.1 200 ")
    finally:
        for conn in stalled:
            conn.close()
        process.terminate()
        _, log = process.communicate(timeout=30)
    assert b"Too many open files" not in log and len(log) < 20_000, log[-2000:]
