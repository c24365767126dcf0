"""Live recognition: guesses after every new pen point, without re-running the drawing.

`SketchClassifier.start_stream()` returns a `SketchStream`. Each new point
costs the same whatever the drawing's length: the stream keeps

* per conv layer, the last few final inputs that later outputs still need;
  an output is *final* once every input under its kernel is known, and
  the few outputs that still see the drawing's (zero-padded) end are
  recomputed on each call, as *provisional* outputs;
* per recurrent layer, the state after its final inputs; provisional
  inputs are run from a copy of that state and then dropped.

A point's `pen_lifted` flag is only known when the next point arrives (same
stroke) or the stroke ends, so the newest point is provisional too, with
the flag set: exactly what `predict_drawings` sees for the drawing so far.

The frame. `predict_drawings` scales each drawing by its own bounding box,
which is unknown until the drawing ends (and changes with a third of all
points), so a stream takes its frame up front: the square `(left, top,
size)` that the model sees as 0..1. Google's simplified drawings live in a
0..255 square, the default. With a drawing's own bounding box as frame the
guesses after its last point equal `predict_drawings` on the whole drawing.

The arithmetic runs in NumPy on the model's own weights, read through the
model's public description of itself (`StrokeEncoder.stages()`, then
`SketchClassifier.head`): a point is a few small matrix products, where a
framework's per-operation dispatch would cost more than the maths. It gives
the same numbers under every backend. `predict_numpy` runs the same
arithmetic over whole drawings: `SketchClassifier.predict_strokes` answers
a few drawings through it.

Example:
>>> from sketchkeras import SketchBackbone, SketchClassifier
>>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["circle", "line"])
>>> drawing = [[[10, 60, 250], [10, 80, 250]], [[30, 40], [200, 10]]]
>>> stream = model.start_stream(top_k=2, frame=(10, 10, 240))  # the drawing's bounding box
>>> for xs, ys in drawing:
...     guesses = stream.add_stroke(xs, ys)
>>> whole = model.predict_drawings([drawing], top_k=2)[0]
>>> [label for label, _ in guesses] == [label for label, _ in whole]
True
>>> max(abs(p - q) for (_, p), (_, q) in zip(guesses, whole)) < 1e-5
True
"""

import math
import weakref

import keras
import numpy as np

from sketchkeras.layers import ConvStage, RecurrentStage
from sketchkeras.strokes import DrawingError

GOOGLE_FRAME = (0.0, 0.0, 255.0)
# predict_numpy's weights per model: its variables, what their values were when read, and the stages (_cached_read).
_READ = weakref.WeakKeyDictionary()
# Under TensorFlow, per model: a graph that returns all its weights at once, and the variables it reads (see _weights).
_TF_READERS = weakref.WeakKeyDictionary()


