"""Live recognition: the stream agrees with predict_drawings on real drawings, at every point."""

import json

import keras
import numpy as np
import pytest

from sketchkeras import DrawingError, SketchBackbone, SketchClassifier, bundled_model_dir, canonical_strokes
from sketchkeras.layers import ConvStage, RecurrentStage

CLASSES = ["cat", "pig", "bicycle", "owl", "dog"]


@pytest.fixture(scope="module")
def model():
    return SketchClassifier.from_pretrained(bundled_model_dir())


@pytest.fixture(scope="module")
def drawings(quickdraw_dir):
    """Real simplified drawings: 4 per class, plus the longest of the files (over max_points)."""
    chosen, longest = [], None
    for word in CLASSES:
        lines = (quickdraw_dir / "simplified" / f"{word}.ndjson").read_text().splitlines()
        records = [json.loads(line)["drawing"] for line in lines]
        chosen += records[:4]
        candidate = max(records, key=lambda d: sum(len(s[0]) for s in d))
        if longest is None or _points(candidate) > _points(longest):
            longest = candidate
    return chosen + [longest]


def _points(drawing):
    return sum(len(stroke[0]) for stroke in drawing)


def _bounding_box(drawing):
    xs = [x for stroke in drawing for x in stroke[0]]
    ys = [y for stroke in drawing for y in stroke[1]]
    return min(xs), min(ys), max(max(xs) - min(xs), max(ys) - min(ys))


def _stream_every_point(stream, drawing):
    """Probabilities after each point (the pen lifts after a stroke's last point)."""
    after = []
    for xs, ys in drawing:
        for x, y in zip(xs, ys):
            stream.add_point(x, y)
            after.append(stream.probabilities)
        stream.end_stroke()
        after[-1] = stream.probabilities
    return np.array(after)


def _prefixes(drawing, max_points):
    """The canonical input after each point, in the whole drawing's frame, truncated as the model truncates."""
    strokes = canonical_strokes(drawing)
    cuts = []
    for n in range(1, _points(drawing) + 1):
        cut = strokes[: min(n, max_points)].copy()
        if n <= max_points:
            cut[-1, 2] = 1.0
        cuts.append(cut)
    return cuts


def test_stream_ends_on_predict_drawings_for_real_drawings(model, drawings):
    assert _points(drawings[-1]) > model.max_points  # one drawing is truncated
    whole = model.predict_drawings(drawings, top_k=5)
    for drawing, expected in zip(drawings, whole):
        stream = model.start_stream(top_k=5, frame=_bounding_box(drawing))
        for xs, ys in drawing:
            guesses = stream.add_stroke(xs, ys)
        assert [label for label, _ in guesses] == [label for label, _ in expected]
        np.testing.assert_allclose([p for _, p in guesses], [p for _, p in expected], atol=1e-5)
        assert stream.points == min(_points(drawing), model.max_points)


def test_stream_matches_the_drawing_so_far_after_every_point(model, drawings):
    for drawing in (drawings[0], drawings[5], drawings[-1]):
        streamed = _stream_every_point(model.start_stream(frame=_bounding_box(drawing)), drawing)
        expected = model.predict_strokes(_prefixes(drawing, model.max_points))
        np.testing.assert_allclose(streamed, expected, atol=1e-5)


def test_google_frame_is_the_default(model, drawings):
    aligned = next(d for d in drawings if _bounding_box(d) == (0, 0, 255))
    stream = model.start_stream()
    for xs, ys in aligned:
        stream.add_stroke(xs, ys)
    np.testing.assert_allclose(stream.probabilities, model.predict_strokes([canonical_strokes(aligned)])[0], atol=1e-5)


def test_gru_layer_norm_and_strides_stream_exactly(drawings):
    keras.utils.set_random_seed(3)
    model = SketchClassifier(
        SketchBackbone(
            conv_layers=[(16, 4, 1), (16, 3, 3), (24, 5, 2)], rnn_units=[16, 12, 8], rnn="gru", normalization="layer"
        ),
        CLASSES,
    )
    for drawing in drawings[:3]:
        streamed = _stream_every_point(model.start_stream(frame=_bounding_box(drawing)), drawing)
        np.testing.assert_allclose(streamed, model.predict_strokes(_prefixes(drawing, model.max_points)), atol=1e-5)


