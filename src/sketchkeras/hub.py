"""Sharing `SketchClassifier`s as directories and Hugging Face Hub repositories, with a model card.

A saved model uses Keras 3's unzipped saving layout plus two files:

* `config.json`, `metadata.json` and `model.weights.h5` are written by
  `keras.saving.save_model(model, directory, zipped=False)`, less the
  training state (optimizer variables, compile settings), which stays in the
  run's checkpoints. The model's
  config nests its backbone's architecture, its labels and its
  preprocessor's settings, so these three files are the whole model. Where sketchkeras is imported,
  `keras.saving.load_model("hf://owner/name")` loads it as well.
* `sketchkeras.json` holds the evaluation metrics and training settings the
  card was built from (`null` when none were given). Cards can be rebuilt
  from it, and tools can read results from it.
* `README.md` is the model card, rendered from the `model_card.md` template
  that ships with the package. Its `model-index` block holds the scores in
  the Hub's older form.
* `.eval_results/quickdraw.yaml`, only when metrics were given, holds the same
  scores in the Hub's current form (`huggingface_hub.EvalResultEntry`), which
  the model page reads.

Keras 3 has built-in Hub support (`model.save("hf://…")` and
`keras.saving.load_model("hf://…")`). This module uses Keras' own directory
saver and loader, and calls huggingface_hub only where Keras' hf:// path
falls short. That path writes Keras' generic README over the card, and its
download and upload accept no revision, cache folder, token, private flag,
commit message or pull request.

Loading never runs code from a repository. `config.json` must describe
sketchkeras' own `SketchClassifier`, nesting only sketchkeras'
`SketchBackbone` and `SketchPreprocessor` with plain settings, or the model
is refused with `UnsafeModelError` before Keras reads it. Models saved by
sketchkeras 0.1.0 (one flat config, the encoder's weights beside the head's)
still load. Keras then builds it
with `safe_mode=True` and no compile settings. Its variables must match the
weights file one for one, by name and shape, or it is refused with
`InvalidModelError`: a config that disagrees with its weights would load
with some weights left out or left random. Weights are HDF5 and the results
file is JSON, so nothing is unpickled.

Example:
>>> import tempfile
>>> from sketchkeras import SketchBackbone, SketchClassifier
>>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["circle", "square"])
>>> directory = Path(tempfile.mkdtemp())
>>> save_pretrained(model, directory)
>>> sorted(p.name for p in directory.iterdir() if p.is_file())
['README.md', 'config.json', 'metadata.json', 'model.weights.h5', 'sketchkeras.json']
>>> from_pretrained(directory).labels
['circle', 'square']
"""

import json
import re
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

import h5py
import huggingface_hub
import keras
import numpy as np
import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

from sketchkeras.data import categories

RESULTS_FILE = "sketchkeras.json"
EVAL_RESULTS_FILE = ".eval_results/quickdraw.yaml"
_CLASS = "sketchkeras>SketchClassifier"
# The objects a classifier's config may nest, by the key that holds each.
_PARTS = {"backbone": "sketchkeras>SketchBackbone", "preprocessor": "sketchkeras>SketchPreprocessor"}
# Where sketchkeras 0.1.0's flat layout kept the encoder's weights, and where the backbone keeps them now.
_FLAT_ENCODER, _NESTED_ENCODER = "layers/stroke_encoder", "layers/sketch_backbone/layers/stroke_encoder"
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")

