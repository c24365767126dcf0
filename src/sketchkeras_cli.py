"""The `sketchkeras` command: train, evaluate, predict, convert, push, render, serve and export.

    sketchkeras train qd35 --out runs/qd35
    sketchkeras train qd35 --out runs/qd35 --resume       # after a crash, a kill or a time limit
    sketchkeras train --data quickdraw/ --classes cat dog owl --out runs/pets --epochs 10
    sketchkeras train --from qd35 --data my_drawings/ --out runs/mine   # fine-tune the shipped model
    sketchkeras evaluate runs/qd35/model --data quickdraw/simplified --out runs/qd35/eval
    sketchkeras evaluate runs/qd35/model --data qd35-sample/ --split test --early   # the run's own test split
    sketchkeras predict runs/qd35/model drawings.ndjson --top-k 3
    sketchkeras convert quickdraw/simplified qd-parquet --workers 4   # sharded, lossless, resumable
    sketchkeras push runs/qd35/model me/sketch-qd35
    sketchkeras render drawings.ndjson --out pngs --limit 8
    sketchkeras serve                                     # draw at http://127.0.0.1:8000/ (the bundled QD-35 model)
    sketchkeras serve runs/qd35/model --port 8080
    sketchkeras export qd35 --format onnx --out exported/qd35   # also litert, saved_model, web (a static page)

This module lies beside the `sketchkeras` package, not in it: importing
anything in the package imports Keras and the backend (which registers the
package's classes with Keras), while `--help` and usage errors answer here
without either. `python -m sketchkeras` runs the same command.

Every command has `--help`. Exit status: 0 on success, 1 for an error that
the one-line message on stderr explains (a missing file, a bad drawing
named by file and line, a Hub refusal), 2 for wrong usage.
"""

import argparse
import itertools
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from huggingface_hub.errors import HfHubHTTPError

# Keras, datasets and the backend are imported inside the commands that use them: `--help` and usage errors answer
# at once and import no framework.

# `sketchkeras train RECIPE`: pipeline.RECIPES (`run_training` arguments, which command-line options override), named
# here so that --help imports nothing. They load everything into memory: for Google's full 50 million drawings use
# recipes/quickdraw345.py (streaming).
RECIPE_NAMES = ("qd35", "quickdraw345")
# `sketchkeras export --format`: sketchkeras.export.FORMATS, named here so that --help imports nothing.
EXPORT_FORMATS = ("onnx", "litert", "saved_model", "web")
# huggingface_hub's HTTP client errors (connection refused, timeouts): HfHubHTTPError's own bases.
_HTTP_ERRORS = HfHubHTTPError.__bases__
_SCORES = {"top1": "top-1", "top3": "top-3", "top5": "top-5", "map3": "MAP@3", "balanced_top1": "balanced top-1"}
_FILES_HELP = (
    "Google ndjson (simplified or raw, .gz too), sketch-rnn .npz, .json holding a list of drawings (Google's "
    "[[xs, ys], ...] or stroke-3 rows [dx, dy, pen_lifted]) or .npy holding one stroke-3 array (n, 3)"
)


def main(argv=None):
    """Runs the `sketchkeras` command line; returns the exit status.

    Example:
    >>> import tempfile
    >>> from sketchkeras import bundled_sample_dir
    >>> out = tempfile.mkdtemp()
    >>> cats = str(bundled_sample_dir() / "simplified" / "cat.ndjson.gz")
    >>> main(["render", cats, "--out", out, "--limit", "2"])  # doctest: +ELLIPSIS
    wrote 2 PNG files to ...
    0
    """
    try:
        args = _parser().parse_args(argv)
        _import_keras_quietly()
        args.run(args)
    except SystemExit as exit:  # --help (0) or wrong usage (2)
        return exit.code
    except ModuleNotFoundError as error:  # an optional extra: matplotlib (plots), fastapi or uvicorn (serve)
        print(
            f'sketchkeras {args.name}: error: {error.name} is not installed; pip install "sketchkeras[all]"',
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError, *_HTTP_ERRORS) as error:  # DrawingError is a ValueError, Hub refusals OSErrors
        print(f"sketchkeras {args.name}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0


# TensorFlow's C++ start-up notices, which it writes to stderr before its log level applies (TF_CPP_MIN_LOG_LEVEL).
_TENSORFLOW_NOTICES = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|cpu_feature_guard|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags"
)


