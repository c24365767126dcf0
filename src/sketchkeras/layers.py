"""Backend-agnostic Keras 3 layers for right-padded stroke sequences.

Padding never changes a result here. Batches are right-padded and carry a
prefix mask (or lengths):

* `MaskedConv1D` zeroes padded steps before convolving and pads each side by
  a fixed amount, so valid outputs see exactly what an unpadded sequence
  would; with `strides > 1` it passes on the strided mask.
* `StrokeEncoder` runs a conv stack, then stacked recurrent layers over the
  padded sequence *without* a mask: a forward recurrence at a valid step
  never sees later (padded) steps, so the output at the last valid step is
  exactly the final state of the unpadded sequence. It is gathered there.
  Backward directions reverse each sequence within its own length. This
  keeps the fused recurrent kernels usable (no per-step masking).
  `StrokeEncoder.stages()` describes these steps, with their layers, for
  code that runs them itself (`sketchkeras.live`).

The only backend-specific code is `FusedLSTM`'s PyTorch fast path: Keras runs
an unmasked LSTM on a PyTorch CPU tensor in a Python loop, one step at a time;
PyTorch's own fused kernel does the same arithmetic on the same weights.
"""

from typing import NamedTuple

import keras
from keras import ops

_PACKAGE = "sketchkeras"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedConv1D(keras.layers.Layer):
    """1-D convolution for right-padded sequences that keeps their mask.

    Padded steps are zeroed before convolving; the input is padded by
    `(kernel_size - 1) // 2` steps on the left and the rest on the right
    whatever the sequence length, so a valid output step never depends on
    how much padding follows. Output length is `ceil(steps / strides)`, and
    the output mask is the input mask at the strided positions.

    Example:
    >>> import numpy as np
    >>> conv = MaskedConv1D(4, 3, strides=2)
    >>> x = np.random.rand(1, 6, 3).astype("float32")
    >>> mask = np.array([[True] * 5 + [False]])
    >>> tuple(conv(x, mask=mask).shape)
    (1, 3, 4)
    >>> np.asarray(conv.compute_mask(x, mask)).tolist()
    [[True, True, True]]
    """

    def __init__(self, filters, kernel_size, strides=1, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.activation = keras.activations.get(activation)
        self.conv = keras.layers.Conv1D(filters, kernel_size, strides=strides, activation=activation, name="conv")
        self.supports_masking = True

    def build(self, input_shape):
        self.conv.build((input_shape[0], None, input_shape[-1]))

    @property
    def padding(self):
        """`(left, right)`: the zero steps added around every sequence before `conv` runs on it.

        Example:
        >>> MaskedConv1D(4, 5).padding, MaskedConv1D(4, 4).padding
        ((2, 2), (1, 2))
        """
        left = (self.kernel_size - 1) // 2
        return left, self.kernel_size - 1 - left

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        inputs = ops.pad(inputs, [[0, 0], list(self.padding), [0, 0]])
        return self.conv(inputs)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[:, :: self.strides]

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        steps = None if steps is None else -(-steps // self.strides)
        return (input_shape[0], steps, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            activation=keras.activations.serialize(self.activation),
        )
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FusedLSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` that also runs PyTorch's fused kernel on the CPU.

    Identical weights, arithmetic and config to `keras.layers.LSTM` (models
    saved under one backend load under any other); only the unmasked,
    dropout-free loop under the PyTorch backend is routed to PyTorch's
    fused LSTM instead of a Python loop.

    Example:
    >>> import numpy as np
    >>> tuple(FusedLSTM(8, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        plain = (
            mask is None and not self.go_backwards and not (training and self.dropout) and not self.recurrent_dropout
        )
        if keras.backend.backend() == "torch" and plain:
            return _torch_lstm(sequences, initial_state, self.cell, self.return_sequences)
        return super().inner_loop(sequences, initial_state, mask, training=training)


def _torch_lstm(sequences, initial_state, cell, return_sequences):
    """PyTorch's fused LSTM with Keras' weights (gate order i, f, c, o in both)."""
    import torch

    kernel = ops.convert_to_tensor(cell.kernel)
    recurrent = ops.convert_to_tensor(cell.recurrent_kernel)
    bias = ops.convert_to_tensor(cell.bias)
    params = [kernel.T.contiguous(), recurrent.T.contiguous(), bias, torch.zeros_like(bias)]
    h0, c0 = (ops.convert_to_tensor(s).unsqueeze(0) for s in initial_state)
    outputs, h, c = torch._VF.lstm(
        sequences.to(kernel.dtype), (h0, c0), params, True, 1, 0.0, torch.is_grad_enabled(), False, True
    )
    last = outputs[:, -1]
    return last, outputs if return_sequences else last.unsqueeze(1), [h[0], c[0]]


class ConvStage(NamedTuple):
    """A conv stage of `StrokeEncoder.stages()`: masked convolution, normalisation, ReLU.

    At a valid step the stage computes `relu(norm(conv(padded)))`, where
    `padded` is the sequence (padded steps zeroed) with `padding` zero steps
    around it; the output has `ceil(steps / strides)` steps.

    Attributes:
        conv: the `keras.layers.Conv1D` holding the kernel and bias (no
            activation, "valid" padding).
        norm: its `keras.layers.BatchNormalization` (at inference, moving
            statistics), `keras.layers.LayerNormalization`, or None.
        filters, kernel_size, strides: the stage's `conv_layers` entry.
        padding: `(left, right)` zero steps around the sequence.

    Example:
    >>> stage = StrokeEncoder(conv_layers=[(8, 3, 2)], rnn_units=[4]).stages()[0]
    >>> stage.filters, stage.kernel_size, stage.strides, stage.padding, type(stage.norm).__name__
    (8, 3, 2, (1, 1), 'BatchNormalization')
    """

    conv: keras.layers.Conv1D
    norm: keras.layers.Layer | None
    filters: int
    kernel_size: int
    strides: int
    padding: tuple[int, int]


class RecurrentStage(NamedTuple):
    """A recurrent stage of `StrokeEncoder.stages()`: an LSTM or GRU returning sequences.

    Its input is the previous stage's output (dropout on it in training
    only); with a `backward` layer, that layer reads each sequence reversed
    within its length and the two outputs are concatenated, forward first.
    The encoder's vector is the last stage's output at each drawing's last
    step (the backward half at the first step).

    Attributes:
        forward: the forward `keras.layers.LSTM` (`FusedLSTM`) or `keras.layers.GRU`.
        backward: the backward layer of a bidirectional encoder, else None.
        units: the stage's `rnn_units` entry, per direction.
        rnn: `"lstm"` or `"gru"`.

    Example:
    >>> stage = StrokeEncoder(conv_layers=[], rnn_units=[4], rnn="gru").stages()[0]
    >>> stage.units, stage.rnn, type(stage.forward).__name__, stage.backward
    (4, 'gru', 'GRU', None)
    """

    forward: keras.layers.RNN
    backward: keras.layers.RNN | None
    units: int
    rnn: str


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StrokeEncoder(keras.layers.Layer):
    """Masked Conv1D stack feeding stacked recurrent layers: sequence → vector.

    Each point's absolute pen position (the running sum of its offsets: causal,
    so padding-safe) is appended to its `(dx, dy, pen_lifted)` features
    before the convolutions.

    Args:
        conv_layers: `(filters, kernel_size, strides)` per conv layer, each
            followed by a normalisation that ignores padded steps and ReLU.
        rnn_units: units per recurrent layer. Every layer but the last returns
            sequences; the last gives the state at each drawing's last point.
        bidirectional: run each recurrent layer in both directions.
        rnn: `"lstm"` or `"gru"`.
        dropout: dropout rate on the input of each recurrent layer and on
            the output vector.
        normalization: `"batch"` (masked batch norm), `"layer"` or `None`.
        masked: `False` only reproduces unmasked baselines (e.g. the
            "geron" preset): padded steps then leak into the result.

    Call it on `(strokes, lengths)`: right-padded `(batch, steps, 3)` and
    `(batch,)` valid lengths.

    Example:
    >>> import numpy as np
    >>> encoder = StrokeEncoder(conv_layers=[(8, 3, 2)], rnn_units=[16, 16])
    >>> strokes = np.random.rand(2, 10, 3).astype("float32")
    >>> tuple(encoder(strokes, np.array([10, 4])).shape)
    (2, 16)
    """

    def __init__(
        self,
        conv_layers=((64, 5, 2), (96, 5, 2)),
        rnn_units=(128, 128),
        bidirectional=False,
        rnn="lstm",
        dropout=0.0,
        normalization="batch",
        masked=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {rnn!r}")
        if normalization not in ("batch", "layer", None):
            raise ValueError(f"normalization must be 'batch', 'layer' or None, got {normalization!r}")
        if not rnn_units:
            raise ValueError("rnn_units needs at least one recurrent layer")
        self.conv_layers = [tuple(spec) for spec in conv_layers]
        self.rnn_units = list(rnn_units)
        self.bidirectional = bidirectional
        self.rnn = rnn
        self.dropout = dropout
        self.normalization = normalization
        self.masked = masked
        self.convs = [
            MaskedConv1D(filters, size, strides, name=f"conv_{i}")
            for i, (filters, size, strides) in enumerate(self.conv_layers)
        ]
        norm = {"batch": keras.layers.BatchNormalization, "layer": keras.layers.LayerNormalization}.get(normalization)
        self.norms = [norm(name=f"norm_{i}") if norm else None for i in range(len(self.convs))]
        recurrent = FusedLSTM if rnn == "lstm" else keras.layers.GRU
        directions = ("forward", "backward") if bidirectional else ("forward",)
        self.rnns = [
            [recurrent(units, return_sequences=True, name=f"{rnn}_{i}_{d}") for d in directions]
            for i, units in enumerate(self.rnn_units)
        ]
        self.drop = keras.layers.Dropout(dropout) if dropout else None

    def build(self, strokes_shape, lengths_shape=None):
        shape = (None, None, strokes_shape[-1] + 2)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = (None, None, conv.filters)
            if norm is not None:
                norm.build(shape)
        for layers in self.rnns:
            for layer in layers:
                layer.build(shape)
            shape = (None, None, layer.units * len(layers))

    def call(self, strokes, lengths, training=None):
        steps = ops.shape(strokes)[1]
        # arange(0, n, 1), not arange(n): jax2onnx (ONNX export under JAX) cannot trace arange without a stop.
        mask = (
            ops.arange(0, steps, 1)[None, :] < ops.expand_dims(ops.cast(lengths, "int32"), 1) if self.masked else None
        )
        # Absolute pen positions (a causal running sum, so padding-safe) beside the offsets.
        x = ops.concatenate([strokes, ops.cumsum(strokes[..., :2], axis=1)], axis=-1)
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x, mask=mask)
            mask = conv.compute_mask(x, mask)
            if isinstance(norm, keras.layers.BatchNormalization):
                x = norm(x, mask=mask, training=training)
            elif norm is not None:
                x = norm(x)
            x = ops.relu(x)
        if mask is None:
            lengths = ops.full((ops.shape(x)[0],), ops.shape(x)[1], dtype="int32")
        else:
            lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        for layers in self.rnns:
            if self.drop is not None:
                x = self.drop(x, training=training)
            outputs = [layers[0](x, training=training)]
            if self.bidirectional:
                backward = layers[1](_reverse_valid(x, lengths), training=training)
                outputs.append(_reverse_valid(backward, lengths))
            x = ops.concatenate(outputs, axis=-1) if self.bidirectional else outputs[0]
        last = ops.expand_dims(ops.expand_dims(lengths - 1, 1), 2)
        if self.bidirectional:
            units = self.rnn_units[-1]
            forward_last = ops.take_along_axis(x[..., :units], last, axis=1)[:, 0]
            features = ops.concatenate([forward_last, x[:, 0, units:]], axis=-1)
        else:
            features = ops.take_along_axis(x, last, axis=1)[:, 0]
        return features if self.drop is None else self.drop(features, training=training)

    def stages(self):
        """The encoder's stages in the order `call` runs them: `ConvStage`s, then `RecurrentStage`s.

        One stage per `conv_layers` and per `rnn_units` entry; their layers
        are the encoder's own (same weights). Before the first stage, each
        point's `(dx, dy, pen_lifted)` gets its absolute position `(x, y)`,
        the running sum of its offsets.

        Example:
        >>> encoder = StrokeEncoder(conv_layers=[(8, 3, 2)], rnn_units=[16, 12])
        >>> [type(stage).__name__ for stage in encoder.stages()]
        ['ConvStage', 'RecurrentStage', 'RecurrentStage']
        >>> [stage.units for stage in encoder.stages()[1:]]
        [16, 12]
        """
        convs = [
            ConvStage(conv.conv, norm, conv.filters, conv.kernel_size, conv.strides, conv.padding)
            for conv, norm in zip(self.convs, self.norms)
        ]
        recurrent = [
            RecurrentStage(layers[0], layers[1] if self.bidirectional else None, units, self.rnn)
            for layers, units in zip(self.rnns, self.rnn_units)
        ]
        return convs + recurrent

    def compute_output_shape(self, strokes_shape, lengths_shape=None):
        return (strokes_shape[0], self.rnn_units[-1] * (2 if self.bidirectional else 1))

    def get_config(self):
        config = super().get_config()
        config.update(
            conv_layers=[list(spec) for spec in self.conv_layers],
            rnn_units=self.rnn_units,
            bidirectional=self.bidirectional,
            rnn=self.rnn,
            dropout=self.dropout,
            normalization=self.normalization,
            masked=self.masked,
        )
        return config


def _reverse_valid(x, lengths):
    """Reverses each sequence within its valid length; padding stays in place."""
    steps = ops.arange(0, ops.shape(x)[1], 1)[None, :]
    lengths = ops.expand_dims(lengths, 1)
    index = ops.where(steps < lengths, lengths - 1 - steps, steps)
    return ops.take_along_axis(x, ops.expand_dims(index, -1), axis=1)
