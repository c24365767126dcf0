"""Layers and SketchClassifier on real drawings: padding invariance, masks, saving."""

import json
import warnings

import keras
import numpy as np
import pytest

from sketchkeras import (
    DrawingError,
    FusedLSTM,
    MaskedConv1D,
    SketchBackbone,
    SketchClassifier,
    StrokeEncoder,
    load_quickdraw,
    pad_strokes,
)

CLASSES = ["cat", "dog", "pig", "owl"]


@pytest.fixture(scope="module")
def drawings(quickdraw_dir):
    files = [quickdraw_dir / "simplified" / f"{word}.ndjson" for word in CLASSES]
    ds = load_quickdraw(files, classes=CLASSES, max_per_class=8)
    return [np.asarray(s, dtype=np.float32) for s in ds["strokes"]]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return SketchClassifier.from_preset("default", labels=CLASSES)


def _run(model, strokes, length):
    x, lengths = pad_strokes(strokes, length)
    return keras.ops.convert_to_numpy(model({"strokes": x, "lengths": lengths}, training=False))


def test_padding_never_changes_a_prediction(model, drawings):
    longest = max(len(d) for d in drawings)
    tight = np.concatenate([_run(model, [d], len(d)) for d in drawings[:3]])
    for length in (longest, 256):
        np.testing.assert_allclose(_run(model, drawings, length)[:3], tight, atol=1e-6, rtol=0)
    # batched with a much longer drawing
    np.testing.assert_allclose(
        _run(model, drawings[:3] + [np.tile(drawings[0], (5, 1))], 300)[:3], tight, atol=1e-6, rtol=0
    )


def test_padding_invariance_holds_for_bidirectional_gru_with_layer_norm(drawings):
    keras.utils.set_random_seed(2)
    model = SketchClassifier(
        SketchBackbone(
            conv_layers=[(16, 3, 2)], rnn_units=[16, 16], bidirectional=True, rnn="gru", normalization="layer"
        ),
        CLASSES,
    )
    tight = np.concatenate([_run(model, [d], len(d)) for d in drawings[:2]])
    np.testing.assert_allclose(_run(model, drawings[:4], 200)[:2], tight, atol=1e-6, rtol=0)


def test_masked_batch_norm_training_ignores_padding(drawings):
    keras.utils.set_random_seed(3)
    encoder = StrokeEncoder(conv_layers=[(8, 3, 1)], rnn_units=[8])
    short, lengths = pad_strokes(drawings[:4], 150)
    long, _ = pad_strokes(drawings[:4], 250)
    a = keras.ops.convert_to_numpy(encoder(short, lengths, training=True))
    b = keras.ops.convert_to_numpy(encoder(long, lengths, training=True))
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_geron_preset_is_not_padding_invariant(drawings):
    keras.utils.set_random_seed(4)
    model = SketchClassifier.from_preset("geron", labels=CLASSES)
    assert np.abs(_run(model, drawings[:2], 64) - _run(model, drawings[:2], 256)).max() > 1e-4


def test_masked_conv1d_strides_and_mask():
    conv = MaskedConv1D(2, 5, strides=2, activation="relu")
    x = np.random.default_rng(0).random((2, 9, 3)).astype("float32")
    mask = np.arange(9)[None] < np.array([[9], [4]])
    out = conv(x, mask=mask)
    assert tuple(out.shape) == (2, 5, 2)
    assert keras.ops.convert_to_numpy(conv.compute_mask(x, mask)).tolist() == [
        [True] * 5,
        [True, True, False, False, False],
    ]
    # valid steps of the second row do not see what lies in its padding
    y = x.copy()
    y[1, 4:] = 123.0
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(conv(y, mask=mask))[1, :2], keras.ops.convert_to_numpy(out)[1, :2]
    )
    # and a Keras mask flows through it in a functional model
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(mask_value=-1.0)(inputs)
    lstm = keras.layers.LSTM(4)(MaskedConv1D(3, 3, strides=2)(masked))
    assert keras.Model(inputs, lstm)(x).shape == (2, 4)


