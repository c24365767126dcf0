"""`SketchClassifier`: the task, a `SketchBackbone` with a classification head, and its preprocessor.

As in keras-hub, the model's config nests its parts: `{"backbone": ...,
"labels": [...], "preprocessor": ...}`, so a saved model needs nothing
else to classify a Google drawing.

Example:
>>> from sketchkeras import SketchClassifier
>>> model = SketchClassifier.from_preset("default", labels=["cat", "dog"])
>>> cat = [[[0, 40, 80], [50, 0, 50]], [[10, 70], [90, 90]]]
>>> [label for label, _ in model.predict_drawings([cat], top_k=2)[0]] in (["cat", "dog"], ["dog", "cat"])
True
"""

import keras
import numpy as np

from sketchkeras.backbone import PRESETS, SketchBackbone
from sketchkeras.live import GOOGLE_FRAME, SketchStream, numpy_unsupported, predict_numpy
from sketchkeras.preprocessor import SketchPreprocessor

# Up to this many drawings, `predict_strokes` runs NumPy (`live.predict_numpy`): a framework's per-call dispatch
# costs more than the maths there. With the qd35 model on a shared 2-core CPU, NumPy took 0.5-0.7 ms for one real
# drawing under JAX and PyTorch (Keras: 0.9 and 8.8 ms) and tied with JAX at 8 drawings (5.3 vs 5.1 ms).
_NUMPY_DRAWINGS = 8


