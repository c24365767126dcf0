"""Training a `SketchClassifier`: optimizer, schedule, early stopping, checkpoints, resume.

`train()` is what the recipes and `sketchkeras train` call. A run directory
holds `checkpoint-<epoch>.keras` (model and optimizer after the last
finished epoch), `best-<epoch>.weights.h5` and `state.json` (epochs done,
history, early-stopping state, and which files are current). Each is
written atomically (temporary file, flushed to disk, then rename), the
state last. A new checkpoint is verified (its zip members' CRCs) before
anything is removed, and the previous epoch's files are kept as a fallback
that `state.json` also describes: whenever the run dies, `state.json`
names files that exist and agree with it, and when the newest checkpoint
is damaged all the same (a disk that lost unflushed data), `resume=True`
says so and resumes from the one before. The state also holds the
random state (dropout's seed states, and PyTorch's global generator):
with the batches a fixed function of `(seed, epoch)`, a resumed run
repeats the uninterrupted run's losses
exactly where the backend is deterministic. A run killed at any moment,
even with SIGKILL mid-epoch, ends with the same number of epochs and loses
at most the unfinished epoch.

Before each validation the BatchNormalization moving statistics are
recomputed from training batches (a plain average over up to
`BATCH_STATISTICS_BATCHES` of them): with momentum 0.99 they would barely
move from their initial values in a short run, and validation in
inference mode would then score far below what the weights can do.

Example:
>>> import tempfile, sketchkeras
>>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "owl"], max_per_class=40)
>>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "owl"], rnn_units=[16])
>>> batches = sketchkeras.StrokeBatches(ds, batch_size=32)
>>> model, history = train(model, batches, batches, tempfile.mkdtemp(), epochs=2, verbose=0)
>>> len(history["loss"])
2
"""

import json
import os
import time
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

STATE = "state.json"
# What `train(monitor=...)` may watch, and when a new value beats the best so far.
_BETTER = {"val_loss": lambda new, best: new < best, "val_accuracy": lambda new, best: new > best}
BATCH_STATISTICS_BATCHES = 64
# The one default of each AdamW setting, for `train`, `compile_for_training`, `run_training` and the recipes.
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.05
# What `compile_for_training` sets up, as a model's training record names it.
OPTIMIZER = "AdamW (clipnorm 1.0, warmup + cosine decay)"