def _import_keras_quietly():
    """Imports Keras and its backend with TensorFlow's start-up notices dropped from stderr; any other line is kept."""
    # TensorFlow's runtime notices (an "E" line about int64 on CPUs without AVX-512) are not errors of the command:
    # its real errors reach the command as exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401  (the backend is imported with it)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _TENSORFLOW_NOTICES.search(line):
                    sys.stderr.write(line)
    if "tensorflow" not in sys.modules:
        # Under JAX or PyTorch, Keras' saving code imports TensorFlow (if installed) only to check a value's type, at
        # a run's first checkpoint: its oneDNN start-up notice would land in the middle of the epoch log. TensorFlow
        # computes nothing there, so its oneDNN setting changes no result.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _parser():
    parser = argparse.ArgumentParser(
        prog="sketchkeras", description="Train, evaluate and share Quick, Draw! sketch classifiers."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name, run, help, description=None):
        sub = commands.add_parser(name, help=help, description=description or help)
        sub.set_defaults(run=run, name=name, parser=sub)
        return sub

    data_help = (
        "Google ndjson files (simplified or raw, .gz too), sketch-rnn .npz, parquet, folders or globs of them, "
        "or a Hub dataset id"
    )
    train = command(
        "train",
        _train,
        "train a classifier, evaluate it and save it with its model card",
        "Train a classifier from a recipe or from options, evaluate it on a held-out split and save it with its model "
        "card. The run directory holds a checkpoint per epoch (written atomically), state.json, metrics.json, "
        "confusion_matrix.png, training_curves.png, test_sketches.png and model/.",
    )
    train.add_argument(
        "recipe",
        nargs="?",
        choices=RECIPE_NAMES,
        metavar="RECIPE",
        help="qd35: the 35 QD-35 classes, 400 drawings each, from the sample bundled with sketchkeras; "
        "quickdraw345: all 345 categories from --data. Options below override the recipe.",
    )
    train.add_argument("--data", nargs="+", metavar="SOURCE", help=f"training data: {data_help}")
    train.add_argument("--classes", nargs="+", metavar="NAME", help="class names (default: Google's 345 categories)")
    train.add_argument("--max-per-class", type=_positive(int), metavar="N", help="use at most N drawings of each class")
    train.add_argument("--out", required=True, type=_out_dir, metavar="RUN_DIR", help="run directory")
    train.add_argument("--preset", help="model architecture (default: default)")
    train.add_argument(
        "--from",
        dest="pretrained",
        metavar="MODEL",
        help="fine-tune a trained model on this data's classes: a shipped model (qd35), a model directory or a Hub "
        "id (owner/name); its backbone is kept, its head rebuilt for the classes",
    )
    train.add_argument(
        "--rnn-units",
        type=_positive(int),
        nargs="+",
        metavar="N",
        help="units of each recurrent layer, overriding the preset",
    )
    train.add_argument(
        "--max-points",
        type=_positive(int),
        metavar="N",
        help="keep the first N points of each drawing, overriding the preset",
    )
    train.add_argument("--epochs", type=_positive(int), help="epochs in all, counting those done before --resume")
    train.add_argument("--batch-size", type=_positive(int), metavar="N")
    train.add_argument(
        "--learning-rate",
        type=_positive(float),
        help="peak AdamW learning rate (warmup, then cosine decay)",
    )
    train.add_argument("--seed", type=int, help="seeds the split, the shuffles, augmentation and weights")
    train.add_argument(
        "--cut-fraction",
        type=_fraction,
        metavar="F",
        help="share of training drawings cut short, as drawings in progress (default 0.2; 0: whole drawings only)",
    )
    train.add_argument(
        "--drop-fraction",
        type=_fraction,
        metavar="F",
        help="share of the points inside strokes dropped from training drawings at random, an augmentation for "
        "classes with few drawings (default 0)",
    )
    train.add_argument(
        "--time-budget",
        type=_positive(float),
        metavar="SECONDS",
        help="stop after the epoch during which this much training time has passed",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from RUN_DIR's last checkpoint; give the same options as the first run",
    )
    train.add_argument(
        "--quiet",
        action="store_true",
        help="print no progress, only the test scores (default: a progress bar on a terminal, else one line per epoch)",
    )
    train.add_argument(
        "--precision",
        choices=["float32", "mixed_float16", "mixed_bfloat16"],
        help="Keras dtype policy. The mixed policies compute in 16 bits and keep float32 weights: for GPUs "
        "(mixed_float16 on NVIDIA, mixed_bfloat16 on recent NVIDIA GPUs and TPUs); on CPUs they are slower. "
        "Default: float32.",
    )

    evaluate = command("evaluate", _evaluate, "score a saved model on drawings: top-1/3/5 accuracy, MAP@3, per class")
    evaluate.add_argument("model", metavar="MODEL", help="model directory or Hub id (owner/name)")
    evaluate.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="SOURCE",
        help=f"{data_help}; the test split of a dataset repository",
    )
    evaluate.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="score only drawings of these labels (default: all the model's labels)",
    )
    evaluate.add_argument(
        "--max-per-class",
        type=_positive(int),
        metavar="N",
        help="use at most N drawings of each class (with --split: default, the cap the model was trained with)",
    )
    evaluate.add_argument(
        "--split",
        choices=["train", "validation", "test"],
        help="score only this part of the split that training made of the same data (a dataset repository's own "
        "split): the model's training record (sketchkeras.json) gives the split's sizes, seed and cap; for a model "
        "without one, a tenth each for validation and test, as `train` splits by default",
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        help="the split's seed (default: the model's training seed, else 0, as the recipes)",
    )
    evaluate.add_argument(
        "--early",
        action="store_true",
        help="also print top-1 accuracy after the first 25/50/75/100%% of each drawing's points "
        "(with --out: early_recognition.png)",
    )
    evaluate.add_argument(
        "--out",
        type=_out_dir,
        metavar="DIR",
        help="write metrics.json, confusion_matrix.png and test_sketches.png here",
    )

    predict = command(
        "predict",
        _predict,
        "print the top-k labels of every drawing in files, one JSON line each",
        "Print one JSON line per drawing: its source (file:line, file:split[index] or file[index]) and its top-k "
        "[label, probability] pairs, best first. All files are read and checked before anything is printed: a bad "
        "drawing stops the command with exit status 1 and a message naming its file and line.",
    )
    predict.add_argument("model", metavar="MODEL", help="model directory or Hub id (owner/name)")
    predict.add_argument("files", nargs="+", metavar="FILE", help=_FILES_HELP)
    predict.add_argument(
        "--top-k",
        type=_positive(int),
        default=5,
        metavar="K",
        help="labels per drawing, at most the model's labels (default: 5)",
    )

    convert = command(
        "convert",
        _convert,
        "convert Google files to a sharded, lossless parquet dataset (train/validation/test) ready for the Hub",
        "Stream Google's files into data/{split}-XXXXX-of-YYYYY.parquet and a dataset card README.md, in memory "
        "bounded by one shard. Rows keep Google's records (word, key_id, countrycode, timestamp, recognized and the "
        "drawing as small integers); splits follow each drawing's identity hash; shards mix every class. Rerun the "
        "same command after a kill to finish the missing shards.",
    )
    convert.add_argument("source", metavar="SOURCE", help="Google ndjson, sketch-rnn .npz, or a folder or glob of them")
    convert.add_argument("out", type=_out_dir, metavar="OUT", help="output folder (data/*.parquet and README.md)")
    convert.add_argument("--classes", nargs="+", metavar="NAME", help="class names (default: Google's 345 categories)")
    convert.add_argument(
        "--workers", type=_positive(int), default=1, metavar="N", help="processes reading and writing (default: 1)"
    )
    convert.add_argument(
        "--shard-mb",
        type=_positive(int),
        metavar="MB",
        help="MiB of Google's records a shard aims at (default: 256, about 570k simplified or 77k raw drawings)",
    )
    convert.add_argument("--seed", type=int, default=0, help="seeds the shards and their shuffle (default: 0)")

    push = command(
        "push",
        _push,
        "upload a model directory, with its metrics and model card, to the Hugging Face Hub",
        "Upload a model directory written by `sketchkeras train` or save_pretrained to a Hub model repository, "
        "creating it if needed. The card is rebuilt from the directory's sketchkeras.json (its real metrics and "
        "training record) with loading snippets that name the repository.",
    )
    push.add_argument("model_dir", metavar="MODEL_DIR", help="model directory, e.g. RUN_DIR/model")
    push.add_argument("repo_id", metavar="REPO_ID", help="owner/name")
    push.add_argument("--private", action="store_true", help="make the repository private if it is created")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the one saved by `hf auth login`)")
    push.add_argument("--message", default="Upload sketchkeras SketchClassifier", help="commit message")

    render = command("render", _render, "draw the drawings of files as PNG images")
    render.add_argument("files", nargs="+", metavar="FILE", help=_FILES_HELP)
    render.add_argument("--out", required=True, type=_out_dir, metavar="DIR", help="folder for the PNG files")
    render.add_argument(
        "--limit",
        type=_positive(int),
        default=16,
        metavar="N",
        help="at most N drawings from each file (default: 16)",
    )

    serve = command(
        "serve",
        _serve,
        "serve a web page to draw on, with the model's top-5 guesses updating as you draw",
        "Serve a local web page with a canvas to draw on (mouse, pen or touch); the model's top-5 guesses update "
        "as you draw. Stop it with Ctrl+C. Needs FastAPI and uvicorn (pip install 'sketchkeras[serve]').",
    )
    serve.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="model directory or Hub id (owner/name) (default: the bundled QD-35 model)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this computer only)"
    )
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000)")

    export = command(
        "export",
        _export,
        "export a model for apps without Python: ONNX, LiteRT (TFLite), TensorFlow SavedModel, or a static web page",
        "Write a folder holding the model in FORMAT and model.json (its labels and the fixed input signature: "
        "strokes float32 (1, max_points, 3) and lengths int32 (1,); output: probabilities). FORMAT web writes a "
        "page that recognises drawings in the browser, with no server behind it. Keras exports litert only under "
        "KERAS_BACKEND=tensorflow and saved_model under jax or tensorflow; onnx and web under any backend.",
    )
    export.add_argument("model", metavar="MODEL", help="shipped model name (qd35), model directory or Hub id")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    export.add_argument("--out", required=True, type=_out_dir, metavar="DIR", help="output folder")
    return parser