# metrics key -> (model-index metric type, name in the card)
_SCORES = {
    "top1": ("accuracy", "Top-1 accuracy"),
    "top3": ("top_3_accuracy", "Top-3 accuracy"),
    "top5": ("top_5_accuracy", "Top-5 accuracy"),
    "map3": ("map_at_3", "MAP@3"),
    "balanced_top1": ("balanced_accuracy", "Balanced top-1 (the mean over classes)"),
}
_METRICS = (*_SCORES, "test_drawings", "per_class", "dataset", "confusion")
_OPTIONAL_METRICS = ("top5", "confusion", "balanced_top1")  # no balanced_top1 in 0.1.0's results
# training key -> name in the card
_TRAINING = {
    "backend": "Keras backend",
    "preset": "Architecture preset",
    "fine_tuned_from": "Fine-tuned from",
    "epochs": "Epochs",
    "optimizer": "Optimizer",
    "learning_rate": "Learning rate",
    "weight_decay": "Weight decay",
    "batch_size": "Batch size",
    "per_class": "Class-balanced epochs (drawings of each class per epoch)",
    "drop_fraction": "Points dropped inside strokes (augmentation)",
    "max_per_class": "Drawings of each class read, at most",
    "validation_size": "Validation split (of each class: a share, or a number of drawings)",
    "test_size": "Test split (of each class: a share, or a number of drawings)",
    "train_drawings": "Training drawings",
    "validation_drawings": "Validation drawings",
    "train_seconds": "Training time (seconds)",
    "seed": "Seed",
}
_OPTIONAL_TRAINING = (
    "preset",
    "fine_tuned_from",
    "learning_rate",
    "weight_decay",
    "batch_size",
    "per_class",
    "drop_fraction",
    "max_per_class",
    "validation_size",
    "test_size",
    "validation_drawings",
    "train_seconds",
    "seed",
)


class UnsafeModelError(ValueError):
    """A saved model whose `config.json` asks for more than sketchkeras' own `SketchClassifier`."""


class InvalidModelError(ValueError):
    """A saved model with a file that cannot be read, or whose `config.json` disagrees with its weights.

    Example:
    >>> import tempfile
    >>> directory = Path(tempfile.mkdtemp())
    >>> (directory / "config.json").write_text("[]")
    2
    >>> from_pretrained(directory)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sketchkeras.hub.InvalidModelError: .../config.json: holds an array, not the JSON object a saved model's config is
    """


# The models that ship in the package, by the names `from_pretrained`, `SketchClassifier.from_preset` and the command
# line take (before any folder of that name: write "./qd35" for one).
SHIPPED_MODELS = ("qd35", "quickdraw345")


def bundled_model_dir(name="qd35"):
    """Folder of a classifier shipped with the package (`SHIPPED_MODELS`), loadable with `from_pretrained`.

    `"qd35"`: `recipes/qd35.py` trained it under JAX on the bundled sample's
    training split. `"quickdraw345"`: `sketchkeras train quickdraw345`
    trained it on real drawings of all 345 categories. Each model card
    (`README.md` in that folder) gives its scores.

    Example:
    >>> from_pretrained(bundled_model_dir()).labels[:3]
    ['airplane', 'alarm clock', 'ant']
    >>> len(from_pretrained(bundled_model_dir("quickdraw345")).labels)
    345
    """
    if name not in SHIPPED_MODELS:
        raise ValueError(f"no shipped model {name!r}; the package ships {', '.join(SHIPPED_MODELS)}")
    return Path(str(resources.files("sketchkeras").joinpath(f"pretrained/{name}")))


def save_pretrained(model, directory, metrics=None, training=None):
    """Saves `model` to `directory` in Keras' layout, with its results and model card.

    Args:
        model: a `SketchClassifier`.
        directory: created if missing. Files already there are overwritten.
        metrics: evaluation results, or `None` if the model has not been
            evaluated. Keys: `top1`, `top3`, `map3` (fractions), `top5`
            (optional), `test_drawings`, `per_class` (label -> top-1
            accuracy) and `dataset` (what was evaluated on).
        training: how the model was trained, or `None` if unknown. Keys:
            `backend`, `epochs`, `optimizer`, `train_drawings`, and
            optionally `learning_rate`, `batch_size`, `train_seconds` and
            the split `run_training` made (`max_per_class`,
            `validation_size`, `test_size`, `seed`), which
            `sketchkeras evaluate --split` remakes.

    Raises:
        ValueError: `metrics` or `training` are malformed. Nothing is written then.

    Example:
    >>> import tempfile
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["circle", "square"])
    >>> directory = Path(tempfile.mkdtemp())
    >>> save_pretrained(model, directory)
    >>> json.loads((directory / "sketchkeras.json").read_text())
    {'metrics': None, 'training': None}
    """
    card = model_card(model, str(directory), metrics, training)
    _save(model, directory, card, metrics, training)