@keras.saving.register_keras_serializable(package="sketchkeras")
class SketchClassifier(keras.Model):
    """Classifies sketches from their pen strokes: a backbone, a softmax head over `labels`, a preprocessor.

    Inputs are `{"strokes": (batch, steps, 3) float32, "lengths": (batch,)
    int32}` as `sketchkeras.StrokeBatches` yields them (or as
    `model.preprocessor(drawings)` makes them); the output is class
    probabilities over `labels`.

    Args:
        backbone: a `sketchkeras.SketchBackbone`.
        labels: class names, in label-id order.
        preprocessor: a `sketchkeras.SketchPreprocessor` (default:
            `SketchPreprocessor()`, drawings of up to 256 points).

    Example:
    >>> from sketchkeras import SketchBackbone
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(16, 3, 2)], rnn_units=[32]), ["circle", "square"])
    >>> model.count_params() > 0, model.labels, model.backbone.output_dim
    (True, ['circle', 'square'], 32)
    >>> sorted(model.get_config())
    ['backbone', 'labels', 'preprocessor']
    """

    def __init__(self, backbone, labels, preprocessor=None, **kwargs):
        labels = list(labels)
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct names, at least one: {labels}")
        inputs = backbone.input
        # float32 even under a mixed-precision policy: 16-bit softmaxes tie over hundreds of classes.
        probabilities = keras.layers.Dense(len(labels), activation="softmax", dtype="float32", name="predictions")(
            backbone(inputs)
        )
        super().__init__(inputs=inputs, outputs=probabilities, **kwargs)
        self.backbone = backbone
        self.labels = labels
        self.preprocessor = SketchPreprocessor() if preprocessor is None else preprocessor

    @property
    def head(self):
        """The classification head: the float32 softmax `keras.layers.Dense` from the backbone's vector to `labels`.

        Example:
        >>> model = SketchClassifier.from_preset("default", labels=["circle", "square"])
        >>> tuple(model.head.kernel.shape), model.head.activation.__name__
        ((128, 2), 'softmax')
        """
        return self.get_layer("predictions")

    @property
    def max_points(self):
        """The preprocessor's `max_points`: how many points of a drawing the model reads."""
        return self.preprocessor.max_points

    @classmethod
    def from_preset(cls, preset, labels=None, **overrides):
        """A shipped trained model, or an untrained one of a named architecture.

        Args:
            preset: a model shipped in the package (`sketchkeras.hub.SHIPPED_MODELS`:
                `"qd35"`, `"quickdraw345"`), loaded with its weights as
                `from_pretrained` loads it; or an architecture of
                `sketchkeras.backbone.PRESETS` (`"default"`, `"geron"`),
                built untrained for `labels`.
            labels: for an architecture, the class names (required); for a
                shipped model, new class names to fine-tune it on (see
                `from_pretrained`).
            **overrides: changes to an architecture's backbone settings, and
                `max_points` for its preprocessor.

        Example:
        >>> SketchClassifier.from_preset("qd35").labels[:2]
        ['airplane', 'alarm clock']
        >>> SketchClassifier.from_preset("geron", labels=["cat"], max_points=128).backbone.masked
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
        preprocessor = SketchPreprocessor(**{k: overrides.pop(k) for k in ("max_points",) if k in overrides})
        return cls(SketchBackbone.from_preset(preset, **overrides), labels, preprocessor)

    def _with_labels(self, labels):
        """A copy for new `labels` on this backbone (its weights copied): known labels keep their head row."""
        labels = list(labels)
        model = type(self).from_config({**self.get_config(), "labels": labels})
        model.backbone.set_weights(self.backbone.get_weights())
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in self.head.weights)
        new_kernel, new_bias = (keras.ops.convert_to_numpy(w).copy() for w in model.head.weights)
        row = {label: i for i, label in enumerate(self.labels)}
        for j, label in enumerate(labels):
            if label in row:
                new_kernel[:, j], new_bias[j] = kernel[:, row[label]], bias[row[label]]
        model.head.set_weights([new_kernel, new_bias])
        return model

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "labels": self.labels,
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "backbone" not in config:
            # sketchkeras 0.1.0's flat config: labels, max_points and the encoder's arguments side by side.
            labels, max_points = config.pop("labels"), config.pop("max_points")
            return cls(SketchBackbone(**config), labels, SketchPreprocessor(max_points))
        return cls(
            keras.saving.deserialize_keras_object(config["backbone"]),
            config["labels"],
            keras.saving.deserialize_keras_object(config["preprocessor"]),
        )

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
        probabilities = self.predict_strokes(self.preprocessor.strokes(drawings, format))
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        return [[(self.labels[j], float(row[j])) for j in order] for row, order in zip(probabilities, best)]

    def predict_strokes(self, strokes):
        """Class probabilities `(n, classes)` for canonical stroke arrays.

        Up to 8 drawings run through the NumPy forward pass of
        `sketchkeras.live.predict_numpy` when the model allows it (a
        masked, forward-only, float32 backbone): the same numbers (to 1e-5)
        without the backend's per-call cost. Otherwise the preprocessor
        groups them by bucket length and pads them to a few fixed shapes
        (`SketchPreprocessor.batches`), so compiled backends reuse a
        handful of graphs.

        Example:
        >>> model = SketchClassifier.from_preset("default", labels=["a", "b"])
        >>> model.predict_strokes([np.zeros((7, 3), "float32")]).shape
        (1, 2)
        """
        if (
            0 < len(strokes) <= _NUMPY_DRAWINGS
            and all(len(s) for s in strokes)
            and self.backbone.compute_dtype == "float32"
            and numpy_unsupported(self) is None
        ):
            return predict_numpy(self, strokes)
        probabilities = np.zeros((len(strokes), len(self.labels)), dtype=np.float32)
        for rows, inputs in self.preprocessor.batches(strokes):
            probabilities[rows] = np.asarray(self.predict_on_batch(inputs))[: len(rows)]
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
        >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
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
        >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
        >>> model.save_pretrained(directory)
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
                on the pretrained backbone. A label the source knew keeps
                its head row. Freeze the backbone with
                `model.backbone.trainable = False` to train only the head.
            revision, cache_dir, token, local_files_only: for the Hub.

        Example:
        >>> import tempfile
        >>> directory = tempfile.mkdtemp()
        >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
        >>> model.save_pretrained(directory)
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
