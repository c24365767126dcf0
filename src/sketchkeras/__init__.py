"""sketchkeras: classify Quick, Draw! sketches from their pen strokes with Keras 3.

Example:
>>> import sketchkeras
>>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "dog"], max_per_class=10)
>>> model = sketchkeras.SketchClassifier.from_preset("default", labels=ds.features["word"].names)
>>> len(model.predict_drawings([ds[0]["strokes"]], format="stroke3")[0])
2
"""

from sketchkeras.backbone import PRESETS, SketchBackbone
from sketchkeras.classifier import SketchClassifier
from sketchkeras.convert import convert_quickdraw
from sketchkeras.data import (
    StrokeBatches,
    bucket_length,
    bundled_sample_dir,
    categories,
    exclude_drawings,
    load_quickdraw,
    pad_points,
    pad_strokes,
    qd35_classes,
    split_dataset,
    stroke_arrays,
)
from sketchkeras.distributed import data_parallel
from sketchkeras.evaluation import early_recognition, evaluate_classifier, score_predictions
from sketchkeras.export import export_model
from sketchkeras.hub import InvalidModelError, UnsafeModelError, bundled_model_dir, load_results, model_card
from sketchkeras.layers import FusedLSTM, MaskedConv1D, StrokeEncoder
from sketchkeras.live import SketchStream
from sketchkeras.pipeline import RECIPES, run_splits, run_training
from sketchkeras.preprocessor import SketchPreprocessor
from sketchkeras.simplify import simplify_drawing
from sketchkeras.sketchrnn import UnsafePickleError, load_sketchrnn_npz
from sketchkeras.sources import SkippedRecordsWarning
from sketchkeras.static_page import write_static_page
from sketchkeras.streaming import StreamEpochs, hash_split, stream_batches, stream_quickdraw
from sketchkeras.strokes import DrawingError, canonical_strokes, read_ndjson

__version__ = "0.1.0"