class SketchStream:
    """A drawing in progress, fed point by point; see the module docstring.

    Create it with `SketchClassifier.start_stream`. Points past the model's
    `max_points` are ignored, as `predict_drawings` truncates.

    Attributes:
        guesses: the latest top-k `(label, probability)` pairs, best first
            (`[]` before the first point).
        probabilities: the latest probabilities over `labels` (None before
            the first point).
        points: how many points the model has seen so far.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["a", "b"])
    >>> stream = model.start_stream()
    >>> stream.guesses, stream.points
    ([], 0)
    >>> _ = stream.add_stroke([0, 100, 200], [0, 50, 0])
    >>> len(stream.guesses), stream.points
    (2, 3)
    """

    def __init__(self, model, top_k=5, frame=GOOGLE_FRAME):
        reason = numpy_unsupported(model)
        if reason:
            raise ValueError(f"streaming needs {reason}")
        left, top, size = (float(v) for v in frame)
        if not all(map(math.isfinite, (left, top, size))) or size < 0:
            raise ValueError(f"frame must be finite (left, top, size) with size >= 0, got {frame!r}")
        self.top_k = top_k
        self.labels = model.labels
        self.max_points = model.max_points
        self._origin = np.array([left, top])
        self._scale = 1.0 / size if size > 0 else 1.0
        self._convs, self._rnns, self._dense = _read(model)
        self._previous = None  # the last point in frame units (float64), for offsets
        self._position = np.zeros(2, np.float32)  # running sum of offsets: the absolute-position features
        self._pending = None  # the newest point's features, pen flag not yet known
        self._stroke_open = False
        self.points = 0
        self.probabilities = None
        self.guesses = []

    def add_point(self, x, y):
        """Adds a point to the current stroke (starting one if needed); returns the top-k guesses.

        Example: see the module docstring.
        """
        try:
            point = np.array([x, y], dtype=np.float64)
        except (TypeError, ValueError):
            raise DrawingError(f"point {self.points}: coordinates must be numbers, got {x!r}, {y!r}") from None
        if point.shape != (2,) or not np.isfinite(point).all():
            raise DrawingError(f"point {self.points}: coordinates must be two finite numbers, got {x!r}, {y!r}")
        final = []
        if self._pending is not None:  # same stroke goes on: the pending point's pen stays down
            self._pending[2] = 0.0
            final.append(self._pending)
            self._pending = None
        if self.points < self.max_points:
            self._pending = self._features(point)
            self.points += 1
        self._stroke_open = True
        return self._update(final)

    def end_stroke(self):
        """Lifts the pen: the stroke's last point gets its flag; returns the top-k guesses.

        Example:
        >>> from sketchkeras import SketchBackbone, SketchClassifier
        >>> stream = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["a", "b"]).start_stream()
        >>> _ = stream.add_point(3, 4)
        >>> len(stream.end_stroke())
        2
        """
        final = []
        if self._pending is not None:
            self._pending[2] = 1.0
            final.append(self._pending)
            self._pending = None
        self._stroke_open = False
        return self._update(final)

    def add_stroke(self, xs, ys):
        """Adds a whole stroke (its points, then the pen lift); returns the top-k guesses.

        Example: see the module docstring.
        """
        if len(xs) != len(ys) or len(xs) == 0:
            raise DrawingError(f"point {self.points}: a stroke needs as many xs as ys and at least one point")
        if self._stroke_open:
            self.end_stroke()
        for x, y in zip(xs, ys):
            self.add_point(x, y)
        return self.end_stroke()

    def _features(self, point):
        """`(dx, dy, pen_lifted=1, x, y)` for a new point, as canonical_strokes and StrokeEncoder make them."""
        point = (point - self._origin) * self._scale
        offset = (point if self._previous is None else point - self._previous).astype(np.float32)
        self._previous = point
        self._position = self._position + offset
        return np.array([offset[0], offset[1], 1.0, self._position[0], self._position[1]], np.float32)

    def _update(self, final):
        final = np.array(final, np.float32).reshape(-1, 5)
        provisional = self._pending[None] if self._pending is not None else np.zeros((0, 5), np.float32)
        for stage in (*self._convs, *self._rnns):
            final, provisional = stage.push(final, provisional)
        if stage.last is None:
            return self.guesses
        self.probabilities = _softmax(stage.last, *self._dense)
        best = np.argsort(-self.probabilities, kind="stable")[: self.top_k]
        self.guesses = [(self.labels[i], float(self.probabilities[i])) for i in best]
        return self.guesses


def predict_numpy(model, strokes):
    """Class probabilities `(n, classes)` for canonical stroke arrays, computed in NumPy drawing by drawing.

    The stream's arithmetic over each whole drawing (its first
    `max_points` points): the numbers of `SketchClassifier.predict_strokes`
    without a framework's per-operation dispatch, which costs more than
    the maths for a drawing or a few. The model needs a masked,
    forward-only encoder (as a stream does).

    Raises:
        ValueError: for a model it cannot run.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier, pad_strokes
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["circle", "line"])
    >>> drawings = [np.array([[0.1, 0.2, 0.0], [0.3, -0.1, 1.0]], "float32"), np.ones((5, 3), "float32")]
    >>> strokes, lengths = pad_strokes(drawings, 16)
    >>> keras_path = model.predict_on_batch({"strokes": strokes, "lengths": lengths})
    >>> float(abs(predict_numpy(model, drawings) - keras_path).max()) < 1e-6
    True
    """
    reason = numpy_unsupported(model)
    if reason:
        raise ValueError(f"the NumPy forward pass needs {reason}")
    convs, rnns, dense = _cached_read(model)
    probabilities = np.empty((len(strokes), len(model.labels)), np.float32)
    for row, drawing in zip(probabilities, strokes):
        drawing = np.asarray(drawing, np.float32)[: model.max_points]
        x = np.concatenate([drawing, np.cumsum(drawing[:, :2], axis=0, dtype=np.float32)], axis=1)
        for stage in (*convs, *rnns):
            x = stage.whole(x)
        row[:] = _softmax(x[-1], *dense)
    return probabilities