def _train(args):
    import keras

    from sketchkeras import pipeline
    from sketchkeras.backbone import PRESETS

    if args.preset is not None and args.pretrained is not None:
        args.parser.error("--from and --preset exclude each other: a fine-tuned model keeps its architecture")
    if args.preset is not None and args.preset not in PRESETS:
        choices = ", ".join(sorted(PRESETS))
        args.parser.error(f"argument --preset: invalid choice: {args.preset!r} (choose from {choices})")
    options = dict(pipeline.RECIPES[args.recipe]) if args.recipe else {}
    if args.pretrained is not None:
        options = pipeline.fine_tuning_settings(options)
    given = dict(
        source=_source(args.data),
        classes=args.classes,
        max_per_class=args.max_per_class,
        preset=args.preset,
        pretrained=args.pretrained,
        rnn_units=args.rnn_units,
        max_points=args.max_points,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        cut_fraction=args.cut_fraction,
        drop_fraction=args.drop_fraction,
        time_budget=args.time_budget,
        verbose=0 if args.quiet else None,
    )
    options.update({key: value for key, value in given.items() if value is not None})
    if options.get("source") is None:
        args.parser.error("give the training data with --data (or a recipe that has its own, like qd35)")
    policy = keras.mixed_precision.global_policy()  # restored afterwards, for callers of main() in-process
    if args.precision:
        keras.mixed_precision.set_global_policy(args.precision)
    try:
        summary = pipeline.run_training(run_dir=args.out, resume=args.resume, **options)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    print(f"test: {_scores(summary['metrics'])}")
    print(f"run directory: {args.out} (metrics.json, plots); model: {summary['model_dir']}")