def from_pretrained(source, revision=None, cache_dir=None, token=None, local_files_only=False):
    """Loads a `SketchClassifier` from a directory or a Hub repository, running no code from it.

    Args:
        source: the name of a model shipped in the package (`SHIPPED_MODELS`:
            `"qd35"`), a directory written by `save_pretrained`, a Hub
            repository id `"owner/name"`, or `"hf://owner/name"`.
        revision, cache_dir, token, local_files_only: passed on to
            `huggingface_hub.snapshot_download` for a Hub repository, which
            honours `HF_HUB_OFFLINE` and `HF_HUB_CACHE`. Not used for a
            directory.

    Raises:
        UnsafeModelError: `config.json` names any class other than
            sketchkeras' `SketchClassifier`, or nests objects in its settings.
        InvalidModelError: `config.json` or `model.weights.h5` cannot be
            read, or they disagree: a variable of the model has no stored
            weight of its shape, or a stored weight belongs to no variable.
            The message names the file and the variables.
        FileNotFoundError: `config.json` or `model.weights.h5` is missing.
        huggingface_hub.errors.LocalEntryNotFoundError: the repository is not
            in the cache and could not be downloaded. The message names the
            repository.

    Example:
    >>> import tempfile
    >>> from sketchkeras import SketchBackbone, SketchClassifier, SketchPreprocessor
    >>> directory = tempfile.mkdtemp()
    >>> backbone = SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8])
    >>> model = SketchClassifier(backbone, ["cat", "dog"], SketchPreprocessor(64))
    >>> model.save_pretrained(directory)
    >>> model = from_pretrained(directory)
    >>> model.labels, model.max_points
    (['cat', 'dog'], 64)
    """
    directory = _fetch(source, revision, cache_dir, token, local_files_only)
    config = _check_config(directory, source)
    weights = directory / "model.weights.h5"
    with tempfile.TemporaryDirectory() as scratch:
        readable = weights
        if not isinstance(config.get("config"), dict) or "backbone" not in config["config"]:  # 0.1.0's flat layout
            _stored_weights(weights)  # a missing or unreadable file is named before it is copied
            try:
                readable = _nested_weights(weights, Path(scratch) / "nested.weights.h5")
            except (OSError, RuntimeError, KeyError, ValueError) as error:
                raise InvalidModelError(f"{weights}: not a readable Keras weights file (HDF5): {error}") from error
        return _load(directory, config, weights, readable)


def load_results(source, revision=None, cache_dir=None, token=None, local_files_only=False):
    """The results saved with a model: `{"metrics": ..., "training": ...}`, as `save_pretrained` took them.

    Either is `None` when the model was saved without it. `source` and the
    other arguments are `from_pretrained`'s. The training record of a model
    `run_training` made names its split: `sketchkeras evaluate --split`
    remakes it from there.

    Raises:
        FileNotFoundError: there is no `sketchkeras.json`: not a saved sketchkeras model.
        InvalidModelError: `sketchkeras.json` is not the results file `save_pretrained` writes.

    Example:
    >>> training = load_results("qd35")["training"]
    >>> training["max_per_class"], training["validation_size"], training["test_size"], training["seed"]
    (400, 0.1, 0.1, 0)
    """
    path = _fetch(source, revision, cache_dir, token, local_files_only) / RESULTS_FILE
    results = _json_object(path, source, "a saved model's results")
    if sorted(results) != ["metrics", "training"]:
        raise InvalidModelError(f"{path}: not a results file (a JSON object of 'metrics' and 'training')")
    for name, known, optional in (
        ("metrics", _METRICS, _OPTIONAL_METRICS),
        ("training", _TRAINING, _OPTIONAL_TRAINING),
    ):
        if results[name] is None:
            continue
        if not isinstance(results[name], dict):
            raise InvalidModelError(f"{path}: {name} must be a JSON object or null")
        try:
            _check_keys(name, results[name], known, optional)
        except ValueError as error:
            raise InvalidModelError(f"{path}: {error}") from error
    return results


