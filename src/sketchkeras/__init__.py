"""sketchkeras: classify Quick, Draw! sketches from their pen strokes with Keras 3.

The names below are imported on first use (PEP 562), so that `import sketchkeras.cli` (the command line's
`--help`) imports no framework.

Example:
>>> import sketchkeras
>>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "dog"], max_per_class=10)
>>> model = sketchkeras.SketchClassifier.from_preset("default", labels=ds.features["word"].names)
>>> len(model.predict_drawings([ds[0]["strokes"]], format="stroke3")[0])
2
"""

import importlib

_EXPORTS = {
    "classifier": ["PRESETS", "SketchClassifier"],
    "data": [
        "SkippedRecordsWarning", "StrokeBatches", "bucket_length", "bundled_sample_dir", "categories",
        "convert_to_parquet", "load_quickdraw", "pad_strokes", "qd35_classes", "split_dataset", "stroke_arrays",
    ],
    "distributed": ["data_parallel"],
    "evaluation": ["early_recognition", "evaluate_classifier", "score_predictions"],
    "hub": ["InvalidModelError", "UnsafeModelError", "bundled_model_dir", "model_card"],
    "layers": ["FusedLSTM", "MaskedConv1D", "StrokeEncoder"],
    "live": ["SketchStream"],
    "simplify": ["simplify_drawing"],
    "pipeline": ["RECIPES", "run_training"],
    "sketchrnn": ["UnsafePickleError", "load_sketchrnn_npz"],
    "streaming": ["hash_split", "stream_batches", "stream_quickdraw"],
    "strokes": ["DrawingError", "canonical_strokes", "read_ndjson"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'sketchkeras' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sketchkeras.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])