def numpy_unsupported(model):
    """What the NumPy forward pass (`SketchStream`, `predict_numpy`) needs and `model` lacks; None when it can run it.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> numpy_unsupported(SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["a", "b"])) is None
    True
    >>> bidirectional = SketchBackbone(conv_layers=[], rnn_units=[8], bidirectional=True)
    >>> numpy_unsupported(SketchClassifier(bidirectional, ["a", "b"]))[:31]
    'a masked, forward-only encoder:'
    """
    backbone = model.backbone
    if backbone.bidirectional or not backbone.masked:
        return (
            "a masked, forward-only encoder: a backward recurrence reads the whole drawing "
            "and an unmasked one depends on the padding"
        )
    for stage in backbone.stages():
        if isinstance(stage, RecurrentStage):
            cell = stage.forward.cell
            if cell.activation is not keras.activations.tanh or cell.recurrent_activation is not (
                keras.activations.sigmoid
            ):
                return "recurrent layers with Keras' default tanh/sigmoid activations"
            if stage.rnn == "gru" and not cell.reset_after:
                return "GRUs with Keras' default reset_after=True"
    return None


def _read(model):
    """The model's weights as NumPy stages: `(conv stages, recurrent stages, (head kernel, head bias))`."""
    weights = _weights(model)
    stages = model.backbone.stages()
    convs = [_ConvStream(stage, weights) for stage in stages if isinstance(stage, ConvStage)]
    rnns = [_RecurrentStream(stage, weights) for stage in stages if isinstance(stage, RecurrentStage)]
    return convs, rnns, (weights[id(model.head.kernel)], weights[id(model.head.bias)])


def _weights(model):
    """Every weight of `model` as float32 NumPy, by `id` of its variable, in one read.

    Under TensorFlow one graph call returns them all: reading eager
    variables one by one costs about 75 us each.
    """
    variables = model.weights
    if keras.backend.backend() == "tensorflow":
        reader = _TF_READERS.get(model)
        if reader is None or len(reader[1]) != len(variables):
            import tensorflow as tf

            reader = _TF_READERS[model] = (tf.function(lambda: [v.value for v in variables]), variables)
        values = [tensor.numpy() for tensor in reader[0]()]
    else:
        values = [keras.ops.convert_to_numpy(v) for v in variables]
    return {id(v): np.asarray(value, np.float32) for v, value in zip(variables, values)}


def _cached_read(model):
    """`_read(model)`, read again only when a weight has changed since the last call.

    JAX replaces a variable's array when it changes; PyTorch bumps its
    tensor's `_version` on every in-place change. TensorFlow's variables
    tell neither, so under TensorFlow the weights are read on every call
    (all at once, see `_weights`).
    """
    if keras.backend.backend() == "tensorflow":
        return _read(model)
    cached = _READ.get(model)
    variables = model.weights if cached is None else cached[0]  # a built model's variables stay the same objects
    seen = [(value, getattr(value, "_version", None)) for value in (v.value for v in variables)]
    fresh = cached is not None and all(
        value is old and version == was for (value, version), (old, was) in zip(seen, cached[1])
    )
    if not fresh:
        cached = _READ[model] = (variables, seen, _read(model))
    return cached[2]


def _softmax(features, kernel, bias):
    logits = features @ kernel + bias
    probabilities = np.exp(logits - logits.max())
    return probabilities / probabilities.sum()