def compile_for_training(
    model, steps, learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY, clipnorm=1.0, warmup_fraction=0.05
):
    """Compiles with AdamW, gradient clipping and a warmup + cosine schedule.

    Keras' default `jit_compile="auto"` is kept: XLA under JAX, none under
    PyTorch (no torch.compile) or under TensorFlow on a CPU, where XLA's
    dropout makes this model train 3.7x slower (437 vs 1,610 sketches/s).

    Example:
    >>> import sketchkeras
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["a", "b"])
    >>> compile_for_training(model, steps=100)
    >>> type(model.optimizer).__name__
    'AdamW'
    """
    warmup = max(1, int(steps * warmup_fraction))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10,
        decay_steps=max(1, steps - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay, clipnorm=clipnorm),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def train(
    model,
    train_batches,
    validation_batches,
    run_dir,
    epochs=30,
    learning_rate=LEARNING_RATE,
    weight_decay=WEIGHT_DECAY,
    clipnorm=1.0,
    patience=8,
    monitor="val_loss",
    time_budget=None,
    resume=False,
    verbose="auto",
):
    """Trains `model` with a checkpoint per epoch; returns `(model, history)`.

    Args:
        model: a `SketchClassifier`, compiled here with
            `compile_for_training` unless already compiled (ignored when
            resuming: the checkpoint's model and optimizer are used).
        train_batches, validation_batches: `StrokeBatches`.
        run_dir: where `checkpoint.keras` and `state.json` go.
        epochs: epochs in all (including those done before a resume).
        learning_rate, weight_decay, clipnorm: AdamW settings; the learning
            rate warms up over the first 5% of steps, then decays (cosine).
        patience: early stopping after this many epochs without
            improvement of `monitor`; the best weights are restored at the end.
        monitor: what "best" means: `"val_loss"` (lowest) or
            `"val_accuracy"` (highest). Where each class has a few dozen
            drawings, validation loss rises (confident mistakes) for many
            epochs while accuracy still climbs: monitor accuracy there.
        time_budget: stop after the epoch during which this many seconds of
            training (summed over resumes) have passed.
        resume: continue from `run_dir`'s checkpoint when there is one. The
            learning-rate schedule is the checkpoint's: it still spans the
            epochs the run was started with.

    Returns:
        The trained model with its best weights (the checkpoint's model
        when resuming) and the history over all epochs: `{"loss": [...],
        "accuracy": [...], "val_loss": [...], "seconds": [...], ...}`.

    Example: see the module docstring.
    """
    if monitor not in _BETTER:
        raise ValueError(f"monitor must be one of {sorted(_BETTER)}, not {monitor!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for partial in run_dir.glob(".*.partial*"):  # left by a run killed while writing
        partial.unlink()
    state = {
        "epochs_done": 0,
        "history": {},
        "monitor": monitor,
        "best_score": None,
        "best_epoch": None,
        "checkpoint": None,
        "best": None,
    }
    if resume and (run_dir / STATE).exists():
        model, state = _load_checkpoint(run_dir)
    elif not model.compiled:  # a model the caller compiled keeps its optimizer
        compile_for_training(model, epochs * len(train_batches), learning_rate, weight_decay, clipnorm)
    train_batches.arrange(state["epochs_done"])
    checkpoint = _Checkpoint(run_dir, state, patience, time_budget, train_batches, validation_batches)
    if state["epochs_done"] < epochs and not checkpoint.should_stop():
        model.fit(
            train_batches,
            epochs=epochs,
            initial_epoch=state["epochs_done"],
            callbacks=[checkpoint],
            shuffle=False,  # the batches shuffle themselves, by (seed, epoch); Keras would draw from NumPy's global RNG
            verbose=verbose,
        )
    if state["best"]:
        model.load_weights(run_dir / state["best"])
    return model, state["history"]


def _load_checkpoint(run_dir):
    """The model and state of `run_dir`'s newest readable checkpoint, falling back to the previous one."""
    path = run_dir / STATE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        message = f"{path}: cannot read the run's state ({error}); delete the run folder to start afresh"
        raise ValueError(message) from None
    errors = []
    for candidate in (state, state.get("fallback")):
        if not candidate or not candidate.get("checkpoint"):
            continue
        try:
            model = keras.saving.load_model(run_dir / candidate["checkpoint"])
        except Exception as error:  # a damaged archive fails in many ways (zip, h5, json)
            errors.append(f"{run_dir / candidate['checkpoint']}: {type(error).__name__}: {error}")
            continue
        if errors:
            warnings.warn(
                f"{errors[0]}; the checkpoint is damaged: resuming from {candidate['checkpoint']} "
                f"(epoch {candidate['epochs_done']}) instead",
                stacklevel=3,
            )
        return model, {**candidate, "fallback": None}
    raise ValueError("cannot resume, no readable checkpoint: " + "; ".join(errors))


def _random_state(model):
    """What decides the run's remaining random draws, as JSON: dropout's seed states and PyTorch's global generator.

    Keras' unseeded dropout under PyTorch draws from torch's global generator
    (its fast path), not from a seed variable.
    """
    state = {"seeds": [keras.ops.convert_to_numpy(v).tolist() for v in _seed_variables(model)]}
    if keras.backend.backend() == "torch":
        import torch

        state["torch_generator"] = torch.get_rng_state().numpy().tolist()
    return state


def _restore_random_state(model, state):
    for variable, value in zip(_seed_variables(model), state.get("seeds", []), strict=False):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    if keras.backend.backend() == "torch" and "torch_generator" in state:
        import torch

        torch.set_rng_state(torch.tensor(state["torch_generator"], dtype=torch.uint8))


def _seed_variables(model):
    """The model's random-seed states (dropout's): variables that are not weights, in a fixed order."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def recompute_batch_statistics(model, batches, max_batches=BATCH_STATISTICS_BATCHES):
    """Sets every BatchNormalization's moving statistics to their average over the first `max_batches` batches.

    The forward passes run in training mode (so the layers see batch
    statistics, masked as in training), compiled once per batch shape;
    dropout's seed states are put back afterwards, so training continues
    exactly as it would have.

    Example:
    >>> import sketchkeras
    >>> ds = sketchkeras.load_quickdraw(sketchkeras.bundled_sample_dir(), classes=["cat", "dog"], max_per_class=8)
    >>> model = sketchkeras.SketchClassifier.from_preset("default", labels=["cat", "dog"], rnn_units=[8])
    >>> recompute_batch_statistics(model, sketchkeras.StrokeBatches(ds, batch_size=8, shuffle=False))
    >>> norm = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)][0]
    >>> bool(np.allclose(keras.ops.convert_to_numpy(norm.moving_mean), 0.0))
    False
    """
    _TrainingModeCall(model).recompute_batch_statistics(batches, max_batches)


class _TrainingModeCall(keras.Model):
    """`model` called in training mode through `predict_on_batch`: compiled once per input shape, then reused.

    An eager call of a model under JAX compiles its LSTM scans anew at every
    call and keeps each program (about 40 memory maps and 2 MB a call): the
    64 eager calls an epoch of `recompute_batch_statistics` took a long JAX
    run past the kernel's 65,530 memory maps, and it crashed (`train()`
    keeps one `_TrainingModeCall` for the whole run).
    """

    def __init__(self, model):
        super().__init__(name="training_mode_call")  # TensorFlow refuses scope names that start with "_"
        self.inner = model

    def call(self, inputs):
        return self.inner(inputs, training=True)

    def recompute_batch_statistics(self, batches, max_batches=BATCH_STATISTICS_BATCHES):
        """`recompute_batch_statistics` of the model inside."""
        norms = [layer for layer in self.inner._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
        count = min(len(batches), max_batches)
        if not norms or not count:
            return
        seeds = [keras.ops.convert_to_numpy(v) for v in _seed_variables(self.inner)]
        momenta = [norm.momentum for norm in norms]
        totals = [[0.0, 0.0] for _ in norms]
        try:
            for norm in norms:
                norm.momentum = 0.0  # each pass leaves its own batch's statistics in the moving ones (read at tracing)
            for i in range(count):
                self.predict_on_batch(batches[i][0])
                for total, norm in zip(totals, norms):
                    total[0] += keras.ops.convert_to_numpy(norm.moving_mean)
                    total[1] += keras.ops.convert_to_numpy(norm.moving_variance)
            for (mean, variance), norm in zip(totals, norms):
                norm.moving_mean.assign(mean / count)
                norm.moving_variance.assign(variance / count)
        finally:
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum
            for variable, value in zip(_seed_variables(self.inner), seeds):
                variable.assign(value)


class _Checkpoint(keras.callbacks.Callback):
    """Per-epoch validation, atomic checkpoint, best weights, early stopping, time budget."""

    def __init__(self, run_dir, state, patience, time_budget, train_batches, validation_batches):
        super().__init__()
        self.run_dir, self.state, self.patience, self.time_budget = run_dir, state, patience, time_budget
        self.train_batches, self.validation_batches = train_batches, validation_batches
        self.training_mode_call = None  # made for the model `fit` sets, then kept: compiled once per shape

    def should_stop(self):
        best = self.state["best_epoch"]
        out_of_patience = best is not None and self.state["epochs_done"] - best > self.patience
        spent = sum(self.state["history"].get("seconds", []))
        return out_of_patience or (self.time_budget is not None and spent >= self.time_budget)

    def on_epoch_begin(self, epoch, logs=None):
        if self.state.get("seeds") is not None:
            # The random state the last checkpoint was written with, put back at every epoch's start, after whatever
            # `fit` drew in between (its first-batch peek, PyTorch's data loader): a resumed run and an uninterrupted
            # one then start each epoch from the same state.
            _restore_random_state(self.model, self.state)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        if self.validation_batches is not None:
            # Validation (in inference mode) reads moving statistics that describe the current weights.
            if self.training_mode_call is None:
                self.training_mode_call = _TrainingModeCall(self.model)
            self.training_mode_call.recompute_batch_statistics(self.train_batches)
            scores = self.model.evaluate(self.validation_batches, verbose=0, return_dict=True)
            logs.update({f"val_{key}": value for key, value in scores.items()})  # shown by the progress bar
        logs = dict(logs, seconds=time.perf_counter() - self.started)
        history = {key: list(values) for key, values in self.state["history"].items()}
        fallback = {**self.state, "history": history, "fallback": None}  # the state this epoch started from
        before = self.state.get("fallback") or {}
        for key, value in logs.items():
            self.state["history"].setdefault(key, []).append(float(value))
        self.state.update(epochs_done=epoch + 1, fallback=fallback if fallback["checkpoint"] else None)
        monitor = self.state.get("monitor", "val_loss")  # a state.json written by 0.1 has no monitor
        score, best = logs.get(monitor), self.state.get("best_score", self.state.get("best_val_loss"))
        if score is not None and (best is None or _BETTER[monitor](score, best)):
            self.state.update(best_score=float(score), best_epoch=epoch + 1, best=f"best-{epoch + 1}.weights.h5")
            _atomic(self.run_dir / self.state["best"], self.model.save_weights)
        self.state["checkpoint"] = f"checkpoint-{epoch + 1}.keras"
        self.state.update(_random_state(self.model))
        _atomic(self.run_dir / self.state["checkpoint"], self.model.save)
        with zipfile.ZipFile(self.run_dir / self.state["checkpoint"]) as archive:
            damaged = archive.testzip()
        if damaged is not None:
            raise OSError(f"{self.run_dir / self.state['checkpoint']}: {damaged} is damaged just after writing")
        _atomic(self.run_dir / STATE, lambda path: Path(path).write_text(json.dumps(self.state, indent=1)))
        kept = {self.state["checkpoint"], self.state["best"], fallback["checkpoint"], fallback["best"]}
        for name in {before.get("checkpoint"), before.get("best")} - kept - {None}:
            (self.run_dir / name).unlink(missing_ok=True)
        if self.should_stop():
            self.model.stop_training = True


def _atomic(path, write):
    """Writes through a temporary file in the same folder, then renames it over `path`."""
    suffix = "".join(path.suffixes)
    temporary = path.with_name(f".{path.name.removesuffix(suffix)}.partial{suffix}")
    write(str(temporary))
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())  # on disk before the rename makes it current
    os.replace(temporary, path)
