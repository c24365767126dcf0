"""The README's Python examples run as written and print what their comments say."""

import ast
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_first_example_gives_the_guesses_its_comment_shows():
    code = EXAMPLES[0]
    *setup, last = code.strip().splitlines()
    call, comment = last.split("#")
    namespace = {}
    exec("\n".join(setup), namespace)
    guesses = eval(call, namespace)
    shown = ast.literal_eval(comment.strip())
    assert [[(label, round(p, 3)) for label, p in row] for row in guesses] == shown


def test_the_model_example_shows_the_nested_config():
    code = next(example for example in EXAMPLES if "SketchBackbone.from_preset" in example)
    *setup, last = code.strip().splitlines()
    call, comment = last.split("#")
    namespace = {}
    exec("\n".join(setup), namespace)
    assert eval(call, namespace) == ast.literal_eval(comment.strip())
    assert namespace["model"].backbone is namespace["backbone"] and namespace["model"].max_points == 256


def test_the_live_recognition_example_runs():
    code = next(example for example in EXAMPLES if "start_stream" in example)
    namespace = {}
    exec(code, namespace)
    stream = namespace["stream"]
    assert stream.points == 5 and len(stream.guesses) == 5


def test_the_fine_tuning_example_runs_on_real_drawings(quickdraw_dir, tmp_path, monkeypatch):
    """The example as written, its folder of drawings being three real classes of the shared data."""
    code = next(example for example in EXAMPLES if "labels=[" in example and "trainable" in example)
    folder = tmp_path / "my_drawings"
    folder.mkdir()
    for word in ("cat", "owl", "hedgehog"):
        lines = (quickdraw_dir / "simplified" / f"{word}.ndjson").read_text().splitlines()[:30]
        (folder / f"{word}.ndjson").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(code, namespace)
    assert namespace["model"].labels == ["cat", "owl", "hedgehog"] and namespace["data"].num_rows == 90
    assert len(namespace["history"]["loss"]) == 15 and not namespace["model"].backbone.trainable


EXPORT_SECTION = README.split("## Export:")[1].split("\n## ")[0]


@pytest.mark.parametrize("format", ["onnx", "litert", "saved_model"])
def test_the_export_example_runs_on_what_its_command_writes(format, tmp_path, monkeypatch):
    """The section's command for `format` (the backend that exports it), then its Python snippet, in one folder."""
    import keras

    from sketchkeras.export import FORMATS
    from sketchkeras_cli import main

    command = next(line for line in EXPORT_SECTION.splitlines() if f"--format {format} " in line)
    if keras.backend.backend() not in FORMATS[format][1]:
        pytest.skip(f"{format} is exported under {FORMATS[format][1]}, as the README says: {command}")
    monkeypatch.chdir(tmp_path)
    argv = command.split("sketchkeras ", 1)[1].split()
    assert main(argv) == 0
    marker = {"onnx": "onnxruntime", "litert": "tf.lite", "saved_model": "saved_model.load"}[format]
    code = next(
        example for example in re.findall(r"```python\n(.*?)```", EXPORT_SECTION, flags=re.S) if marker in example
    )
    namespace = {}
    exec(code, namespace)
    assert namespace["probabilities"].shape == (35,)
    assert abs(float(namespace["probabilities"].sum()) - 1) < 1e-5
