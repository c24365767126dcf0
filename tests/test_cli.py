"""The `sketchkeras` command, run in-process through `main([...])` on real drawings."""

import contextlib
import io
import json
import os
import struct
import subprocess
import sys

import huggingface_hub
import keras
import numpy as np
import pytest
from huggingface_hub import ModelCard
from test_hub import LAYOUT, hub  # noqa: F401  (the local Hub that pushes go to)

from sketchkeras import (
    SketchClassifier,
    bundled_model_dir,
    bundled_sample_dir,
    load_quickdraw,
    load_sketchrnn_npz,
    pipeline,
    qd35_classes,
    split_dataset,
)
from sketchkeras.evaluation import evaluate_classifier
from sketchkeras.streaming import hash_split
from sketchkeras_cli import RECIPE_NAMES, main

CLASSES = ["cat", "owl", "pig"]
COMMANDS = ["train", "evaluate", "predict", "convert", "push", "render"]


def _run(argv):
    """`main(argv)`'s exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`sketchkeras train`: a tiny model, one epoch on 3 classes x 40 drawings of the bundled sample."""
    run_dir = tmp_path_factory.mktemp("run")
    status, out, err = _run(
        [
            "train",
            "--data",
            str(bundled_sample_dir()),
            "--classes",
            *CLASSES,
            "--max-per-class",
            "40",
            "--out",
            str(run_dir),
            "--epochs",
            "1",
            "--rnn-units",
            "16",
            "--max-points",
            "32",
        ]
    )
    assert status == 0, err
    return run_dir, out


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["sketchkeras", *COMMANDS])
def test_every_command_has_help(command):
    status, out, _ = _run([*command, "--help"])
    assert status == 0
    assert out.startswith(f"usage: {' '.join(['sketchkeras', *command])}")


def test_train_writes_the_run_directory_and_prints_the_test_scores(run):
    run_dir, out = run
    summary = json.loads((run_dir / "metrics.json").read_text())
    metrics = summary["metrics"]
    assert summary["training"]["epochs"] == 1 and metrics["test_drawings"] == 12
    assert f"test: top-1 {metrics['top1']:.2%}  top-3 {metrics['top3']:.2%}" in out
    assert f"model: {run_dir / 'model'}" in out
    assert LAYOUT <= {p.name for p in (run_dir / "model").iterdir()}
    for name in ("confusion_matrix.png", "training_curves.png", "test_sketches.png"):
        assert _png_size(run_dir / name)[0] > 0
    assert SketchClassifier.from_pretrained(run_dir / "model").labels == CLASSES


def test_a_recipe_with_overrides_and_precision_reaches_run_training(monkeypatch, tmp_path):
    calls = []

    def run_training(**options):
        calls.append((options, keras.mixed_precision.global_policy().name))
        return {"metrics": {"top1": 0.5, "top3": 1.0, "top5": 1.0, "map3": 0.75, "test_drawings": 4}, "model_dir": "m"}

    monkeypatch.setattr(pipeline, "run_training", run_training)
    argv = [
        "train",
        "qd35",
        "--out",
        str(tmp_path),
        "--epochs",
        "3",
        "--max-points",
        "64",
        "--drop-fraction",
        "0.1",
        "--precision",
        "mixed_bfloat16",
        "--resume",
    ]
    status, out, err = _run(argv)
    assert status == 0, err
    assert calls == [
        (
            {
                **pipeline.RECIPES["qd35"],
                "epochs": 3,
                "max_points": 64,
                "drop_fraction": 0.1,
                "run_dir": str(tmp_path),
                "resume": True,
            },
            "mixed_bfloat16",
        )
    ]
    assert keras.mixed_precision.global_policy().name == "float32"  # only for the run
    assert (
        out == "test: top-1 50.00%  top-3 100.00%  top-5 100.00%  MAP@3 0.7500  (4 drawings)\n"
        f"run directory: {tmp_path} (metrics.json, plots); model: m\n"
    )


