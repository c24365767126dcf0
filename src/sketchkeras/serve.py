"""A local web page to draw on, with the model's top-5 guesses updating as you draw.

Needs FastAPI and uvicorn (`pip install "sketchkeras[serve]"`); the rest of
sketchkeras works without them. `sketchkeras serve [MODEL]` runs it.

The page (`web/`: plain HTML, CSS and JavaScript, nothing fetched from
other hosts) records each stroke in Google's raw format `[xs, ys, ts]`
(canvas pixels, milliseconds since the first point) and posts the drawing
so far to `POST /api/predict` while you draw:

    {"drawing": [[xs, ys, ts], ...], "top_k": 5}  ->  {"guesses": [{"label": "cat", "probability": 0.93}, ...]}

Every request is checked before the model sees it. A bad one gets a 4xx
answer `{"detail": "<what is wrong>"}`: 400 for a missing or malformed
`Host` header, 421 for a host name other than this server's (DNS
rebinding), 415 for a body that is not `application/json` (a page on
another site can only post other types without the browser asking first),
413 for a body over `MAX_BODY_BYTES`, 408 for a body not received within
`BODY_TIMEOUT` seconds, 400 for malformed JSON (NaN and Infinity
included), 422 for a drawing that breaks the limits below or a `top_k`
outside 1..number of labels. Every answer carries `SECURITY_HEADERS`.

`server()` bounds what a slow or idle client can hold: the request line
and headers must arrive within `HEADER_TIMEOUT` seconds of the connection
(or of the previous answer), an idle keep-alive connection is closed after
`KEEP_ALIVE_TIMEOUT` seconds, and past `MAX_CONNECTIONS` open connections
(or a quarter of the process's open-file limit, when that is lower) a new
connection is answered 503 at once and closed `REFUSED_LINGER` seconds
later, before it can hold a file descriptor for long.

Example:
>>> from fastapi.testclient import TestClient
>>> from sketchkeras import SketchBackbone, SketchClassifier
>>> app = create_app(SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"]))
>>> client = TestClient(app, base_url="http://127.0.0.1:8000")
>>> client.post("/api/predict", json={"drawing": [[[0, 9], [0, 9], [0]]]}).json()
{'detail': 'stroke 0: xs has 2 values but ts has 1'}
>>> TestClient(app, base_url="http://attacker.example").get("/api/labels").status_code
421
"""

import asyncio
import json
import logging
import resource
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from h11 import IDLE
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from sketchkeras.classifier import SketchClassifier
from sketchkeras.data import BUCKET_LENGTHS, bucket_length
from sketchkeras.hub import bundled_model_dir
from sketchkeras.strokes import DrawingError

MAX_BODY_BYTES = 512 * 1024
MAX_STROKES = 250
# About 3x the longest drawing in Google's raw files (1,174 points). Google's simplification
# costs grow with the square of a stroke's length: this also bounds a request's time.
MAX_POINTS = 4000
MAX_COORDINATE = 100_000
# Ink length after scaling to Google's 0..255 frame: the points Google's simplification resamples
# (1 per px) and runs RDP over. Google's longest raw drawing here has 35,928 px. Dense zigzags at
# this limit simplify in under 0.4 s; 4,000 points of zigzag across the canvas would take 12 s.
MAX_INK = 50_000
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 5
MAX_CONNECTIONS = 128
REFUSED_LINGER = 0.5
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
}
WEB_DIR = Path(str(resources.files("sketchkeras").joinpath("web")))

Coordinate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Milliseconds = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
_AXES = ("xs", "ys", "ts")


class _PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drawing: list[tuple[list[Coordinate], list[Coordinate], list[Milliseconds]]]
    top_k: int = Field(5, strict=True)

    @model_validator(mode="after")
    def _check_sizes(self, info: ValidationInfo):
        if not self.drawing:
            raise ValueError("the drawing has no strokes")
        if len(self.drawing) > MAX_STROKES:
            raise ValueError(f"the drawing has {len(self.drawing)} strokes; at most {MAX_STROKES} are allowed")
        for i, (xs, ys, ts) in enumerate(self.drawing):
            if not xs:
                raise ValueError(f"stroke {i} is empty")
            for name, values in (("ys", ys), ("ts", ts)):
                if len(values) != len(xs):
                    raise ValueError(f"stroke {i}: xs has {len(xs)} values but {name} has {len(values)}")
        points = sum(len(xs) for xs, _, _ in self.drawing)
        if points > MAX_POINTS:
            raise ValueError(f"the drawing has {points} points; at most {MAX_POINTS} are allowed")
        ink = _ink_length(self.drawing)
        if ink > MAX_INK:
            raise ValueError(
                f"the drawing's ink is {ink:,.0f} px long in the 0..255 frame; at most {MAX_INK:,} are allowed"
            )
        labels = info.context["labels"]
        if not 1 <= self.top_k <= labels:
            raise ValueError(f"top_k must be between 1 and {labels}, got {self.top_k}")
        return self