def _evaluate(args):
    import datasets
    import numpy as np

    from sketchkeras.classifier import SketchClassifier
    from sketchkeras.data import load_quickdraw
    from sketchkeras.evaluation import early_recognition, evaluate_classifier
    from sketchkeras.hub import load_results
    from sketchkeras.pipeline import run_splits

    model = SketchClassifier.from_pretrained(args.model)
    source = _source(args.data)
    if args.split:
        # The training record as run_training's settings: run_splits keeps those that shape the split.
        settings = {**(load_results(args.model)["training"] or {}), "source": source, "classes": model.labels}
        given = {"max_per_class": args.max_per_class, "seed": args.seed}
        settings.update({key: value for key, value in given.items() if value is not None})
        dataset = run_splits(settings)[args.split]
    else:
        dataset = load_quickdraw(source, classes=model.labels, max_per_class=args.max_per_class)
        if isinstance(dataset, datasets.DatasetDict):
            dataset = dataset["test"]
    if args.classes:
        missing = [name for name in args.classes if name not in model.labels]
        if missing:
            raise ValueError(
                f"the model has no label {', '.join(map(repr, missing))}; its labels are {', '.join(model.labels)}"
            )
        wanted = [model.labels.index(name) for name in args.classes]
        dataset = dataset.select(np.flatnonzero(np.isin(dataset["word"], wanted)))
    if dataset.num_rows == 0:
        raise ValueError(f"{' '.join(args.data)}: no drawings of the model's labels")
    metrics = evaluate_classifier(model, dataset)
    print(_scores(metrics))
    if args.early:
        metrics["early_recognition"] = early_recognition(model, dataset)
        print("points drawn  top-1")
        for fraction, top1 in metrics["early_recognition"].items():
            print(f"{fraction:>11.0%}  {top1:.3f}")
    if args.out:
        from sketchkeras.plots import plot_early_recognition, plot_evaluation

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({**metrics, "dataset": " ".join(args.data)}, indent=1))
        written = [path.name for path in plot_evaluation(model, dataset, metrics, out)]
        if args.early:
            written.append(plot_early_recognition(metrics["early_recognition"], out / "early_recognition.png").name)
        print(f"wrote metrics.json, {', '.join(written)} to {out}")


