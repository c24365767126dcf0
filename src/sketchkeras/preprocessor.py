"""`SketchPreprocessor`: Google drawings to model input, saved with the model it feeds.

It holds what the model expects of a drawing (`max_points`) and does the
work between a user's drawings and the network: reading each format
(`sketchkeras.strokes.canonical_strokes`), truncating, and padding
drawings into length buckets so that compiled backends reuse a handful of
graphs. `SketchClassifier.predict_drawings`, `predict_strokes` and
`start_stream` go through the model's preprocessor.

Example:
>>> preprocessor = SketchPreprocessor(max_points=64)
>>> inputs = preprocessor([[[[0, 40, 80], [50, 0, 50]]], [[[0, 9], [0, 9]], [[5, 5], [0, 9]]]])
>>> inputs["strokes"].shape, inputs["lengths"].tolist()
((2, 16, 3), [3, 4])
"""

import keras
import numpy as np

from sketchkeras.data import bucket_length, pad_strokes
from sketchkeras.strokes import canonical_strokes

# Drawings per predict call: batch sizes are powers of two up to this.
_PREDICT_BATCH = 64


@keras.saving.register_keras_serializable(package="sketchkeras")
class SketchPreprocessor:
    """Turns drawings in Google's formats into `{"strokes", "lengths"}` input.

    Args:
        max_points: drawings are truncated to their first `max_points`
            points; padded lengths are the bucket lengths up to it
            (`sketchkeras.bucket_length`).

    Example:
    >>> preprocessor = SketchPreprocessor()
    >>> [len(s) for s in preprocessor.strokes([[[[0, 40, 80], [50, 0, 50]]]])], preprocessor.max_points
    ([3], 256)
    >>> SketchPreprocessor.from_config(SketchPreprocessor(64).get_config()).max_points
    64
    """

    def __init__(self, max_points=256):
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
            raise ValueError(f"max_points must be a positive integer, not {max_points!r}")
        self.max_points = max_points

    def strokes(self, drawings, format="auto"):
        """Canonical `(n, 3)` stroke arrays, each truncated to `max_points`.

        Args:
            drawings: Google drawings (simplified or raw), stroke-3 arrays or
                (with `format="points"`) lists of `(x, y)` point strokes.
            format: see `sketchkeras.strokes.canonical_strokes`.

        Raises:
            sketchkeras.DrawingError: naming the bad drawing by its index.
        """
        return [canonical_strokes(d, format, self.max_points, source=f"drawing {i}") for i, d in enumerate(drawings)]

    def __call__(self, drawings, format="auto"):
        """One batch of model input: the drawings padded to the bucket length of the longest."""
        strokes = self.strokes(drawings, format)
        return self.pad(strokes, bucket_length(max(len(s) for s in strokes), self.max_points))

    def pad(self, strokes, length):
        """`{"strokes": (batch, length, 3), "lengths": (batch,)}` from canonical arrays (see `pad_strokes`)."""
        x, lengths = pad_strokes(strokes, length)
        return {"strokes": x, "lengths": lengths}

    def batches(self, strokes):
        """`(rows, inputs)` pairs covering `strokes`: drawings of one bucket length together, batch sizes powers of two.

        A batch is filled up to its power of two with copies of its first
        drawing; `rows` are the indices of the drawings it really holds.

        Example:
        >>> strokes = [np.zeros((n, 3), "float32") for n in (5, 40, 7)]
        >>> [(rows.tolist(), inputs["strokes"].shape) for rows, inputs in SketchPreprocessor().batches(strokes)]
        [([0, 2], (2, 16, 3)), ([1], (1, 48, 3))]
        """
        padded = np.array([bucket_length(len(s), self.max_points) for s in strokes])
        for length in np.unique(padded):
            rows = np.flatnonzero(padded == length)
            for start in range(0, len(rows), _PREDICT_BATCH):
                chunk = rows[start : start + _PREDICT_BATCH]
                size = 1 << (len(chunk) - 1).bit_length()
                yield (
                    chunk,
                    self.pad([strokes[i] for i in chunk] + [strokes[chunk[0]]] * (size - len(chunk)), int(length)),
                )

    def get_config(self):
        return {"max_points": self.max_points}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