def _load(directory, config, weights, readable):
    """The model `config` describes, with the weights of `weights`, read from `readable` (itself, or its copy)."""
    # Optimizer state, which models saved by earlier sketchkeras carry, is training state: not checked, not loaded.
    stored = {name: shape for name, shape in _stored_weights(readable).items() if not name.startswith("optimizer/")}
    # What keras.saving.load_model(directory, compile=False) does, with the
    # variables checked against the file in between: Keras itself skips a
    # stored weight no variable asks for, and leaves a variable it finds no
    # weight for as initialised, with at most a warning. Not compiled: no
    # optimizer, loss or jit setting is taken from the repository.
    try:
        model = keras.saving.deserialize_keras_object({**config, "compile_config": None}, safe_mode=True)
    except (TypeError, ValueError, KeyError) as error:
        raise InvalidModelError(f"{directory / 'config.json'}: not a valid SketchClassifier config: {error}") from error
    with tempfile.TemporaryDirectory() as scratch:
        model.save_weights(Path(scratch) / "expected.weights.h5")
        expected = _stored_weights(Path(scratch) / "expected.weights.h5")
    mismatch = _mismatch(expected, stored)
    if mismatch:
        raise InvalidModelError(
            f"{weights}: the weights do not fit the model config.json describes, so it would load with weights "
            f"left out or left random. {mismatch}. Refusing to load it."
        )
    try:
        model.load_weights(readable)
    except (OSError, RuntimeError, KeyError, ValueError) as error:  # damaged data behind an intact header
        raise InvalidModelError(f"{weights}: not a readable Keras weights file (HDF5): {error}") from error
    return model


def _nested_weights(flat, path):
    """A copy of a 0.1.0 weights file with the encoder's weights where the backbone keeps them; returns `path`."""
    with h5py.File(flat, "r") as source, h5py.File(path, "w") as target:
        for name, value in source.attrs.items():
            target.attrs[name] = value
        for name in source:
            if name != "layers":
                source.copy(name, target)
        layers = target.create_group("layers")
        for name in source["layers"]:
            if f"layers/{name}" != _FLAT_ENCODER:
                source.copy(f"layers/{name}", layers)
        if _FLAT_ENCODER in source:
            target.create_group(_NESTED_ENCODER.rsplit("/", 1)[0])
            source.copy(_FLAT_ENCODER, target, name=_NESTED_ENCODER)
            target.create_group(_NESTED_ENCODER.split("/layers/")[0] + "/vars")
    return path


def push_to_hub(
    model,
    repo_id,
    private=None,
    token=None,
    commit_message="Upload sketchkeras SketchClassifier",
    create_pr=False,
    metrics=None,
    training=None,
):
    """Uploads `model`, its results and its model card to the Hub repository `repo_id`.

    The repository is created if it does not exist. `private` applies only
    when it is created. The files are those `save_pretrained` writes. They
    are written to a temporary folder, so a failed upload changes nothing
    locally.

    Args:
        model: a `SketchClassifier`.
        repo_id: `"owner/name"`.
        private, token: as for `huggingface_hub.HfApi.create_repo`.
        commit_message: the commit's summary.
        create_pr: open a pull request instead of committing to `main`.
        metrics, training: as for `save_pretrained`.

    Returns:
        `huggingface_hub.CommitInfo`. Its `pr_url` is set when `create_pr`.

    Raises:
        ValueError: a malformed `repo_id`, `metrics` or `training`, before
            any request is made.
        huggingface_hub.errors.HfHubHTTPError: the Hub refused the upload.
            The message names `repo_id`.

    Example (needs the Hub and a write token):
    >>> model.push_to_hub("me/sketch-qd35", metrics=metrics, training=training)  # doctest: +SKIP
    """
    if not _REPO_ID.match(repo_id):
        raise ValueError(f"repo_id must be 'owner/name', got {repo_id!r}")
    card = model_card(model, f"hf://{repo_id}", metrics, training)  # checks the results before any request
    # Not model.save("hf://…"): Keras would upload its own generic README, and it
    # takes no private flag, token, commit message or pull request.
    api = huggingface_hub.HfApi(token=token, library_name="sketchkeras")
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as directory:
            _save(model, directory, card, metrics, training)
            return api.upload_folder(
                repo_id=repo_id, folder_path=directory, commit_message=commit_message, create_pr=create_pr
            )
    except HfHubHTTPError as error:
        error.append_to_message(f"\n\nsketchkeras: pushing the model to {repo_id} failed. Nothing local was changed.")
        raise


