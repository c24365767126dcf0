"""A recognizer page with no server behind it: a static folder any file server (or a static Space) serves.

`write_static_page(model, directory)` writes the drawing page (`index.html`,
`app.js`, and the canvas and guess list `pad.js` and `style.css` it shares
with `sketchkeras serve`'s page), the code that runs the model (`preprocess.js`:
Google's simplification and canonical strokes; `model.js`: the forward
pass), and the model (`model.json` + `weights.bin`).

Why a JavaScript port rather than onnxruntime-web: the model is a few small
matrix products per point (a conv stack, then an LSTM or GRU), so a ~150-line
port of `sketchkeras.live`'s NumPy arithmetic runs a whole drawing in
milliseconds, with no 10+ MB WebAssembly runtime to ship, no CDN, and code a
reader can check line by line against Python; it agrees with Keras to ~1e-6.

It runs what `sketchkeras.live` runs: masked, forward-only LSTM or GRU
encoders (Keras' default activations, GRU `reset_after=True`) with batch,
layer or no normalisation; other models raise `ValueError`.

`model.json` holds `labels`, `max_points`, `weights` (the binary file's
name), `stages` in `StrokeEncoder.stages()` order and the softmax `head`.
A conv stage is `{"type": "conv", "kernel_size", "strides", "padding":
[left, right], "filters", "kernel", "bias", "norm"}`, `norm` None or
`{"type": "batch" | "layer", "epsilon", "gamma", "beta"}` (batch adds
`moving_mean`, `moving_variance`); a recurrent stage is `{"type": "lstm" |
"gru", "units", "kernel", "recurrent_kernel", "bias"}`; the head is
`{"kernel", "bias"}`. Each tensor is `{"offset", "shape"}`: `prod(shape)`
little-endian float32 values from value `offset` of `weights.bin`, in
Keras' layout (row-major, Keras' gate order).

Example:
>>> import json, tempfile
>>> from sketchkeras import SketchBackbone, SketchClassifier
>>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
>>> folder = write_static_page(model, tempfile.mkdtemp())
>>> sorted(path.name for path in folder.iterdir())
['app.js', 'index.html', 'model.js', 'model.json', 'pad.js', 'preprocess.js', 'style.css', 'weights.bin']
>>> [stage["type"] for stage in json.loads((folder / "model.json").read_text())["stages"]]
['conv', 'lstm']
"""

import json
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from sketchkeras.layers import ConvStage
from sketchkeras.live import numpy_unsupported

PAGE_FILES = ("index.html", "app.js", "preprocess.js", "model.js")  # from web/standalone/
SHARED_FILES = ("pad.js", "style.css")  # from web/, where the served demo's page uses them too
WEIGHTS = "weights.bin"


def write_static_page(model, directory):
    """Writes the static recognizer page for `model` into `directory` (created if needed); returns it as a Path.

    Files the page needs are overwritten; nothing else in `directory` is touched. Serve the folder with any
    static file server, e.g. `python -m http.server -d DIRECTORY`, and open it in a browser.

    Raises:
        ValueError: a model the page cannot run (see the module docstring).

    Example:
    >>> import tempfile
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[], rnn_units=[4], bidirectional=True), ["a", "b"])
    >>> write_static_page(model, tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the static page needs a masked, forward-only encoder: a backward recurrence reads the whole drawing ...
    """
    header, weights = _export(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    web = resources.files("sketchkeras").joinpath("web")
    for name in PAGE_FILES:
        (directory / name).write_bytes(web.joinpath("standalone", name).read_bytes())
    for name in SHARED_FILES:
        (directory / name).write_bytes(web.joinpath(name).read_bytes())
    (directory / WEIGHTS).write_bytes(b"".join(array.tobytes() for array in weights))
    (directory / "model.json").write_text(json.dumps(header, indent=1) + "\n")
    return directory


def _export(model):
    """`model.json`'s content and the float32 arrays of `weights.bin`, in order."""
    reason = numpy_unsupported(model)  # the page runs what sketchkeras.live runs
    if reason:
        raise ValueError(f"the static page needs {reason}")
    arrays = []

    def tensor(value):
        array = np.asarray(keras.ops.convert_to_numpy(value), "<f4")
        entry = {"offset": sum(a.size for a in arrays), "shape": list(array.shape)}
        arrays.append(array)
        return entry

    stages = []
    for stage in model.backbone.stages():
        if isinstance(stage, ConvStage):
            stages.append(
                {
                    "type": "conv",
                    "kernel_size": stage.kernel_size,
                    "strides": stage.strides,
                    "padding": list(stage.padding),
                    "filters": stage.filters,
                    "kernel": tensor(stage.conv.kernel),
                    "bias": tensor(stage.conv.bias),
                    "norm": _norm(stage.norm, stage.filters, tensor),
                }
            )
            continue
        cell = stage.forward.cell
        stages.append(
            {
                "type": stage.rnn,
                "units": stage.units,
                "kernel": tensor(cell.kernel),
                "recurrent_kernel": tensor(cell.recurrent_kernel),
                "bias": tensor(cell.bias),
            }
        )
    header = {
        "labels": list(model.labels),
        "max_points": model.max_points,
        "weights": WEIGHTS,
        "stages": stages,
        "head": {"kernel": tensor(model.head.kernel), "bias": tensor(model.head.bias)},
    }
    return header, arrays


def _norm(norm, channels, tensor):
    """A conv stage's normalisation for `model.json` (absent scale and offset as ones and zeros)."""
    if norm is None:
        return None
    entry = {
        "type": "batch" if isinstance(norm, keras.layers.BatchNormalization) else "layer",
        "epsilon": float(norm.epsilon),
        "gamma": tensor(norm.gamma if norm.scale else np.ones(channels)),
        "beta": tensor(norm.beta if norm.center else np.zeros(channels)),
    }
    if entry["type"] == "batch":
        entry.update(moving_mean=tensor(norm.moving_mean), moving_variance=tensor(norm.moving_variance))
    return entry
