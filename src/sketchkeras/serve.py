"""A local web page to draw on, with the model's top-5 guesses updating as you draw.

Needs FastAPI and uvicorn (`pip install "sketchkeras[serve]"`); the rest of
sketchkeras works without them. `sketchkeras serve [MODEL]` runs it.

The page (`web/`: plain HTML, CSS and JavaScript, nothing fetched from
other hosts) records each stroke in Google's raw format `[xs, ys, ts]`
(canvas pixels, milliseconds since the first point) and posts the drawing
so far to `POST /api/predict` while you draw:

    {"drawing": [[xs, ys, ts], ...], "top_k": 5}  ->  {"guesses": [{"label": "cat", "probability": 0.93}, ...]}

Every request is checked before the model sees it. A bad one gets a 4xx
answer `{"detail": "<what is wrong>"}`: 413 for a body over
`MAX_BODY_BYTES`, 400 for malformed JSON (NaN and Infinity included), 422
for a drawing that breaks the limits below or a `top_k` outside 1..number
of labels.

Example:
>>> from fastapi.testclient import TestClient
>>> from sketchkeras import SketchClassifier
>>> client = TestClient(create_app(SketchClassifier(["cat", "dog"], conv_layers=[(8, 3, 2)], rnn_units=[8])))
>>> client.post("/api/predict", json={"drawing": [[[0, 9], [0, 9], [0]]]}).json()
{'detail': 'stroke 0: xs has 2 values but ts has 1'}
"""

import json
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from sketchkeras.classifier import SketchClassifier
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
            raise ValueError(f"the drawing's ink is {ink:,.0f} px long in the 0..255 frame; at most {MAX_INK:,} are allowed")
        labels = info.context["labels"]
        if not 1 <= self.top_k <= labels:
            raise ValueError(f"top_k must be between 1 and {labels}, got {self.top_k}")
        return self


def create_app(model):
    """The demo's FastAPI app: the drawing page at `/`, `GET /api/labels` and `POST /api/predict`.

    Args:
        model: a `SketchClassifier`; requests take turns with it (a lock),
            since Keras models are not guaranteed thread-safe.

    Example:
    >>> from fastapi.testclient import TestClient
    >>> from sketchkeras import SketchClassifier
    >>> client = TestClient(create_app(SketchClassifier(["cat", "dog"], conv_layers=[(8, 3, 2)], rnn_units=[8])))
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
        return _validate(await _read_body(request), labels=len(model.labels))

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

    return app


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
    uvicorn.run(create_app(model), host=host, port=port)


async def _read_body(request):
    """The request's body; 413 as soon as it is known to pass `MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
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