def model_card(model, source, metrics=None, training=None):
    """The model card (`huggingface_hub.ModelCard`) for `model`, rendered from `model_card.md`.

    Labels, preprocessing and architecture come from the model's config.
    Metrics and training settings are the dicts `save_pretrained` takes. If
    they are missing, the card says the model has not been evaluated, or
    that no training record was saved. It never makes up numbers.

    Args:
        source: what the card's how-to-use snippets load, `"hf://owner/name"`
            or a directory.

    Example:
    >>> from sketchkeras import SketchBackbone, SketchClassifier
    >>> model = SketchClassifier(SketchBackbone(conv_layers=[(8, 3, 2)], rnn_units=[8]), ["cat", "dog"])
    >>> card = model_card(model, "hf://me/cats-and-dogs")
    >>> card.data.library_name, card.data.pipeline_tag, card.data.eval_results
    ('keras', 'image-classification', None)
    >>> "has not been evaluated" in card.text
    True
    """
    source, metrics, training = str(source), _plain(metrics), _plain(training)
    _check_results(model, metrics, training)
    config = model.backbone.get_config()
    name = source.removeprefix("hf://") if source.startswith("hf://") else Path(source).name
    card_data = ModelCardData(
        library_name="keras",
        license="apache-2.0",
        tags=["sketchkeras", "quickdraw", "keras-3", "sketches", "strokes"],
        datasets=["google/quickdraw"],
        # The Hub has no task for pen-stroke input. The task is telling what
        # a drawing depicts, and the Hub files Quick, Draw! itself
        # (google/quickdraw) under image classification, which is also where
        # people look for sketch recognisers.
        pipeline_tag="image-classification",
        model_name=name if metrics is not None else None,  # names the model-index, which needs metrics
        eval_results=_eval_results(metrics),
    )
    template = resources.files("sketchkeras").joinpath("model_card.md").read_text(encoding="utf-8")
    text = Template(template).substitute(
        card_data=card_data.to_yaml(),
        title=name,
        label_count=len(model.labels),
        status=_status(metrics, training),
        source=json.dumps(source),
        # Keras reads directories and hf:// ids, not sketchkeras' shipped names.
        keras_source=f"sketchkeras.bundled_model_dir({json.dumps(source)})"
        if source in SHIPPED_MODELS
        else json.dumps(source),
        label_scope=_label_scope(model.labels),
        labels=", ".join(f"`{label}`" for label in model.labels),
        training_data=_training_data(metrics, training),
        max_points=model.max_points,
        architecture=_architecture(model, config),
        training=_training(training),
        evaluation=_evaluation(model, metrics),
    )
    return ModelCard(text)