def create_app(model, host="127.0.0.1", body_timeout=BODY_TIMEOUT):
    """The demo's FastAPI app: the drawing page at `/`, `GET /api/labels` and `POST /api/predict`.

    Args:
        model: a `SketchClassifier`; requests take turns with it (a lock),
            since Keras models are not guaranteed thread-safe.
        host: the address the server listens on; requests must name it or
            one of `LOCAL_HOSTS` in their `Host` header (with any port).
        body_timeout: seconds a request's body may take to arrive (408 after).

    Example:
    >>> from fastapi.testclient import TestClient
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> app = create_app(SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"]))
    >>> client = TestClient(app, base_url="http://localhost:8000")
    >>> client.get("/api/labels").json()
    {'labels': ['cat', 'dog']}
    >>> answer = client.post("/api/predict", json={"drawing": [[[0, 40, 80], [50, 0, 50], [0, 20, 40]]], "top_k": 2})
    >>> sorted(guess["label"] for guess in answer.json()["guesses"])
    ['cat', 'dog']
    """
    lock = threading.Lock()
    # No /docs or /redoc: their pages load scripts from a CDN, and the demo works offline.
    app = FastAPI(title="sketchkeras", openapi_url=None)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    async def predict_request(request: Request):
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(415, f"the request body must be application/json, not {media_type or 'untyped'}")
        return _validate(await _read_body(request, body_timeout), labels=len(model.labels))

    @app.get("/")
    def page():
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/api/labels")
    def labels():
        return {"labels": model.labels}

    @app.post("/api/predict")
    def predict(body: Annotated[_PredictRequest, Depends(predict_request)]):
        drawing = [list(stroke) for stroke in body.drawing]
        try:
            with lock:
                guesses = model.predict_drawings([drawing], top_k=body.top_k, format="raw")[0]
        except DrawingError as error:
            raise HTTPException(422, str(error)) from None
        return {"guesses": [{"label": label, "probability": probability} for label, probability in guesses]}

    return _Guard(app, hosts={*LOCAL_HOSTS, host.strip("[]").lower()}, body_timeout=body_timeout)


def serve(model_source=None, host="127.0.0.1", port=8000):
    """Loads a model and serves the drawing page at `http://host:port/` until interrupted.

    Args:
        model_source: anything `SketchClassifier.from_pretrained` takes (a
            directory, `"owner/name"`); None: the bundled QD-35 model.
        host: the address to listen on; the default only answers this computer.
        port: the port to listen on.

    Example (runs until Ctrl+C):
    >>> serve("runs/qd35/model", port=8080)  # doctest: +SKIP
    """
    model = SketchClassifier.from_pretrained(model_source or bundled_model_dir())
    warm_up(model)
    server(create_app(model, host=host), host=host, port=port).run()


def server(app, host="127.0.0.1", port=8000, header_timeout=HEADER_TIMEOUT, **config):
    """A uvicorn server for `app` that bounds what slow, idle and numerous clients can hold.

    Args:
        app: the ASGI app, e.g. `create_app(model, host=host)`.
        host, port: the address to listen on.
        header_timeout: seconds the request line and headers may take,
            counted from the connection (or the previous answer) on.
        **config: more `uvicorn.Config` options; `timeout_keep_alive`
            (default `KEEP_ALIVE_TIMEOUT`) and `limit_concurrency`
            (default `MAX_CONNECTIONS`, or a quarter of the open-file
            limit when that is lower; the listen `backlog` too) among them.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> app = create_app(SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"]))
    >>> config = server(app, port=8123).config
    >>> config.port, config.timeout_keep_alive, config.limit_concurrency, config.backlog, config.http.header_timeout
    (8123, 5, 128, 128, 10.0)
    """
    protocol = type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout": header_timeout})
    open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cap = MAX_CONNECTIONS if open_files == resource.RLIM_INFINITY else min(MAX_CONNECTIONS, open_files // 4)
    # The listen backlog is the cap too: asyncio accepts up to a backlog of connections at a time, and past the
    # open-file limit it logs one traceback per connection it could not accept.
    options = {"timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "limit_concurrency": cap, "backlog": cap, **config}
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, http=protocol, **options))


def warm_up(model):
    """Runs one drawing of each bucket length through `model`, so no request waits for a compilation.

    Returns the padded lengths run, shortest first.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier, SketchPreprocessor
    >>> backbone = SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8])
    >>> warm_up(SketchClassifier(backbone, ["cat", "dog"], SketchPreprocessor(100)))
    [16, 32, 48, 64, 96, 100]
    """
    lengths = sorted({bucket_length(n, model.max_points) for n in BUCKET_LENGTHS})
    for length in lengths:
        model.predict_strokes([np.zeros((length, 3), dtype=np.float32)])
    return lengths


_OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"x-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: 19\r\n\r\nService Unavailable"
)


class _HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request line and headers take over `header_timeout`."""

    header_timeout = HEADER_TIMEOUT
    _header_timer = None
    _refused = False

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_header_timer()
        if len(self.connections) > self.config.limit_concurrency:
            # Past the cap, a connection is answered as it arrives, before its headers, and closed once its first
            # bytes are in and dropped (so the close resets nothing the client still reads), or after
            # REFUSED_LINGER. A crowd of stalled clients then holds no more file descriptors than the cap. uvicorn
            # alone answers 503 only once a request's headers are in, and keeps every connection open meanwhile.
            self._refused = True
            transport.write(_OVER_CAPACITY)
            try:
                transport.write_eof()
            except OSError:  # the client has gone already
                transport.close()
            self.loop.call_later(REFUSED_LINGER, transport.close)

    def data_received(self, data):
        if self._refused:
            self.transport.close()  # its request is in, and dropped: the close resets nothing it reads
        else:
            super().data_received(data)

    def on_response_complete(self):
        self._arm_header_timer()  # the next request on this connection gets as long as the first
        super().on_response_complete()

    def connection_lost(self, exc):
        self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self):
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_handler)

    def _header_timeout_handler(self):
        if self.conn.their_state is IDLE and not self.transport.is_closing():
            self.transport.close()


class _Guard:
    """ASGI middleware: the Host check, `SECURITY_HEADERS` on every answer, and a deadline on the body."""

    def __init__(self, app, hosts, body_timeout):
        self.app, self.hosts, self.body_timeout = app, hosts, body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def secure_send(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADER_PAIRS]}
            await send(message)

        host = _host_name(dict(scope["headers"]).get(b"host", b""))
        if host is None:
            return await _answer(secure_send, 400, "the request has no valid Host header")
        if host not in self.hosts:
            return await _answer(secure_send, 421, f"this server does not answer for the host {host!r}")
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def timed_receive():
            try:
                return await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                scope[_TIMED_OUT] = True
                return {"type": "http.disconnect"}

        await self.app(scope, timed_receive, secure_send)


_HEADER_PAIRS = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_TIMED_OUT = "sketchkeras.body_timed_out"
_LOG = logging.getLogger("uvicorn.error")


def _host_name(header):
    """The host name of a `Host` header, lower case, without its port; None when it is malformed."""
    try:
        text = header.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        valid = bracket and (not rest or (rest[0] == ":" and rest[1:].isdigit()))
    else:
        name, colon, port = text.partition(":")
        valid = not colon or port.isdigit()
    return name if valid and name else None


async def _answer(send, status, detail):
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(request, timeout):
    """The request's body; 413 as soon as it is known to pass `MAX_BODY_BYTES`, 408 past `timeout` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _too_large()
    except ClientDisconnect:
        client = "{}:{}".format(*request.client) if request.client else "a client"
        if request.scope.get(_TIMED_OUT):
            _LOG.warning("%s - request body not received within %g s (%d bytes came)", client, timeout, len(body))
            raise HTTPException(
                408, f"the request body did not arrive within {timeout:g} s", headers={"connection": "close"}
            ) from None
        _LOG.warning("%s - disconnected after %d bytes of its request body", client, len(body))
        raise HTTPException(400, "the client disconnected before its request body was complete") from None
    return bytes(body)


def _too_large():
    return HTTPException(413, f"the request body is over {MAX_BODY_BYTES} bytes")


def _validate(body, labels):
    """The checked request, or an HTTPException saying what is wrong with it."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise HTTPException(400, "malformed JSON: nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise HTTPException(400, f"malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, 'the request body must be a JSON object {"drawing": [[xs, ys, ts], ...], "top_k": 5}')
    try:
        return _PredictRequest.model_validate(data, context={"labels": labels})
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise HTTPException(422, f"{_where(first['loc'])}: {message}" if first["loc"] else message) from None


def _ink_length(drawing):
    """Total stroke length once the drawing is scaled, as Google's simplification does, to 0..255."""
    strokes = [np.array(stroke[:2], dtype=np.float64).T for stroke in drawing]
    points = np.concatenate(strokes)
    extent = (points.max(axis=0) - points.min(axis=0)).max()
    length = sum(np.sqrt((np.diff(stroke, axis=0) ** 2).sum(axis=1)).sum() for stroke in strokes)
    return 255 * length / extent if extent else 0.0


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _where(loc):
    """A pydantic error location in words: `("drawing", 3, 1, 5)` -> `"stroke 3 ys[5]"`."""
    if loc[0] != "drawing" or len(loc) == 1:
        return ".".join(map(str, loc))
    words = f"stroke {loc[1]}"
    if len(loc) > 2:
        words += f" {_AXES[loc[2]]}"
    if len(loc) > 3:
        words += f"[{loc[3]}]"
    return words