class _ConvStream:
    """One `ConvStage` (masked conv + normalisation + ReLU), fed a growing sequence.

    Output `j` reads inputs `j*strides - left .. j*strides + right` (zeros
    outside the sequence); it is final once input `j*strides + right` is.
    """

    def __init__(self, stage, weights):
        self.kernel = weights[id(stage.conv.kernel)]  # (size, in, out)
        self.bias = weights[id(stage.conv.bias)]
        self.size, self.strides = stage.kernel_size, stage.strides
        self.left, self.right = stage.padding
        self.norm = _normalisation(stage.norm, weights)
        self.inputs = np.zeros((0, self.kernel.shape[1]), np.float32)  # final inputs from index `start` on
        self.start = 0
        self.emitted = 0  # final outputs so far

    def push(self, final, provisional):
        self.inputs = np.concatenate([self.inputs, final])
        known = self.start + len(self.inputs)  # final inputs so far
        ready = max(self.emitted, (known - 1 - self.right) // self.strides + 1)
        new_final = self._outputs(range(self.emitted, ready), self.inputs, self.start)
        self.emitted = ready
        total = known + len(provisional)
        tail = self._outputs(
            range(ready, -(-total // self.strides)), np.concatenate([self.inputs, provisional]), self.start
        )
        keep = max(0, ready * self.strides - self.left - self.start)  # inputs no later output reads
        self.inputs, self.start = self.inputs[keep:], self.start + keep
        return new_final, tail

    def whole(self, inputs):
        """The stage's outputs for a whole sequence (leaves the stream as it is)."""
        return self._outputs(range(-(-len(inputs) // self.strides)), inputs, 0)

    def _outputs(self, positions, inputs, start):
        """Outputs at `positions` from `inputs`, the sequence's inputs from index `start` on."""
        if not positions:
            return np.zeros((0, self.kernel.shape[2]), np.float32)
        padded = np.concatenate(
            [
                np.zeros((self.size, inputs.shape[1]), np.float32),
                inputs,
                np.zeros((self.size, inputs.shape[1]), np.float32),
            ]
        )
        first = np.array(positions) * self.strides - self.left - start + self.size
        windows = padded[first[:, None] + np.arange(self.size)]  # (outputs, size, in)
        out = windows.reshape(len(first), -1) @ self.kernel.reshape(-1, self.kernel.shape[2]) + self.bias
        return np.maximum(self.norm(out), 0.0)


class _RecurrentStream:
    """One `RecurrentStage`'s forward LSTM or GRU: state after its final inputs, provisional inputs run from a copy.

    The LSTM's gates are stored as `(i, f, o, g)` (Keras: `i, f, g, o`) with
    the three sigmoid gates' columns halved (exact in floating point), so a
    step takes one `tanh` over all gates: `sigmoid(x) = (1 + tanh(x / 2)) / 2`.
    """

    def __init__(self, stage, weights):
        cell = stage.forward.cell
        kernel, recurrent, bias = (weights[id(v)] for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
        units = stage.units
        self.gru = stage.rnn == "gru"
        if not self.gru:
            half = np.array([[0.5], [0.5], [0.5], [1.0]], np.float32)
            kernel, recurrent, bias = (
                (w.reshape(-1, 4, units)[:, [0, 1, 3, 2]] * half).reshape(w.shape) for w in (kernel, recurrent, bias)
            )
        self.kernel, self.recurrent, self.bias = kernel, recurrent, bias
        self.state = (np.zeros(units, np.float32),) if self.gru else (np.zeros(units, np.float32),) * 2
        self.last = None  # output at the newest step: what the classifier reads

    def push(self, final, provisional):
        final_out, self.state = self._run(final, self.state)
        tail_out, _ = self._run(provisional, self.state)
        if len(tail_out):
            self.last = tail_out[-1]
        elif len(final_out) or self.last is not None:
            self.last = self.state[0]
        return final_out, tail_out

    def whole(self, inputs):
        """The layer's outputs for a whole sequence, from a zero state (leaves the stream as it is)."""
        units = self.recurrent.shape[0]
        return self._run(inputs, (np.zeros(units, np.float32),) * (1 if self.gru else 2))[0]

    def _run(self, inputs, state):
        if self.gru:
            projected = inputs @ self.kernel + self.bias[0]
            outputs = np.zeros((len(inputs), self.recurrent.shape[0]), np.float32)
            for t, x in enumerate(projected):
                state = self._gru_step(x, *state)
                outputs[t] = state[0]
            return outputs, state
        return self._lstm_run(inputs @ self.kernel + self.bias, *state)

    def _lstm_run(self, projected, h, c):
        """LSTM steps over projected inputs, in preallocated arrays; `h` and `c` are left unchanged."""
        units = len(h)
        outputs = np.empty((len(projected), units), np.float32)
        z = np.empty(4 * units, np.float32)
        sigmoids, (i, f, o, g) = z[: 3 * units], np.split(z, 4)
        ig = np.empty(units, np.float32)
        c = c.copy()
        for x, h_next in zip(projected, outputs):
            np.dot(h, self.recurrent, out=z)
            z += x
            np.tanh(z, out=z)
            sigmoids *= 0.5
            sigmoids += 0.5
            c *= f
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=h_next)
            h_next *= o
            h = h_next
        return outputs, (h, c)

    def _gru_step(self, x, h):
        inner = h @ self.recurrent + self.bias[1]
        x_z, x_r, x_h = np.split(x, 3)
        h_z, h_r, h_h = np.split(inner, 3)
        z, r = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
        return (z * h + (1.0 - z) * np.tanh(x_h + r * h_h),)


def _normalisation(norm, weights):
    """The inference-time normalisation as a function of `(steps, channels)` rows."""
    if norm is None:
        return lambda x: x
    gamma = weights[id(norm.gamma)] if norm.scale else 1.0
    beta = weights[id(norm.beta)] if norm.center else 0.0
    if isinstance(norm, keras.layers.BatchNormalization):
        scale = gamma / np.sqrt(weights[id(norm.moving_variance)] + norm.epsilon)
        shift = beta - weights[id(norm.moving_mean)] * scale
        return lambda x: x * scale + shift

    def layer_norm(x):
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + norm.epsilon) * gamma + beta

    return layer_norm


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