def _save(model, directory, card, metrics, training):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Written to a fresh folder, then moved in file by file: Keras' directory
    # saver fails on a folder it saved to before (its empty assets/ is in the
    # way), and a failed save then leaves the files already there as they were.
    with tempfile.TemporaryDirectory(dir=directory, prefix=".saving-") as scratch:
        scratch = Path(scratch)
        keras.saving.save_model(model, str(scratch), zipped=False)
        # A shared model is its weights and its config; training state stays with the run that made it
        # (its checkpoints): no optimizer variables (two thirds of an AdamW-trained file) and no compile settings.
        keras.saving.save_weights(
            model, scratch / "model.weights.h5", objects_to_skip=[getattr(model, "optimizer", None)]
        )
        config = json.loads((scratch / "config.json").read_text(encoding="utf-8"))
        (scratch / "config.json").write_text(json.dumps({**config, "compile_config": {}}), encoding="utf-8")
        results = {"metrics": _plain(metrics), "training": _plain(training)}
        (scratch / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        card.save(scratch / "README.md")
        if metrics is not None:
            (scratch / EVAL_RESULTS_FILE).parent.mkdir()
            entries = yaml.safe_dump(_eval_result_entries(metrics), sort_keys=False)
            (scratch / EVAL_RESULTS_FILE).write_text(entries, encoding="utf-8")
        for path in sorted(p for p in scratch.rglob("*") if p.is_file()):
            target = directory / path.relative_to(scratch)
            target.parent.mkdir(exist_ok=True)
            path.replace(target)
    if metrics is None:
        (directory / EVAL_RESULTS_FILE).unlink(missing_ok=True)  # left by an earlier save: scores this model lacks


def _eval_result_entries(metrics):
    """The scores in `metrics` as the list a `.eval_results/*.yaml` file holds, one entry per metric.

    The format is huggingface_hub's `eval_result_entries_to_yaml` (huggingface_hub >= 1.4): the benchmark
    dataset and a task within it, the value, and notes on how it was measured.
    """
    metrics = _plain(metrics)
    notes = f"{metrics['test_drawings']} held-out drawings of {metrics['dataset']}"
    return [
        {"dataset": {"id": "google/quickdraw", "task_id": metric_type}, "value": metrics[key], "notes": notes}
        for key, (metric_type, _) in _SCORES.items()
        if key in metrics
    ]


def _fetch(source, revision, cache_dir, token, local_files_only):
    """The local directory holding `source`, downloaded into the Hub cache when needed."""
    if source in SHIPPED_MODELS:
        return bundled_model_dir(source)
    if Path(source).is_dir():
        return Path(source)
    repo_id = str(source).removeprefix("hf://")
    if not _REPO_ID.match(repo_id):
        raise FileNotFoundError(
            f"{source}: no such directory, not a shipped model ({', '.join(SHIPPED_MODELS)}), and not a Hub "
            "repository id ('owner/name')"
        )
    # Not keras.saving.load_model("hf://…"): it downloads with no revision,
    # cache_dir, token or local_files_only. The folder goes to Keras' loader.
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            library_name="sketchkeras",
        )
    except LocalEntryNotFoundError as error:
        raise LocalEntryNotFoundError(
            f"{repo_id} (revision {revision or 'main'}) is not in the Hugging Face cache and could not be "
            f"downloaded: {error}"
        ) from error
    return Path(folder)


def _json_object(path, source, what):
    """The JSON object in the file `path` of a saved model, which holds `what`; an error naming the file if not one."""
    if not path.is_file():
        raise FileNotFoundError(f"{source}: no {path.name}, so this is not a saved sketchkeras model")
    try:
        value = json.loads(path.read_bytes())
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidModelError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise InvalidModelError(f"{path}: holds {kind}, not the JSON object {what} is")
    return value


def _check_config(directory, source):
    """The parsed `config.json` of `directory`, refused unless it describes sketchkeras' own classifier."""
    config = _json_object(directory / "config.json", source, "a saved model's config")
    named = config.get("registered_name") or f"{config.get('module')}.{config.get('class_name')}"
    if named != _CLASS:
        raise UnsafeModelError(
            f"{source}: config.json describes {named}, not sketchkeras' SketchClassifier. "
            "sketchkeras loads only its own models and runs no code from a repository."
        )
    settings = config.get("config")
    if isinstance(settings, dict) and "backbone" in settings:
        for key, part in _PARTS.items():
            value = settings.get(key)
            named = _nested_object(value) if isinstance(value, dict) else None
            if not isinstance(value, dict) or (value.get("registered_name") or named) != part:
                raise UnsafeModelError(
                    f"{source}: config.json's {key!r} describes {named or 'no object'}, not sketchkeras' "
                    f"{part.split('>')[1]}. sketchkeras loads only its own models and runs no code from a repository."
                )
            if _nested_object(value.get("config")):
                raise UnsafeModelError(
                    f"{source}: config.json asks for {_nested_object(value.get('config'))} inside the {key}'s "
                    "settings, which hold only plain values. Refusing to load it."
                )
        settings = {key: value for key, value in settings.items() if key not in _PARTS}
    nested = _nested_object(settings)
    if nested:
        raise UnsafeModelError(
            f"{source}: config.json asks for {nested} inside the SketchClassifier's settings, which hold only "
            "plain values. Refusing to load it."
        )
    return config