def test_predict_prints_one_json_line_per_drawing(run, quickdraw_dir):
    path = quickdraw_dir / "simplified" / "owl.ndjson"
    status, out, err = _run(["predict", str(run[0] / "model"), str(path), "--top-k", "2"])
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["source"] for line in lines] == [
        f"{path}:{n}" for n in range(1, len(path.read_text().splitlines()) + 1)
    ]
    for line in lines:
        labels, probabilities = zip(*line["predictions"])
        assert len(labels) == 2 and set(labels) <= set(CLASSES)
        assert list(probabilities) == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_predict_reads_every_file_type_alike(run, quickdraw_dir, tmp_path):
    record = json.loads((quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[0])
    (tmp_path / "one.ndjson").write_text(json.dumps(record) + "\n")
    strokes = load_quickdraw(tmp_path / "one.ndjson", classes=["cat"])[0]["strokes"]
    (tmp_path / "two.json").write_text(json.dumps([record["drawing"], strokes]))
    np.save(tmp_path / "three.npy", np.asarray(strokes, dtype=np.float32))
    faces = np.empty(2, dtype=object)
    faces[:] = load_sketchrnn_npz(quickdraw_dir / "sketchrnn" / "face.npz")["test"][:2]
    np.savez(tmp_path / "faces.npz", test=faces)
    files = [tmp_path / name for name in ("one.ndjson", "two.json", "three.npy", "faces.npz")]
    status, out, err = _run(["predict", str(run[0] / "model"), *map(str, files), "--top-k", "3"])
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["source"] for line in lines] == [
        f"{files[0]}:1",
        f"{files[1]}[0]",
        f"{files[1]}[1]",
        str(files[2]),
        f"{files[3]}:test[0]",
        f"{files[3]}:test[1]",
    ]
    same_drawing = [line["predictions"] for line in lines[:4]]
    labels = [[label for label, _ in p] for p in same_drawing]
    assert labels == [labels[0]] * 4
    np.testing.assert_allclose(
        [[p for _, p in ps] for ps in same_drawing], [[p for _, p in same_drawing[0]]] * 4, atol=1e-5
    )


def test_a_bad_drawing_stops_predict_naming_its_file_and_line(run, quickdraw_dir, tmp_path):
    good = (quickdraw_dir / "simplified" / "cat.ndjson").read_text().splitlines()[:2]
    (tmp_path / "bad.ndjson").write_text("\n".join([*good, "{broken", good[0]]) + "\n")
    status, out, err = _run(["predict", str(run[0] / "model"), str(tmp_path / "bad.ndjson")])
    assert (status, out) == (1, "")
    assert err.startswith("sketchkeras predict: error: bad.ndjson:3: malformed JSON") and err.count("\n") == 1
    (tmp_path / "bad.json").write_text(json.dumps([[[0, 1, 0], [1, 2]]]))
    status, _, err = _run(["predict", str(run[0] / "model"), str(tmp_path / "bad.json")])
    assert status == 1 and "bad.json[0]: a stroke-3 array must have shape (n, 3)" in err


def test_missing_files_and_unknown_types_are_one_line_errors(run, tmp_path):
    model = str(run[0] / "model")
    (tmp_path / "one.json").write_text("[[[[0, 9], [0, 9]]]]")
    (tmp_path / "one.ndjson").write_text('{"word": "square", "drawing": [[[0, 255], [0, 255]]]}\n')
    cases = [
        (["predict", model, str(tmp_path / "nope.ndjson")], f"{tmp_path / 'nope.ndjson'}: no such file"),
        (["predict", model, str(run[0] / "test_sketches.png")], "test_sketches.png: unknown file type"),
        (["predict", str(tmp_path / "no" / "such" / "model"), str(tmp_path / "one.json")], "no such directory"),
        (["render", str(tmp_path / "nope.npz"), "--out", str(tmp_path)], f"{tmp_path / 'nope.npz'}: no such file"),
        (["evaluate", model, "--data", str(tmp_path / "nope")], "no Quick, Draw! files"),
        (
            ["push", str(tmp_path), "owner/sketch"],
            f"{tmp_path}: no sketchkeras.json, so this is not a saved sketchkeras model",
        ),
        (["push", "no-such/model", "owner/sketch"], "no-such/model: no such directory"),  # not looked for on the Hub
        (
            ["train", "--data", str(tmp_path / "one.ndjson"), "--classes", "square", "--out", str(tmp_path / "run")],
            "one.ndjson: too few drawings for a run: its splits hold {'train': 1, 'validation': 0, 'test': 0} drawings",
        ),
    ]
    for argv, message in cases:
        status, out, err = _run(argv)
        assert (status, out) == (1, ""), argv
        assert message in err and err.count("\n") == 1, err