def _predict(args):
    import numpy as np

    from sketchkeras.classifier import SketchClassifier

    drawings = [drawing for path in args.files for drawing in _read_drawings(path)]
    model = SketchClassifier.from_pretrained(args.model)
    if args.top_k > len(model.labels):
        args.parser.error(f"argument --top-k: {args.top_k} is more than the model's {len(model.labels)} labels")
    probabilities = model.predict_strokes([strokes for _, _, strokes in drawings])
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, : args.top_k]
    for (source, _, _), row, order in zip(drawings, probabilities, best):
        predictions = [[model.labels[i], round(float(row[i]), 6)] for i in order]
        print(json.dumps({"source": source, "predictions": predictions}))


def _convert(args):
    from sketchkeras.convert import convert_quickdraw

    shards = {} if args.shard_mb is None else {"shard_size": args.shard_mb * 2**20}
    out = convert_quickdraw(args.source, args.out, classes=args.classes, workers=args.workers, seed=args.seed, **shards)
    print(
        f"wrote {out}: load it with sketchkeras.load_quickdraw({str(out)!r}); "
        f"push it with: hf upload OWNER/NAME {out} --repo-type dataset"
    )


def _push(args):
    from sketchkeras.classifier import SketchClassifier
    from sketchkeras.hub import load_results

    directory = Path(args.model_dir)
    if not directory.is_dir():  # not looked for on the Hub: push sends a folder
        raise FileNotFoundError(f"{directory}: no such directory")
    results = load_results(directory)
    model = SketchClassifier.from_pretrained(directory)
    commit = model.push_to_hub(
        args.repo_id,
        private=args.private or None,
        token=args.token,
        commit_message=args.message,
        metrics=results["metrics"],
        training=results["training"],
    )
    print(f"pushed {directory} to {commit.commit_url}")


def _render(args):
    from sketchkeras.plots import save_sketch

    names = [Path(path).name for path in args.files]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(
            f"several FILEs are named {', '.join(twice)}: their PNGs would overwrite each other; "
            "render them to separate --out folders"
        )
    out = Path(args.out)
    written = 0
    for path in args.files:
        for source, word, strokes in itertools.islice(_read_drawings(path), args.limit):
            name = re.sub(r"\W+", "-", Path(source).name).strip("-")
            save_sketch(strokes, out / f"{name}.png", title=word or Path(source).name)
            written += 1
    print(f"wrote {written} PNG files to {out}")