def _stored_weights(path):
    """`{name: shape}` of every weight in the Keras weights file `path` (read from its header, not its data)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file, so the model has no weights to load")
    shapes = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            shapes[name] = item.shape

    try:
        with h5py.File(path, "r") as file:
            file.visititems(visit)
    except (OSError, RuntimeError, KeyError, ValueError) as error:  # h5py's errors for damaged files
        raise InvalidModelError(f"{path}: not a readable Keras weights file (HDF5): {error}") from error
    return shapes


def _mismatch(expected, stored):
    """What differs between the model's variables and the stored weights, `{name: shape}` each; "" when nothing."""

    def owners(names):  # ["layers/dense/vars/0", "layers/dense/vars/1"] -> "layers/dense (2 weights)"
        listed = sorted({name.rsplit("/vars/", 1)[0] for name in names})
        counts = {owner: sum(name.rsplit("/vars/", 1)[0] == owner for name in names) for owner in listed}
        text = ", ".join(f"{owner} ({counts[owner]} weights)" for owner in listed[:6])
        return text + (f" and {len(listed) - 6} more" if len(listed) > 6 else "")

    missing = sorted(set(expected) - set(stored))
    unused = sorted(set(stored) - set(expected))
    reshaped = sorted(name for name in set(expected) & set(stored) if expected[name] != stored[name])
    parts = []
    if missing:
        parts.append(f"model variables with no stored weight: {owners(missing)}")
    if unused:
        parts.append(f"stored weights no model variable uses: {owners(unused)}")
    if reshaped:
        shapes = ", ".join(f"{name} stored {stored[name]}, model {expected[name]}" for name in reshaped[:6])
        parts.append(f"shapes that differ: {shapes}" + (f" and {len(reshaped) - 6} more" if len(reshaped) > 6 else ""))
    return "; ".join(parts)


def _nested_object(value):
    """The first serialized Keras object (a dict naming a class) within `value`, as `module.Class`."""
    if isinstance(value, dict):
        if "class_name" in value:
            return f"{value.get('module')}.{value['class_name']}"
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _nested_object(item)
            if found:
                return found
    return None