def test_a_model_missing_from_the_hub_cache_is_a_clear_error(run, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    (tmp_path / "one.json").write_text("[[[[0, 9], [0, 9]]]]")
    status, _, err = _run(["predict", "owner/missing", str(tmp_path / "one.json")])
    assert status == 1 and "owner/missing (revision main) is not in the Hugging Face cache" in err


def test_usage_errors_exit_2_and_list_the_recipes(tmp_path):
    status, _, err = _run(["train", "qd99", "--out", str(tmp_path)])
    assert status == 2 and "argument RECIPE: invalid choice: 'qd99'" in err
    assert "qd35" in err.splitlines()[-1] and "quickdraw345" in err.splitlines()[-1]
    status, _, err = _run(["train", "quickdraw345", "--out", str(tmp_path)])
    assert status == 2 and "give the training data with --data" in err
    assert _run(["predict", "model-only"])[0] == 2


def test_evaluate_scores_the_models_labels_and_writes_its_results(run, tmp_path):
    out_dir = tmp_path / "eval"
    status, out, err = _run(
        [
            "evaluate",
            str(run[0] / "model"),
            "--data",
            str(bundled_sample_dir()),
            "--classes",
            "owl",
            "cat",
            "--max-per-class",
            "10",
            "--out",
            str(out_dir),
        ]
    )
    assert status == 0, err
    model = SketchClassifier.from_pretrained(run[0] / "model")
    data = load_quickdraw(bundled_sample_dir(), classes=CLASSES, max_per_class=10)
    expected = evaluate_classifier(model, data.select(range(20)))  # the cats and owls come first
    assert out.startswith(
        f"top-1 {expected['top1']:.2%}  top-3 {expected['top3']:.2%}  top-5 {expected['top5']:.2%}  "
        f"MAP@3 {expected['map3']:.4f}  balanced top-1 {expected['balanced_top1']:.2%}  (20 drawings)"
    )
    written = json.loads((out_dir / "metrics.json").read_text())
    assert {k: written[k] for k in expected} == expected and written["dataset"] == str(bundled_sample_dir())
    assert _png_size(out_dir / "confusion_matrix.png")[0] > 0 and _png_size(out_dir / "test_sketches.png")[0] > 0
    status, _, err = _run(["evaluate", str(run[0] / "model"), "--data", str(bundled_sample_dir()), "--classes", "dog"])
    assert status == 1 and "the model has no label 'dog'; its labels are cat, owl, pig" in err


def test_evaluate_early_on_the_bundled_models_test_split(tmp_path):
    out_dir = tmp_path / "early"
    status, out, err = _run(
        [
            "evaluate",
            str(bundled_model_dir()),
            "--data",
            str(bundled_sample_dir()),
            "--split",  # the model's training record gives the split's cap (400 a class) and seed
            "test",
            "--early",
            "--out",
            str(out_dir),
        ]
    )
    assert status == 0, err
    # The split training made, less one drawing: the bundled triangles hold one drawing twice, once with its
    # key_id and once without, and the split now keeps the two together, as one identity, in training. Training
    # saw one of them (the model predates that), so its test scores were 1,400 drawings; they are 1,399 now.
    saved = json.loads((bundled_model_dir() / "sketchkeras.json").read_text())["metrics"]
    dataset = load_quickdraw(bundled_sample_dir(), classes=qd35_classes(), max_per_class=400)
    test = split_dataset(dataset, seed=0)["test"]
    scores = evaluate_classifier(SketchClassifier.from_pretrained(bundled_model_dir()), test)
    assert (test.num_rows, round(saved["top1"] * 1400), round(scores["top1"] * 1399)) == (1399, 1058, 1056)
    assert out.startswith(f"top-1 {scores['top1']:.2%}  top-3 {scores['top3']:.2%}")
    written = json.loads((out_dir / "metrics.json").read_text())
    curve = written["early_recognition"]
    assert list(curve) == ["0.25", "0.5", "0.75", "1.0"] and curve["1.0"] == scores["top1"]
    assert curve["0.25"] < curve["0.5"] < curve["0.75"] < curve["1.0"]
    assert f"points drawn  top-1\n        25%  {curve['0.25']:.3f}\n" in out
    assert _png_size(out_dir / "early_recognition.png")[0] > 0


def test_evaluate_split_remakes_the_split_the_model_was_trained_with(tmp_path):
    # A class-balanced split from a capped read, as the quickdraw345 recipe makes (a number of drawings of each class).
    summary = pipeline.run_training(
        bundled_sample_dir(),
        tmp_path / "run",
        classes=CLASSES,
        max_per_class=40,
        test_size=5,
        validation_size=3,
        epochs=1,
        rnn_units=[16],
        max_points=32,
        verbose=0,
    )
    model_dir, data = summary["model_dir"], str(bundled_sample_dir())
    status, _, err = _run(["evaluate", model_dir, "--data", data, "--split", "test", "--out", str(tmp_path / "test")])
    assert status == 0, err
    scored = json.loads((tmp_path / "test" / "metrics.json").read_text())
    assert {key: scored[key] for key in summary["metrics"] if key != "dataset"} == {
        key: value for key, value in summary["metrics"].items() if key != "dataset"
    }
    assert scored["test_drawings"] == 15
    status, out, err = _run(["evaluate", model_dir, "--data", data, "--split", "validation"])
    assert status == 0 and out.rstrip().endswith("(9 drawings)"), err
    assert summary["training"]["validation_drawings"] == 9
    # Given a seed, it is that seed's split: other test drawings of the same classes.
    status, out, err = _run(["evaluate", model_dir, "--data", data, "--split", "test", "--seed", "1"])
    other = pipeline.run_splits(
        {"source": data, "classes": CLASSES, "max_per_class": 40, "test_size": 5, "validation_size": 3, "seed": 1}
    )
    expected = evaluate_classifier(SketchClassifier.from_pretrained(model_dir), other["test"])
    assert status == 0 and out.startswith(f"top-1 {expected['top1']:.2%}  top-3 {expected['top3']:.2%}"), err
    # A model saved without a training record: a tenth of each class each, as `train` splits by default.
    SketchClassifier.from_pretrained(model_dir).save_pretrained(tmp_path / "bare")
    status, out, err = _run(["evaluate", str(tmp_path / "bare"), "--data", data, "--split", "test"])
    test = split_dataset(load_quickdraw(data, classes=CLASSES), seed=0)["test"]
    assert status == 0 and out.rstrip().endswith(f"({test.num_rows} drawings)") and test.num_rows == 120, err


def test_convert_writes_sharded_parquet_that_load_quickdraw_reads_back(quickdraw_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    source, out = quickdraw_dir / "simplified", tmp_path / "converted"
    argv = ["convert", str(source), str(out), "--classes", "cat", "owl", "--shard-mb", "1", "--seed", "3"]
    status, stdout, err = _run([*argv, "--workers", "2"])
    assert status == 0, err
    assert stdout.startswith(f"wrote {out}: load it with sketchkeras.load_quickdraw(")
    assert "license: cc-by-4.0" in (out / "README.md").read_text()
    direct = load_quickdraw(source, classes=["cat", "owl"])
    loaded = load_quickdraw(out, classes=["cat", "owl"])
    assert sum(split.num_rows for split in loaded.values()) == direct.num_rows
    for name, split in loaded.items():
        rows = zip(split["key_id"], split["strokes"])
        assert {hash_split(key, np.asarray(strokes, "float32")) for key, strokes in rows} == {name}
        assert len(list((out / "data").glob(f"{name}-*.parquet"))) == {"train": 2}.get(name, 1)  # 80% of 2.3 MB
    status, stdout, err = _run(argv)  # a rerun into a finished folder with other arguments (--workers 1) is refused
    assert (status, stdout) == (1, "") and "sketchkeras convert: error:" in err


def test_render_writes_one_png_per_drawing(quickdraw_dir, tmp_path):
    files = [quickdraw_dir / "simplified" / "owl.ndjson", quickdraw_dir / "raw" / "cat.ndjson"]
    status, out, err = _run(["render", *map(str, files), "--out", str(tmp_path / "png"), "--limit", "2"])
    assert status == 0, err
    assert out == f"wrote 4 PNG files to {tmp_path / 'png'}\n"
    names = ["cat-ndjson-1.png", "cat-ndjson-2.png", "owl-ndjson-1.png", "owl-ndjson-2.png"]
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == names
    for path in (tmp_path / "png").iterdir():
        assert _png_size(path) == (256, 256)
    status, _, err = _run(
        ["render", str(files[0]), str(quickdraw_dir / "raw" / "owl.ndjson"), "--out", str(tmp_path / "two")]
    )
    assert status == 1 and "several FILEs are named owl.ndjson" in err and not (tmp_path / "two").exists()


def test_push_uploads_the_directory_with_its_real_metrics(run, hub, tmp_path):  # noqa: F811
    model_dir = run[0] / "model"
    status, out, err = _run(
        ["push", str(model_dir), "owner/sketch", "--private", "--token", "hf_test", "--message", "From the CLI"]
    )
    assert status == 0, err
    assert hub.created == [{"name": "sketch", "organization": "owner", "visibility": "private"}]
    [commit] = hub.commits
    assert (commit["repo_id"], commit["summary"]) == ("owner/sketch", "From the CLI")
    saved = {path.relative_to(model_dir).as_posix() for path in model_dir.rglob("*") if path.is_file()}
    assert commit["files"].keys() == saved and LAYOUT <= saved  # the whole directory, eval results too
    assert json.loads(commit["files"]["sketchkeras.json"]) == json.loads((model_dir / "sketchkeras.json").read_text())
    for name, data in commit["files"].items():
        (tmp_path / "pushed" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pushed" / name).write_bytes(data)
    pushed, local = (SketchClassifier.from_pretrained(d) for d in (tmp_path / "pushed", model_dir))
    for theirs, ours in zip(pushed.get_weights(), local.get_weights(), strict=True):
        np.testing.assert_array_equal(theirs, ours)
    card = ModelCard(commit["files"]["README.md"].decode())
    top1 = json.loads((model_dir / "sketchkeras.json").read_text())["metrics"]["top1"]
    assert card.data.model_name == "owner/sketch" and card.data.eval_results[0].metric_value == top1
    assert out.startswith("pushed ")
    hub.refuse_commits = True
    status, _, err = _run(["push", str(model_dir), "owner/sketch", "--token", "hf_test"])
    assert status == 1 and err.count("\n") == 1
    assert "403 Forbidden" in err and "pushing the model to owner/sketch failed" in err
    status, _, err = _run(["push", str(model_dir), "sketch"])
    assert status == 1 and "repo_id must be 'owner/name'" in err


def test_push_to_an_unreachable_hub_is_a_one_line_error(run, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    status, _, err = _run(["push", str(run[0] / "model"), "owner/sketch", "--token", "hf_test"])
    assert status == 1 and err.startswith("sketchkeras push: error: ") and "Connection refused" in err


def test_a_recipe_fine_tunes_a_model_of_another_architecture(quickdraw_dir, tmp_path):
    # The quickdraw345 recipe trains dropout 0.3 from scratch; from qd35 (dropout 0.2) it keeps qd35's backbone.
    argv = ["train", "quickdraw345", "--from", "qd35", "--data", str(quickdraw_dir / "simplified")]
    argv += ["--classes", *CLASSES, "--max-per-class", "20", "--epochs", "1", "--out", str(tmp_path), "--quiet"]
    status, out, err = _run(argv)
    assert status == 0, err
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["training"]["fine_tuned_from"] == "qd35" and summary["training"]["per_class"] == 100
    backbone = json.loads((tmp_path / "model" / "config.json").read_text())["config"]["backbone"]["config"]
    assert backbone["dropout"] == 0.2 and backbone["rnn_units"] == [128, 128]


def test_train_output_is_one_line_per_epoch_when_stdout_is_a_file(quickdraw_dir, tmp_path):
    argv = [
        "train",
        "--data",
        str(quickdraw_dir / "simplified"),
        "--classes",
        *CLASSES,
        "--max-per-class",
        "20",
        "--out",
        str(tmp_path / "run"),
        "--epochs",
        "2",
        "--rnn-units",
        "8",
        "--max-points",
        "32",
    ]
    with open(tmp_path / "log", "w") as log:
        command = [sys.executable, "-m", "sketchkeras", *argv]
        status = subprocess.run(command, stdout=log, stderr=subprocess.PIPE).returncode
    log = (tmp_path / "log").read_text()
    assert status == 0, log
    assert "\r" not in log and "\x1b" not in log and "\b" not in log
    epochs = [line for line in log.splitlines() if " - val_loss: " in line]
    assert len(epochs) == 2 and "\nEpoch 1/2\n" in f"\n{log}" and "\nEpoch 2/2\n" in log, log
    assert log.splitlines()[-2].startswith("test: top-1 "), log


def test_quiet_prints_only_the_scores(quickdraw_dir, tmp_path):
    status, out, err = _run(
        [
            "train",
            "--data",
            str(quickdraw_dir / "simplified"),
            "--classes",
            *CLASSES,
            "--max-per-class",
            "20",
            "--out",
            str(tmp_path),
            "--epochs",
            "1",
            "--rnn-units",
            "8",
            "--max-points",
            "32",
            "--quiet",
        ]
    )
    assert status == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == ["test", "run directory"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "M", "f.ndjson", "--top-k", "0"], "argument --top-k: 0 must be at least 1"),
        (["predict", "M", "f.ndjson", "--top-k", "-1"], "argument --top-k: -1 must be at least 1"),
        (["train", "qd35", "--out", "{tmp}", "--batch-size", "0"], "argument --batch-size: 0 must be at least 1"),
        (["train", "qd35", "--out", "{tmp}", "--max-per-class", "0"], "argument --max-per-class: 0 must be at least 1"),
        (["train", "qd35", "--out", "{tmp}", "--epochs", "two"], "argument --epochs: 'two' is not an integer"),
        (
            ["train", "qd35", "--out", "{tmp}", "--learning-rate", "nan"],
            "argument --learning-rate: nan must be above 0",
        ),
        (
            ["train", "qd35", "--out", "{tmp}", "--cut-fraction", "1.5"],
            "argument --cut-fraction: 1.5 must be from 0 to 1",
        ),
        (
            ["train", "qd35", "--out", "{tmp}", "--cut-fraction", "nan"],
            "argument --cut-fraction: nan must be from 0 to 1",
        ),
        (
            ["train", "qd35", "--out", "{tmp}", "--preset", "huge"],
            "argument --preset: invalid choice: 'huge' (choose from",
        ),
        (["evaluate", "M", "--data", "d", "--max-per-class", "0"], "argument --max-per-class: 0 must be at least 1"),
        (["render", "f.ndjson", "--out", "{tmp}", "--limit", "0"], "argument --limit: 0 must be at least 1"),
        (["train", "qd35", "--out", "{tmp}/file"], "argument --out: {tmp}/file is a file, not a folder"),
        (["train", "qd35", "--out", "{tmp}/file/run"], "--out: {tmp}/file/run is under {tmp}/file, which is a file"),
        (["render", "f.ndjson", "--out", "{tmp}/file"], "argument --out: {tmp}/file is a file, not a folder"),
        (["evaluate", "M", "--data", "d", "--out", "{tmp}/file"], "argument --out: {tmp}/file is a file, not a folder"),
        (["convert", "d", "{tmp}/file/out"], "argument OUT: {tmp}/file/out is under {tmp}/file, which is a file"),
    ],
)
def test_bad_values_and_outputs_are_usage_errors_before_any_work(argv, message, tmp_path):
    (tmp_path / "file").write_text("")
    status, out, err = _run([arg.format(tmp=tmp_path) for arg in argv])
    assert (status, out) == (2, "")
    assert message.format(tmp=tmp_path) in err.splitlines()[-1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing was written


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_run_directory_is_refused_before_any_work(tmp_path):
    tmp_path.chmod(0o500)
    status, _, err = _run(["train", "qd35", "--out", str(tmp_path / "run")])
    assert status == 2 and f"argument --out: {tmp_path / 'run'}: {tmp_path} is not writable" in err


def test_top_k_beyond_the_models_labels_and_empty_files_are_errors(run, quickdraw_dir, tmp_path):
    model = str(run[0] / "model")
    owl = str(quickdraw_dir / "simplified" / "owl.ndjson")
    status, out, err = _run(["predict", model, owl, "--top-k", "4"])
    assert (status, out) == (2, "") and "argument --top-k: 4 is more than the model's 3 labels" in err
    assert _run(["predict", model, owl, "--top-k", "3"])[0] == 0
    for name, text in [("empty.ndjson", ""), ("blank.ndjson", "\n\n"), ("empty.json", "[]")]:
        (tmp_path / name).write_text(text)
        path = str(tmp_path / name)
        for argv in (["predict", model, owl, path], ["render", path, "--out", str(tmp_path)]):
            status, out, err = _run(argv)
            assert (status, out) == (1, ""), (argv, out)
            assert err.endswith(f": error: {tmp_path / name}: no drawings in this file\n"), err


def test_the_recipe_names_are_the_pipelines():
    assert set(RECIPE_NAMES) == set(pipeline.RECIPES)


def test_seeding_a_run_under_jax_imports_no_tensorflow():
    code = "import sys; from sketchkeras import pipeline; pipeline.set_seed(0); print('tensorflow' in sys.modules)"
    jax = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", code], env=jax, capture_output=True, text=True)
    assert result.stdout == "False\n", result.stderr


def _png_size(path):
    """(width, height) from a PNG file's header; fails unless it is one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_help_imports_neither_the_package_nor_keras():
    code = (
        "import sys, contextlib, io, sketchkeras_cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    status = sketchkeras_cli.main(['train', '--help'])\n"
        "heavy = ('sketchkeras', 'keras', 'datasets', 'jax', 'torch', 'tensorflow')\n"
        "print(status, sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == "0 []\n", result.stderr


def test_tensorflows_start_up_notices_stay_off_the_commands_stderr(tmp_path):
    drawing = tmp_path / "square.ndjson"
    drawing.write_text('{"word": "square", "drawing": [[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]]]}\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
    command = [
        sys.executable,
        "-m",
        "sketchkeras_cli",
        "predict",
        str(bundled_model_dir()),
        str(drawing),
        "--top-k",
        "1",
    ]
    result = subprocess.run(command, env={**env, "KERAS_BACKEND": "tensorflow"}, capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout)["predictions"][0][0] == "square", result.stderr
    assert result.stderr == ""
    # Under JAX, Keras' saving code imports TensorFlow at the first checkpoint: its notices stay off the log too.
    train = [
        sys.executable,
        "-m",
        "sketchkeras_cli",
        "train",
        "--data",
        str(bundled_sample_dir()),
        "--classes",
        "cat",
        "owl",
    ]
    train += ["--max-per-class", "20", "--out", str(tmp_path / "run"), "--epochs", "1", "--rnn-units", "4", "--quiet"]
    result = subprocess.run(train, env={**env, "KERAS_BACKEND": "jax"}, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("test: top-1"), result.stderr
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr, result.stderr