def test_fused_lstm_matches_keras_lstm():
    x = np.random.default_rng(1).random((3, 11, 5)).astype("float32")
    fused = FusedLSTM(6, return_sequences=True)
    fused.build(x.shape)
    plain = keras.layers.LSTM(6, return_sequences=True)
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fused(x)), keras.ops.convert_to_numpy(plain(x)), atol=1e-6)


def test_wiring_comes_from_one_list():
    encoder = StrokeEncoder(conv_layers=[(8, 3, 2)], rnn_units=[5, 6, 7])
    encoder(np.zeros((1, 4, 3), "float32"), np.array([4]))
    assert [layers[0].units for layers in encoder.rnns] == [5, 6, 7]
    assert all(layers[0].return_sequences for layers in encoder.rnns)  # last one gathered at each length
    with pytest.raises(ValueError, match="at least one"):
        StrokeEncoder(rnn_units=[])


def test_predict_drawings_takes_every_format(model, quickdraw_dir):
    simplified = json.loads((quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[0])["drawing"]
    raw = json.loads((quickdraw_dir / "raw" / "cat.ndjson").read_text().splitlines()[0])["drawing"]
    canvas = [np.array(stroke[:2]).T.tolist() for stroke in raw]
    results = model.predict_drawings([simplified, raw], top_k=3)
    assert [len(r) for r in results] == [3, 3]
    for guesses in results:
        probabilities = [p for _, p in guesses]
        assert probabilities == sorted(probabilities, reverse=True)
        assert {label for label, _ in guesses} <= set(CLASSES)
    assert model.predict_drawings([canvas], format="points") == model.predict_drawings([raw])
    with pytest.raises(DrawingError, match="drawing 1: empty drawing"):
        model.predict_drawings([simplified, []])


def test_one_point_long_drawings_and_batch_of_one(model, drawings):
    one_point = model.predict_strokes([np.array([[0.0, 0.0, 1.0]], "float32")])
    assert one_point.shape == (1, 4) and np.isclose(one_point.sum(), 1, atol=1e-5)
    long = np.tile(drawings[0], (40, 1))
    assert len(long) > model.max_points
    np.testing.assert_allclose(
        model.predict_strokes([long]), model.predict_strokes([long[: model.max_points]]), atol=1e-6
    )
    many = model.predict_strokes(drawings)
    np.testing.assert_allclose(model.predict_strokes(drawings[3:4]), many[3:4], atol=1e-6)


def test_no_mask_warning_anywhere(drawings):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = SketchClassifier.from_preset("default", labels=CLASSES)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x, lengths = pad_strokes(drawings[:4], 64)
        model.train_on_batch({"strokes": x, "lengths": lengths}, np.arange(4))
        model.predict_strokes(drawings[:3])
    assert [str(w.message) for w in caught if "mask" in str(w.message).lower()] == []


def test_saved_model_round_trips_with_its_labels(tmp_path, model, drawings):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, SketchClassifier)
    assert loaded.labels == CLASSES and loaded.max_points == 256
    np.testing.assert_allclose(loaded.predict_strokes(drawings), model.predict_strokes(drawings), atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the fused kernel runs only under PyTorch")
def test_fused_lstm_gradients_equal_keras_lstm_under_torch(drawings):
    """PyTorch's fused kernel trains like Keras' own loop: same loss gradients for inputs and every weight."""
    import torch

    steps = 24
    x = torch.tensor(np.stack([s[:steps] for s in drawings if len(s) >= steps]), requires_grad=True)
    fused, plain = FusedLSTM(12, return_sequences=True), keras.layers.LSTM(12, return_sequences=True)
    fused.build(x.shape), plain.build(x.shape)
    weights = [np.random.default_rng(0).normal(0, 0.3, w.shape).astype("float32") for w in fused.get_weights()]
    fused.set_weights(weights), plain.set_weights(weights)
    target = torch.tensor(np.random.default_rng(1).normal(size=(len(x), steps, 12)).astype("float32"))
    gradients = []
    for layer in (fused, plain):
        loss = (layer(x) * target).sum()
        gradients.append(
            [g.numpy() for g in torch.autograd.grad(loss, [x, *(w.value for w in layer.trainable_weights)])]
        )
    assert len(x) >= 20 and len(gradients[0]) == 4  # inputs, kernel, recurrent kernel, bias
    for got, want in zip(*gradients):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def bundled_real():
    """The bundled model, the bundled sample's first cat and its longest drawing (cut to max_points), with 8 more."""
    import gzip

    from sketchkeras import bundled_sample_dir, canonical_strokes

    model = SketchClassifier.from_preset("qd35")
    records = {}
    for path in sorted((bundled_sample_dir() / "simplified").glob("*.ndjson.gz")):
        with gzip.open(path, "rt") as lines:
            records[path.name] = [json.loads(line)["drawing"] for line in lines]
    cat = canonical_strokes(records["cat.ndjson.gz"][0], max_points=model.max_points)
    everything = [d for drawings in records.values() for d in drawings]
    longest = canonical_strokes(max(everything, key=lambda d: sum(len(s[0]) for s in d)), max_points=model.max_points)
    others = [canonical_strokes(drawings[1]) for drawings in list(records.values())[:8]]
    assert len(longest) == model.max_points == 256
    return model, [cat, longest, *others]


def test_small_batches_run_numpy_and_agree_with_the_batched_keras_path(bundled_real):
    from sketchkeras.live import predict_numpy

    model, strokes = bundled_real
    batched = model.predict_strokes(strokes * 2)  # 20 drawings: the Keras path, bucketed batches
    for few in ([strokes[0]], [strokes[1]], strokes[:3], strokes[2:10]):
        got = model.predict_strokes(few)
        np.testing.assert_array_equal(got, predict_numpy(model, few))  # routed through NumPy
        rows = [next(i for i, s in enumerate(strokes) if s is f) for f in few]
        np.testing.assert_allclose(got, batched[rows], atol=1e-5, rtol=0)
        assert (got.argmax(1) == batched[rows].argmax(1)).all()
    guesses = model.predict_drawings([strokes[0]], format="stroke3", top_k=1)[0]
    assert guesses[0][0] == model.labels[batched[0].argmax()]


def test_numpy_path_follows_changed_weights(bundled_real):
    model, strokes = bundled_real
    model = SketchClassifier.from_config(model.get_config())
    model.set_weights(bundled_real[0].get_weights())
    before = model.predict_strokes(strokes[:1])
    model.head.bias.assign(np.arange(len(model.labels), dtype="float32"))
    after = model.predict_strokes(strokes[:1])
    assert abs(after - before).max() > 0.1
    np.testing.assert_allclose(after, model.predict_strokes(strokes * 2)[:1], atol=1e-5, rtol=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, lengths = pad_strokes(strokes, 256)
    model.train_on_batch({"strokes": x, "lengths": lengths}, np.arange(len(strokes)))
    np.testing.assert_allclose(
        model.predict_strokes(strokes[:2]), model.predict_strokes(strokes * 2)[:2], atol=1e-5, rtol=0
    )
    assert abs(model.predict_strokes(strokes[:1]) - after).max() > 1e-4  # training moved it


@pytest.mark.parametrize("config", [dict(bidirectional=True), dict(masked=False)])
def test_bidirectional_and_unmasked_models_keep_the_keras_path(config, bundled_real):
    from sketchkeras.live import predict_numpy

    _, strokes = bundled_real
    keras.utils.set_random_seed(2)
    model = SketchClassifier(SketchBackbone(conv_layers=[(16, 5, 2)], rnn_units=[16], **config), CLASSES)
    with pytest.raises(ValueError, match="masked, forward-only"):
        predict_numpy(model, strokes[:1])
    x, lengths = pad_strokes(strokes[:1], 64)  # the first cat's bucket
    np.testing.assert_allclose(
        model.predict_strokes(strokes[:1]), model.predict_on_batch({"strokes": x, "lengths": lengths}), atol=1e-6
    )
    np.testing.assert_allclose(model.predict_strokes(strokes[:3]), model.predict_strokes(strokes * 2)[:3], atol=1e-5)
