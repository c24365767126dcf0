"""Pictures of sketches and of a training run, as PNG files.

Needs matplotlib (`pip install "sketchkeras[plots]"`); the rest of
sketchkeras works without it. Figures are drawn on matplotlib's Agg canvas
without pyplot, so nothing here opens a window or changes pyplot's backend.

Example:
>>> import pathlib, tempfile, sketchkeras
>>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat"], max_per_class=1)
>>> path = save_sketch(ds[0]["strokes"], pathlib.Path(tempfile.mkdtemp()) / "cat.png", title="cat")
>>> path.read_bytes()[:4]
b'\\x89PNG'
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sketchkeras.data import stroke_arrays

_RIGHT, _WRONG = "#1a7f37", "#cf222e"


def render_sketch(ax, strokes):
    """Draws canonical strokes `(n, 3)` on a matplotlib `Axes`, one line per stroke.

    Example:
    >>> ax = Figure().subplots()
    >>> render_sketch(ax, [[0, 0, 0], [1, 0, 1], [0, 0.5, 0], [-1, 0, 1]])
    >>> len(ax.lines)
    2
    """
    strokes = np.asarray(strokes, dtype=np.float32)
    points = np.cumsum(strokes[:, :2], axis=0)
    ends = np.flatnonzero(strokes[:, 2] > 0) + 1
    for stroke in np.split(points, ends[ends < len(points)]):
        ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=1.5, marker="." if len(stroke) == 1 else None)
    ax.set_aspect("equal")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(1.05, -0.05)  # y grows downwards on Quick, Draw!'s canvas
    ax.axis("off")


def save_sketch(strokes, path, title=None):
    """Writes one drawing (canonical strokes) to a 256 x 256 PNG; returns the path.

    Example: see the module docstring.
    """
    figure = Figure(figsize=(2.56, 2.56), dpi=100)
    ax = figure.subplots()
    render_sketch(ax, strokes)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(figure, path)


def plot_sketch_grid(strokes_list, true_labels, predicted_labels, path, columns=4):
    """A grid of drawings titled with their predicted label: green when right, red (with the truth) when wrong.

    Example:
    >>> import pathlib, tempfile
    >>> square = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 1]]
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "grid.png"
    >>> path = plot_sketch_grid([square] * 2, ["square", "square"], ["square", "circle"], out)
    >>> path.stat().st_size > 0
    True
    """
    rows = max(1, -(-len(strokes_list) // columns))
    figure = Figure(figsize=(2 * columns, 2.2 * rows), dpi=100)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, strokes, true, predicted in zip(axes, strokes_list, true_labels, predicted_labels):
        render_sketch(ax, strokes)
        right = true == predicted
        ax.set_title(
            predicted if right else f"{predicted}\n(true: {true})", color=_RIGHT if right else _WRONG, fontsize=9
        )
    figure.tight_layout()
    return _save(figure, path)


def plot_confusion(metrics, labels, path):
    """The confusion matrix of `evaluate_classifier`'s metrics, each row scaled to its class's drawings.

    Class names are written on the axes up to 40 classes.

    Example:
    >>> import pathlib, tempfile
    >>> metrics = {"confusion": [[3, 1], [0, 4]], "top1": 0.875}
    >>> plot_confusion(metrics, ["cat", "dog"], pathlib.Path(tempfile.mkdtemp()) / "confusion.png").suffix
    '.png'
    """
    confusion = np.asarray(metrics["confusion"], dtype=np.float64)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = min(24, 3 + 0.3 * len(labels))
    figure = Figure(figsize=(size + 1.5, size), dpi=100)
    ax = figure.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if len(labels) <= 40:
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, labels, rotation=90, fontsize=8)
        ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix (top-1 {metrics['top1']:.1%})")
    figure.tight_layout()
    return _save(figure, path)


def plot_history(history, path):
    """Loss and accuracy per epoch, training against validation (`train`'s history).

    Example:
    >>> import pathlib, tempfile
    >>> history = {"loss": [1.2, 0.8], "val_loss": [1.1, 0.9], "accuracy": [0.5, 0.7], "val_accuracy": [0.55, 0.65]}
    >>> plot_history(history, pathlib.Path(tempfile.mkdtemp()) / "curves.png").stat().st_size > 0
    True
    """
    figure = Figure(figsize=(10, 4), dpi=100)
    for ax, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for key, name in ((metric, "training"), (f"val_{metric}", "validation")):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    return _save(figure, path)


def plot_early_recognition(curve, path):
    """Top-1 accuracy against the share of each drawing's points drawn (see `early_recognition`).

    Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "early.png"
    >>> plot_early_recognition({0.25: 0.3, 0.5: 0.5, 0.75: 0.7, 1.0: 0.75}, path).read_bytes()[:4]
    b'\\x89PNG'
    """
    figure = Figure(figsize=(5, 3.5), dpi=100, layout="constrained")
    ax = figure.subplots()
    fractions = sorted(curve)
    ax.plot([100 * f for f in fractions], [curve[f] for f in fractions], marker="o")
    for fraction in fractions:
        ax.annotate(
            f"{curve[fraction]:.3f}",
            (100 * fraction, curve[fraction]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
        )
    ax.set_xlabel("share of each drawing's points drawn (%)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Early recognition")
    ax.grid(alpha=0.3)
    return _save(figure, path)


def plot_evaluation(model, dataset, metrics, directory, history=None, sketches=16):
    """Writes a run's pictures into `directory`; returns their paths.

    `confusion_matrix.png` (from `metrics`), `test_sketches.png` (the first
    `sketches` drawings of `dataset`, with the model's first guess) and,
    given a history, `training_curves.png`.

    Example:
    >>> import tempfile, sketchkeras
    >>> from sketchkeras.evaluation import evaluate_classifier
    >>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "dog"], max_per_class=4)
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "dog"], rnn_units=[8])
    >>> metrics = evaluate_classifier(model, ds)
    >>> [p.name for p in plot_evaluation(model, ds, metrics, tempfile.mkdtemp())]
    ['confusion_matrix.png', 'test_sketches.png']
    """
    directory = Path(directory)
    shown = dataset.select(range(min(sketches, dataset.num_rows)))
    strokes = stroke_arrays(shown)
    guesses = model.predict_strokes(strokes).argmax(axis=1)
    names = model.labels
    paths = [
        plot_confusion(metrics, names, directory / "confusion_matrix.png"),
        plot_sketch_grid(
            strokes, [names[i] for i in shown["word"]], [names[i] for i in guesses], directory / "test_sketches.png"
        ),
    ]
    if history is not None:
        paths.append(plot_history(history, directory / "training_curves.png"))
    return paths


def _save(figure, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