def _described(model):
    """Each stage of the encoder as its kind, settings and the width it feeds on, in order."""
    described, width = [], 5  # (dx, dy, pen_lifted, x, y)
    for stage in model.backbone.stages():
        if isinstance(stage, ConvStage):
            kernel = tuple(stage.conv.kernel.shape)
            assert kernel == (stage.kernel_size, width, stage.filters)
            described.append(
                ("conv", stage.filters, stage.kernel_size, stage.strides, stage.padding, type(stage.norm).__name__)
            )
            width = stage.filters
        else:
            assert isinstance(stage, RecurrentStage)
            layers = [stage.forward] if stage.backward is None else [stage.forward, stage.backward]
            assert all(tuple(layer.cell.kernel.shape)[0] == width and layer.units == stage.units for layer in layers)
            described.append((stage.rnn, stage.units, len(layers)))
            width = stage.units * len(layers)
    assert width == model.head.kernel.shape[0]  # the head reads what the last stage gives
    return described


def _stage_weights(model):
    layers = []
    for stage in model.backbone.stages():
        layers += [stage.conv, stage.norm] if isinstance(stage, ConvStage) else [stage.forward, stage.backward]
    return sorted(id(w) for layer in layers if layer is not None for w in layer.weights)


def test_stages_describe_the_bundled_encoder():
    model = SketchClassifier.from_preset("qd35")
    assert _described(model) == [
        ("conv", 48, 5, 1, (2, 2), "BatchNormalization"),
        ("conv", 64, 5, 2, (2, 2), "BatchNormalization"),
        ("conv", 96, 3, 2, (1, 1), "BatchNormalization"),
        ("lstm", 128, 1),
        ("lstm", 128, 1),
    ]
    assert _stage_weights(model) == sorted(id(w) for w in model.backbone.weights)  # every weight, each once
    assert model.head is model.get_layer("predictions") and tuple(model.head.kernel.shape) == (128, 35)


def test_stages_follow_a_different_config():
    model = SketchClassifier(
        SketchBackbone(
            conv_layers=[(16, 4, 1), (24, 3, 3)],
            rnn_units=[12, 10, 8],
            rnn="gru",
            normalization="layer",
            bidirectional=True,
        ),
        CLASSES,
    )
    assert _described(model) == [
        ("conv", 16, 4, 1, (1, 2), "LayerNormalization"),
        ("conv", 24, 3, 3, (1, 1), "LayerNormalization"),
        ("gru", 12, 2),
        ("gru", 10, 2),
        ("gru", 8, 2),
    ]
    assert _stage_weights(model) == sorted(id(w) for w in model.backbone.weights)
    unnormalised = SketchClassifier(SketchBackbone(conv_layers=[(8, 2, 2)], rnn_units=[6], normalization=None), CLASSES)
    assert _described(unnormalised) == [("conv", 8, 2, 2, (0, 1), "NoneType"), ("lstm", 6, 1)]


def test_state_kept_does_not_grow_with_the_drawing(model, drawings):
    stream = model.start_stream()
    held = []
    for xs, ys in drawings[-1]:
        for x, y in zip(xs, ys):
            stream.add_point(x, y)
            held.append(max(len(stage.inputs) for stage in stream._convs))
        stream.end_stroke()
    # Each conv layer keeps at most its kernel's worth of inputs, whatever the length.
    assert max(held) <= max(size for _, size, _ in model.backbone.conv_layers)


def test_nothing_drawn_yet(model):
    stream = model.start_stream()
    assert stream.guesses == [] and stream.probabilities is None
    assert stream.end_stroke() == []


@pytest.mark.parametrize("preset", ["geron"])
def test_unmasked_encoders_cannot_stream(preset):
    with pytest.raises(ValueError, match="masked, forward-only"):
        SketchClassifier.from_preset(preset, labels=CLASSES).start_stream()


def test_bidirectional_encoders_cannot_stream():
    model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8], bidirectional=True), CLASSES)
    with pytest.raises(ValueError, match="backward recurrence"):
        model.start_stream()


def test_bad_points_name_the_point(model):
    stream = model.start_stream()
    stream.add_point(1, 2)
    with pytest.raises(DrawingError, match="point 1: coordinates must be two finite numbers"):
        stream.add_point(float("nan"), 3)
    with pytest.raises(DrawingError, match="point 1: coordinates must be numbers"):
        stream.add_point("left", 3)
    with pytest.raises(DrawingError, match="as many xs as ys"):
        stream.add_stroke([1, 2], [3])
    assert stream.points == 1  # the bad points changed nothing


def test_bad_frames_are_refused(model):
    with pytest.raises(ValueError, match="frame must be finite"):
        model.start_stream(frame=(0, 0, float("inf")))