def _positive(kind):
    """An argparse `type` that reads `kind` (int or float) and refuses values below 1 (int) or not above 0 (float)."""

    def read(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < 1 if kind is int else not value > 0:  # `not >` also refuses nan
            raise argparse.ArgumentTypeError(f"{text} must be {'at least 1' if kind is int else 'above 0'}")
        return value

    return read


def _fraction(text):
    """An argparse `type` for a share from 0 to 1 (nan refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be from 0 to 1")
    return value


def _out_dir(text):
    """An argparse `type` for an output folder: refuses, before any work, one that could not be created or written."""
    path = Path(text)
    existing = next(folder for folder in (path, *path.absolute().parents) if folder.exists())
    if not existing.is_dir():
        what = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise argparse.ArgumentTypeError(f"{text} {what}, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {existing} is not writable")
    return text


def _port(text):
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (1-65535)")
    return port


def _serve(args):
    from sketchkeras.serve import serve

    serve(args.model, host=args.host, port=args.port)


def _export(args):
    from sketchkeras.export import export_model

    path = export_model(args.model, args.out, args.format)
    print(f"wrote {path}" + ("" if args.format == "web" else f" and {path.parent / 'model.json'}"))


def _source(values):
    """`--data`'s values as `load_quickdraw` takes them: one source alone (a Hub id or dataset folder), or a list."""
    return values[0] if values and len(values) == 1 else values


def _read_drawings(path):
    """Yields `(source, word or None, canonical strokes)` per drawing of a file; raises at the first bad one, and at
    the end of a file that holds no drawing."""
    empty = True
    for drawing in _drawings_in(path):
        empty = False
        yield drawing
    if empty:
        raise ValueError(f"{path}: no drawings in this file")


def _drawings_in(path):
    """`_read_drawings` for one file, by its type."""
    import numpy as np

    from sketchkeras.sources import file_kind, file_records
    from sketchkeras.strokes import DrawingError, canonical_strokes

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    name, kind = path.name, file_kind(path)
    if kind in ("ndjson", "npz"):
        for where, record, _ in file_records(path):
            if isinstance(record, DrawingError):
                raise record
            # `where` names the file alone; a sketch-rnn drawing's word is only its file's name: no title.
            yield str(path.with_name(where)), record["word"] if kind == "ndjson" else None, record["strokes"]
    elif name.endswith(".json"):
        try:
            drawings = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise DrawingError(f"{name}: malformed JSON ({error.msg} at line {error.lineno})") from None
        if not isinstance(drawings, list):
            raise DrawingError(f"{name}: expected a list of drawings, got {type(drawings).__name__}")
        for i, drawing in enumerate(drawings):
            yield f"{path}[{i}]", None, canonical_strokes(_json_drawing(drawing), source=f"{name}[{i}]")
    elif name.endswith(".npy"):
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise DrawingError(f"{name}: not a plain numeric .npy array ({error})") from None
        yield str(path), None, canonical_strokes(array, "stroke3", source=name)
    else:
        raise ValueError(f"{path}: unknown file type; expected .ndjson, .ndjson.gz, .npz, .json or .npy")


def _json_drawing(drawing):
    """Stroke-3 rows `[dx, dy, pen_lifted]` as an array; Google's `[[xs, ys], ...]` as they are."""
    import numpy as np

    if (
        isinstance(drawing, list)
        and drawing
        and all(isinstance(row, list) and not any(isinstance(v, list) for v in row) for row in drawing)
    ):
        try:
            return np.array(drawing, dtype=np.float64)
        except ValueError:  # ragged rows: canonical_strokes names the problem
            return np.array(drawing, dtype=object)
    return drawing


def _scores(metrics):
    scores = [
        f"{name} {metrics[key]:.4f}" if key == "map3" else f"{name} {metrics[key]:.2%}"
        for key, name in _SCORES.items()
        if key in metrics
    ]
    return f"{'  '.join(scores)}  ({metrics['test_drawings']:,} drawings)"


if __name__ == "__main__":
    sys.exit(main())
