"""`SketchBackbone`: the stroke network without a head, pen strokes to one feature vector per drawing.

As in keras-hub, the backbone is a functional Keras model whose config is
the architecture alone; a task (`sketchkeras.SketchClassifier`) puts a head
on it, and a pretrained backbone carries over to new classes.

Example:
>>> import numpy as np
>>> backbone = SketchBackbone.from_preset("default")
>>> strokes = np.zeros((2, 16, 3), "float32")
>>> tuple(backbone({"strokes": strokes, "lengths": np.array([16, 5])}).shape)
(2, 128)
"""

import keras

from sketchkeras.layers import StrokeEncoder

# Named architectures, built untrained by `SketchBackbone.from_preset` and `SketchClassifier.from_preset(name,
# labels=...)`. The trained models that ship in the package are `sketchkeras.hub.SHIPPED_MODELS`.
PRESETS = {
    # What the recipes train: a short masked conv stack (4x fewer steps for the LSTMs), then two LSTMs.
    "default": dict(
        conv_layers=[(48, 5, 1), (64, 5, 2), (96, 3, 2)],
        rnn_units=[128, 128],
        normalization="batch",
        dropout=0.2,
    ),
    # Géron, "Hands-On Machine Learning", chapter 15, exercise 10: Conv1D 32/64/128 with strides 2 and batch norm,
    # then LSTM 128 x 2, unmasked.
    "geron": dict(
        conv_layers=[(32, 5, 2), (64, 5, 2), (128, 3, 2)],
        rnn_units=[128, 128],
        normalization="batch",
        masked=False,
    ),
}


@keras.saving.register_keras_serializable(package="sketchkeras")
class SketchBackbone(keras.Model):
    """Maps `{"strokes": (batch, steps, 3) float32, "lengths": (batch,) int32}` to `(batch, output_dim)` features.

    A functional model around one `sketchkeras.StrokeEncoder` (a masked
    Conv1D stack, then stacked recurrent layers); its arguments are the
    encoder's and make up its whole config.

    Args:
        conv_layers: `(filters, kernel_size, strides)` per conv layer.
        rnn_units: units per recurrent layer.
        **encoder_options: `bidirectional`, `rnn`, `dropout`,
            `normalization`, `masked`, with `sketchkeras.StrokeEncoder`'s
            defaults; `name` and `trainable` go to the model.

    Example:
    >>> backbone = SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[16])
    >>> backbone.output_dim, [type(stage).__name__ for stage in backbone.stages()]
    (16, ['ConvStage', 'RecurrentStage'])
    >>> SketchBackbone.from_config(backbone.get_config()).rnn_units
    [16]
    """

    def __init__(self, conv_layers, rnn_units, name=None, trainable=True, **encoder_options):
        strokes = keras.Input((None, 3), name="strokes")
        lengths = keras.Input((), dtype="int32", name="lengths")
        encoder = StrokeEncoder(conv_layers=conv_layers, rnn_units=rnn_units, **encoder_options, name="encoder")
        features = encoder(strokes, lengths)
        super().__init__(
            inputs={"strokes": strokes, "lengths": lengths}, outputs=features, name=name, trainable=trainable
        )
        self.encoder = encoder
        self.conv_layers = encoder.conv_layers
        self.rnn_units = encoder.rnn_units
        self.bidirectional = encoder.bidirectional
        self.rnn = encoder.rnn
        self.dropout = encoder.dropout
        self.normalization = encoder.normalization
        self.masked = encoder.masked

    @property
    def output_dim(self):
        """The length of a drawing's feature vector."""
        return self.rnn_units[-1] * (2 if self.bidirectional else 1)

    def stages(self):
        """The network's stages in the order it runs them (see `StrokeEncoder.stages`): what live streams read."""
        return self.encoder.stages()

    @classmethod
    def from_preset(cls, preset, **overrides):
        """An untrained backbone of a named architecture (`PRESETS`: `"default"`, `"geron"`).

        Example:
        >>> SketchBackbone.from_preset("geron").masked
        False
        """
        if preset not in PRESETS:
            raise ValueError(f"unknown architecture {preset!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[preset], **overrides})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "conv_layers": [list(spec) for spec in self.conv_layers],
            "rnn_units": list(self.rnn_units),
            "bidirectional": self.bidirectional,
            "rnn": self.rnn,
            "dropout": self.dropout,
            "normalization": self.normalization,
            "masked": self.masked,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
