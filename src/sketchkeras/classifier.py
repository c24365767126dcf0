"""`SketchClassifier`: a Keras model that owns its labels and preprocessing.

Example:
>>> from sketchkeras import SketchClassifier
>>> model = SketchClassifier.from_preset("default", labels=["cat", "dog"])
>>> cat = [[[0, 40, 80], [50, 0, 50]], [[10, 70], [90, 90]]]
>>> [label for label, _ in model.predict_drawings([cat], top_k=2)[0]] in (["cat", "dog"], ["dog", "cat"])
True
"""

import keras
import numpy as np

from sketchkeras.data import bucket_length, pad_strokes
from sketchkeras.layers import StrokeEncoder
from sketchkeras.live import GOOGLE_FRAME, SketchStream, numpy_unsupported, predict_numpy
from sketchkeras.strokes import canonical_strokes

PRESETS = {
    # What the recipes train: a short masked conv stack (4x fewer steps for
    # the LSTMs), then two LSTMs.
    "default": dict(
        conv_layers=[(48, 5, 1), (64, 5, 2), (96, 3, 2)],
        rnn_units=[128, 128],
        normalization="batch",
        dropout=0.2,
        max_points=256,
    ),
    # Géron, "Hands-On Machine Learning", chapter 15, exercise 10: Conv1D
    # 32/64/128 with strides 2 and batch norm, then LSTM 128 x 2, unmasked.
    "geron": dict(
        conv_layers=[(32, 5, 2), (64, 5, 2), (128, 3, 2)],
        rnn_units=[128, 128],
        normalization="batch",
        masked=False,
        max_points=256,
    ),
}
_PREDICT_BATCH = 64
# Up to this many drawings, `predict_strokes` runs NumPy (`live.predict_numpy`): a framework's per-call dispatch
# costs more than the maths there. With the qd35 model on a shared 2-core CPU, NumPy took 0.5-0.7 ms for one real
# drawing under JAX and PyTorch (Keras: 0.9 and 8.8 ms) and tied with JAX at 8 drawings (5.3 vs 5.1 ms).
_NUMPY_DRAWINGS = 8