def _plain(value):
    """`value` with NumPy scalars made Python numbers, ready for JSON and YAML."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def _check_results(model, metrics, training):
    if metrics is not None:
        _check_keys("metrics", metrics, _METRICS, _OPTIONAL_METRICS)
        fractions = {key: metrics[key] for key in _SCORES if key in metrics}
        fractions.update({f"per_class[{label!r}]": value for label, value in metrics["per_class"].items()})
        for key, value in fractions.items():
            if not 0 <= value <= 1:
                raise ValueError(f"metrics {key} must be a fraction between 0 and 1, got {value!r}")
        unknown = sorted(set(metrics["per_class"]) - set(model.labels))
        if unknown:
            raise ValueError(f"metrics per_class names labels the model does not have: {unknown}")
    if training is not None:
        _check_keys("training", training, _TRAINING, _OPTIONAL_TRAINING)


def _check_keys(name, values, known, optional):
    missing = [key for key in known if key not in values and key not in optional]
    unknown = [key for key in values if key not in known]
    if missing or unknown:
        raise ValueError(f"{name}: missing {missing}, unknown {unknown}; expected keys {list(known)}")


def _eval_results(metrics):
    if metrics is None:
        return None
    return [
        EvalResult(
            task_type="image-classification",
            task_name="Sketch classification",
            dataset_type="google/quickdraw",
            dataset_name=metrics["dataset"],
            dataset_split="test",
            metric_type=metric_type,
            metric_name=metric_name,
            metric_value=metrics[key],
        )
        for key, (metric_type, metric_name) in _SCORES.items()
        if key in metrics
    ]


def _status(metrics, training):
    lines = []
    if metrics is None:
        lines.append("**Not evaluated.** No evaluation results were saved with this model, so this card reports none.")
    else:
        lines.append(
            f"On {metrics['test_drawings']:,} held-out drawings of {metrics['dataset']} its first guess is right "
            f"{metrics['top1']:.2%} of the time and one of its first three {metrics['top3']:.2%} of the time "
            f"(MAP@3 {metrics['map3']:.4f})."
        )
    if training is None:
        lines.append(
            "**No training record.** No training run was saved with this model. Unless its publisher says "
            "otherwise, treat its weights as untrained."
        )
    return "\n\n".join(lines)


def _label_scope(labels):
    google = set(categories())
    if set(labels) == google:
        return "All 345 Quick, Draw! categories"
    if set(labels) <= google:
        return f"{len(labels)} of Google's 345 Quick, Draw! categories"
    return f"{len(labels)} labels"


def _training_data(metrics, training):
    if training is None:
        text = "No training run was saved with this model, so this card cannot say which drawings it learned from."
    else:
        text = f"The model was trained on {training['train_drawings']:,} drawings from Google's Quick, Draw! dataset."
    if metrics is not None:
        text += f" It was evaluated on {metrics['test_drawings']:,} other drawings, from {metrics['dataset']}."
    return text


def _architecture(model, config):
    convs = "; ".join(
        f"{filters} filters, kernel {size}, stride {stride}" for filters, size, stride in config["conv_layers"]
    )
    norm = {
        "batch": "batch normalisation over the valid steps",
        "layer": "layer normalisation",
        None: "no normalisation",
    }
    direction = "bidirectional " if config["bidirectional"] else ""
    rnns = ", ".join(f"{direction}{config['rnn'].upper()} {units}" for units in config["rnn_units"])
    lines = [
        "- Input: `strokes`, right-padded `(batch, steps, 3)` float32 drawings, and `lengths`, the number of "
        "points in each.",
        f"- 1-D convolutions: {convs or 'none'}. Each is followed by {norm[config['normalization']]} and ReLU.",
        f"- Recurrent layers: {rnns}. The output at each drawing's last point is kept.",
    ]
    if config["dropout"]:
        lines.append(f"- Dropout {config['dropout']} between recurrent layers.")
    lines.append(f"- Output: a softmax over the {len(model.labels)} labels.")
    if config["masked"]:
        lines.append("- Padding never changes a result: a drawing is classified as if it were alone in its batch.")
    else:
        lines.append("- Unmasked: padding after a drawing changes its result, as in the baselines it reproduces.")
    lines.append(f"- Parameters: {model.count_params():,}.")
    return "\n".join(lines)


def _training(training):
    if training is None:
        return "No training run was saved with this model."
    rows = [f"| {label} | {_number(training[key])} |" for key, label in _TRAINING.items() if key in training]
    return "\n".join(["| Setting | Value |", "|---|---|", *rows])


def _evaluation(model, metrics):
    if metrics is None:
        return "This model has not been evaluated: no metrics were saved with it."
    scores = [
        f"| {name} | {metrics[key]:.4f} |" if key == "map3" else f"| {name} | {metrics[key]:.2%} |"
        for key, (_, name) in _SCORES.items()
        if key in metrics
    ]
    per_class = [
        f"| {label} | {metrics['per_class'][label]:.2%} |" for label in model.labels if label in metrics["per_class"]
    ]
    return "\n".join(
        [
            f"On {metrics['test_drawings']:,} held-out drawings of {metrics['dataset']}:",
            "",
            "| Metric | Value |",
            "|---|---|",
            *scores,
            "",
            "MAP@3 scores 1, 1/2 or 1/3 when the right label is the first, second or third guess, and 0 otherwise.",
            "",
            "Top-1 accuracy on each class's own test drawings:",
            "",
            "| Label | Top-1 accuracy |",
            "|---|---|",
            *per_class,
        ]
    )


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