@keras.saving.register_keras_serializable(package="sketchkeras")
class SketchClassifier(keras.Model):
    """Classifies sketches from their pen strokes.

    Inputs are `{"strokes": (batch, steps, 3) float32, "lengths": (batch,)
    int32}` as `sketchkeras.StrokeBatches` yields them; the output is class
    probabilities over `labels`. Everything needed to classify a raw
    drawing (labels, `max_points`) is in the model's config, so a saved
    model needs nothing else.

    Args:
        labels: class names, in label-id order.
        max_points: drawings are truncated to their first `max_points`
            points before classification.
        **encoder_config: `StrokeEncoder` arguments (`conv_layers`,
            `rnn_units`, `bidirectional`, `rnn`, `dropout`, `normalization`,
            `masked`).

    Example:
    >>> model = SketchClassifier(["circle", "square"], conv_layers=[(16, 3, 2)], rnn_units=[32])
    >>> model.count_params() > 0, model.labels
    (True, ['circle', 'square'])
    """

    def __init__(self, labels, max_points=256, **encoder_config):
        strokes = keras.Input((None, 3), name="strokes")
        lengths = keras.Input((), dtype="int32", name="lengths")
        encoder = StrokeEncoder(**encoder_config, name="encoder")
        features = encoder(strokes, lengths)
        # float32 even under a mixed-precision policy: 16-bit softmaxes tie over hundreds of classes.
        probabilities = keras.layers.Dense(len(labels), activation="softmax", dtype="float32", name="predictions")(
            features
        )
        super().__init__(inputs={"strokes": strokes, "lengths": lengths}, outputs=probabilities)
        self.labels = list(labels)
        self.max_points = max_points
        self.encoder = encoder

    @property
    def head(self):
        """The classification head: the float32 softmax `keras.layers.Dense` from the encoder's vector to `labels`.

        Example:
        >>> model = SketchClassifier(["circle", "square"], conv_layers=[(16, 3, 2)], rnn_units=[32])
        >>> tuple(model.head.kernel.shape), model.head.activation.__name__
        ((32, 2), 'softmax')
        """
        return self.get_layer("predictions")

    @classmethod
    def from_preset(cls, preset, labels=None, **overrides):
        """A shipped trained model, or an untrained one of a named architecture.

        Args:
            preset: a model shipped in the package (`sketchkeras.hub.SHIPPED_MODELS`:
                `"qd35"`), loaded with its weights as `from_pretrained` loads
                it; or an architecture of `PRESETS` (`"default"`, `"geron"`),
                built untrained for `labels`.
            labels: for an architecture, the class names (required); for a
                shipped model, new class names to fine-tune it on (see
                `from_pretrained`).
            **overrides: changes to an architecture's settings.

        Example:
        >>> SketchClassifier.from_preset("qd35").labels[:2]
        ['airplane', 'alarm clock']
        >>> SketchClassifier.from_preset("geron", labels=["cat"]).encoder.masked
        False
        """
        from sketchkeras.hub import SHIPPED_MODELS

        if preset in SHIPPED_MODELS:
            if overrides:
                raise ValueError(f"{preset!r} is a trained model: its architecture cannot change ({sorted(overrides)})")
            return cls.from_pretrained(preset, labels=labels)
        if preset not in PRESETS:
            choices = sorted([*PRESETS, *SHIPPED_MODELS])
            raise ValueError(f"unknown preset {preset!r}; choose one of {choices}")
        if labels is None:
            raise ValueError(f"the {preset!r} architecture is untrained: give the labels to build it for")
        return cls(labels=labels, **{**PRESETS[preset], **overrides})

    def _with_labels(self, labels):
        """A copy with the same weights over new `labels`: known labels keep their head row, new ones start fresh."""
        labels = list(labels)
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct names, at least one: {labels}")
        model = type(self).from_config({**self.get_config(), "labels": labels})
        model.encoder.set_weights(self.encoder.get_weights())
        head, new_head = self.head, model.head
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in head.weights)
        new_kernel, new_bias = (keras.ops.convert_to_numpy(w).copy() for w in new_head.weights)
        row = {label: i for i, label in enumerate(self.labels)}
        for j, label in enumerate(labels):
            if label in row:
                new_kernel[:, j], new_bias[j] = kernel[:, row[label]], bias[row[label]]
        new_head.set_weights([new_kernel, new_bias])
        return model

    def get_config(self):
        encoder = self.encoder.get_config()
        for key in ("name", "trainable", "dtype"):
            encoder.pop(key, None)
        return {"labels": self.labels, "max_points": self.max_points, **encoder}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def predict_drawings(self, drawings, top_k=5, format="auto"):
        """Top-k `(label, probability)` pairs per drawing, best first.

        Args:
            drawings: Google drawings (simplified or raw), stroke-3 arrays or
                (with `format="points"`) lists of `(x, y)` point strokes.
            top_k: how many labels to return per drawing.
            format: see `sketchkeras.strokes.canonical_strokes`.

        Raises:
            sketchkeras.DrawingError: naming the bad drawing by its index.

        Example:
        >>> model = SketchClassifier.from_preset("default", labels=["a", "b", "c"])
        >>> guesses = model.predict_drawings([[[[0, 9], [0, 9]]]], top_k=2)
        >>> len(guesses[0]), round(sum(p for _, p in model.predict_drawings([[[[0, 9], [0, 9]]]], top_k=3)[0]), 4)
        (2, 1.0)
        """
        strokes = [canonical_strokes(d, format, self.max_points, source=f"drawing {i}") for i, d in enumerate(drawings)]
        probabilities = self.predict_strokes(strokes)
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        return [[(self.labels[j], float(row[j])) for j in order] for row, order in zip(probabilities, best)]

    def predict_strokes(self, strokes):
        """Class probabilities `(n, classes)` for canonical stroke arrays.

        Up to 8 drawings run through the NumPy forward pass of
        `sketchkeras.live.predict_numpy` when the model allows it (a
        masked, forward-only, float32 encoder): the same numbers (to 1e-5)
        without the backend's per-call cost. Otherwise drawings are grouped
        by bucket length and padded to a few fixed shapes (batch sizes are
        powers of two), so compiled backends reuse a handful of graphs.

        Example:
        >>> model = SketchClassifier.from_preset("default", labels=["a", "b"])
        >>> model.predict_strokes([np.zeros((7, 3), "float32")]).shape
        (1, 2)
        """
        if (
            0 < len(strokes) <= _NUMPY_DRAWINGS
            and all(len(s) for s in strokes)
            and self.encoder.compute_dtype == "float32"
            and numpy_unsupported(self) is None
        ):
            return predict_numpy(self, strokes)
        probabilities = np.zeros((len(strokes), len(self.labels)), dtype=np.float32)
        padded = np.array([bucket_length(len(s), self.max_points) for s in strokes])
        for length in np.unique(padded):
            rows = np.flatnonzero(padded == length)
            for start in range(0, len(rows), _PREDICT_BATCH):
                chunk = rows[start : start + _PREDICT_BATCH]
                size = 1 << (len(chunk) - 1).bit_length()
                x, lengths = pad_strokes(
                    [strokes[i] for i in chunk] + [strokes[chunk[0]]] * (size - len(chunk)), int(length)
                )
                out = self.predict_on_batch({"strokes": x, "lengths": lengths})
                probabilities[chunk] = np.asarray(out)[: len(chunk)]
        return probabilities

    def start_stream(self, top_k=5, frame=GOOGLE_FRAME):
        """Starts live recognition: a `SketchStream` fed point by point (see `sketchkeras.live`).

        Args:
            top_k: how many guesses each call returns.
            frame: `(left, top, size)`, the square the model sees as 0..1:
                `(0, 0, 255)` for Google's simplified drawings, `(0, 0,
                max(width, height))` for a canvas, or a finished drawing's
                bounding box to reproduce `predict_drawings` exactly.

        Example:
        >>> model = SketchClassifier(["cat", "dog"], conv_layers=[(8, 3, 2)], rnn_units=[8])
        >>> stream = model.start_stream(top_k=1)
        >>> len(stream.add_stroke([0, 120, 255], [0, 90, 40]))
        1
        """
        return SketchStream(self, top_k=top_k, frame=frame)

    def save_pretrained(self, directory, metrics=None, training=None):
        """Saves the model in Keras' layout with its results and model card (see `sketchkeras.hub`).

        Example:
        >>> import os, tempfile
        >>> directory = tempfile.mkdtemp()
        >>> SketchClassifier(["cat", "dog"], conv_layers=[(8, 3, 2)], rnn_units=[8]).save_pretrained(directory)
        >>> sorted(os.listdir(directory))
        ['README.md', 'config.json', 'metadata.json', 'model.weights.h5', 'sketchkeras.json']
        """
        from sketchkeras.hub import save_pretrained

        save_pretrained(self, directory, metrics=metrics, training=training)

    @classmethod
    def from_pretrained(cls, source, labels=None, revision=None, cache_dir=None, token=None, local_files_only=False):
        """Loads a model (a shipped name, a directory, `"owner/name"` or `"hf://owner/name"`), running no code from it.

        Args:
            source: see `sketchkeras.hub.from_pretrained`.
            labels: fine-tune: class names for a fresh classification head
                on the pretrained encoder. A label the source knew keeps its
                head row. Freeze the encoder with
                `model.encoder.trainable = False` to train only the head.
            revision, cache_dir, token, local_files_only: for the Hub.

        Example:
        >>> import tempfile
        >>> directory = tempfile.mkdtemp()
        >>> SketchClassifier(["cat", "dog"], conv_layers=[(8, 3, 2)], rnn_units=[8]).save_pretrained(directory)
        >>> SketchClassifier.from_pretrained(directory).labels
        ['cat', 'dog']
        >>> SketchClassifier.from_pretrained("qd35", labels=["cat", "hedgehog"]).labels
        ['cat', 'hedgehog']
        """
        from sketchkeras.hub import from_pretrained

        model = from_pretrained(
            source, revision=revision, cache_dir=cache_dir, token=token, local_files_only=local_files_only
        )
        return model if labels is None or list(labels) == model.labels else model._with_labels(labels)

    def push_to_hub(
        self,
        repo_id,
        private=None,
        token=None,
        commit_message="Upload sketchkeras SketchClassifier",
        create_pr=False,
        metrics=None,
        training=None,
    ):
        """Uploads the model, its results and model card to a Hub repository (see `sketchkeras.hub`).

        Example (needs the Hub and a write token):
        >>> model.push_to_hub("me/sketch-qd35", metrics=metrics, training=training)  # doctest: +SKIP
        """
        from sketchkeras.hub import push_to_hub

        return push_to_hub(
            self,
            repo_id,
            private=private,
            token=token,
            commit_message=commit_message,
            create_pr=create_pr,
            metrics=metrics,
            training=training,
        )
