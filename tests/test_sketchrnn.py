"""load_sketchrnn_npz on the real sketch-rnn files and on hostile or broken ones."""

import builtins
import doctest
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from sketchkeras import sketchrnn
from sketchkeras.sketchrnn import UnsafePickleError, load_sketchrnn_npz

# (train, valid, test) drawings and their total points, per real file.
REAL_FILES = {
    "alarm clock": ((1920, 240, 240), 156_849),
    "face": ((1920, 240, 241), 157_347),
    "pig": ((1922, 240, 241), 210_114),
    "radio": ((1920, 240, 241), 142_117),
}


def test_real_files_load_with_exact_counts(quickdraw_dir):
    total = 0
    for word, (counts, points) in REAL_FILES.items():
        splits = load_sketchrnn_npz(quickdraw_dir / "sketchrnn" / f"{word}.npz")
        assert list(splits) == ["train", "valid", "test"]
        assert tuple(len(drawings) for drawings in splits.values()) == counts
        drawings = [d for split in splits.values() for d in split]
        assert all(type(d) is np.ndarray and d.dtype == np.int16 for d in drawings)
        assert all(d.ndim == 2 and d.shape[1] == 3 and len(d) > 0 for d in drawings)
        assert all(set(np.unique(d[:, 2])) <= {0, 1} for d in drawings)
        assert sum(len(d) for d in drawings) == points
        total += len(drawings)
    assert total == 9605


def _object_array(*elements):
    array = np.empty(len(elements), dtype=object)
    array[:] = list(elements)
    return array


class _Runs:
    """Pickles as a call to ``function(argument)``."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def _write_npy_member(path, name, header, body):
    """An .npz holding one member: an .npy header then ``body`` bytes."""
    npy = io.BytesIO()
    npy_format.write_array_header_1_0(npy, header)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, npy.getvalue() + body)


@pytest.mark.parametrize("how", ["os.system", "builtins.eval"])
@pytest.mark.parametrize("where", ["inside a drawing array", "as the whole member"])
def test_pickle_that_runs_code_is_refused(tmp_path, how, where):
    marker = tmp_path / "pwned"
    if how == "os.system":
        payload = _Runs(os.system, f"touch '{marker}'")
    else:
        payload = _Runs(builtins.eval, f"open({str(marker)!r}, 'w').close()")
    path = tmp_path / "evil.npz"
    if where == "inside a drawing array":
        good = np.zeros((2, 3), dtype=np.int16)
        np.savez(path, train=_object_array(good, payload))
    else:
        header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
        _write_npy_member(path, "train.npy", header, pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError) as caught:
        load_sketchrnn_npz(path)
    message = str(caught.value)
    assert str(path) in message and "train.npy" in message
    assert ("system" if how == "os.system" else ".eval") in message
    assert not marker.exists()


def test_numpy_1_pickles_load(tmp_path):
    path = tmp_path / "old.npz"
    drawing = np.array([[3, -4, 0], [1, 2, 1]], dtype=np.int16)
    body = pickle.dumps(_object_array(drawing), protocol=3)
    body = body.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in body
    header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
    _write_npy_member(path, "train.npy", header, body)
    assert load_sketchrnn_npz(path)["train"][0].tolist() == drawing.tolist()


def test_truncated_file_is_a_clear_error(tmp_path, quickdraw_dir):
    data = (quickdraw_dir / "sketchrnn" / "pig.npz").read_bytes()
    path = tmp_path / "pig.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="pig.npz: not a readable .npz file"):
        load_sketchrnn_npz(path)


def test_truncated_pickle_names_the_member(tmp_path):
    path = tmp_path / "cut.npz"
    array = _object_array(np.ones((4, 3), dtype=np.int16))
    header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
    _write_npy_member(path, "valid.npy", header, pickle.dumps(array, protocol=4)[:-40])
    with pytest.raises(ValueError, match=r"cut.npz, member valid.npy: corrupt .npy data"):
        load_sketchrnn_npz(path)


def test_truncated_plain_array_is_a_clear_error(tmp_path):
    path = tmp_path / "short.npz"
    header = {"descr": "<i2", "fortran_order": False, "shape": (2, 4, 3)}
    _write_npy_member(path, "test.npy", header, np.zeros(20, dtype="<i2").tobytes())
    with pytest.raises(ValueError, match="member test.npy: corrupt .npy data.*40 of 48"):
        load_sketchrnn_npz(path)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((5, 2), dtype=np.int16), np.zeros((5, 3)), [[0, 0, 1]], np.full((1, 3), 40_000)],
    ids=["two columns", "floats", "list", "beyond int16"],
)
def test_bad_drawing_names_file_split_and_index(tmp_path, bad):
    path = tmp_path / "cat.npz"
    np.savez(path, test=_object_array(np.zeros((3, 3), dtype=np.int16), bad))
    with pytest.raises(ValueError, match=r"cat.npz: test\[1\]"):
        load_sketchrnn_npz(path)


def test_plain_integer_member_is_read_without_pickle(tmp_path, monkeypatch):
    monkeypatch.setattr(sketchrnn, "_ArrayUnpickler", None)
    path = tmp_path / "plain.npz"
    stacked = np.arange(24, dtype=np.int32).reshape(2, 4, 3)
    np.savez(path, train=stacked)
    drawings = load_sketchrnn_npz(path)["train"]
    assert [d.dtype for d in drawings] == [np.int16, np.int16]
    assert np.array_equal(np.stack(drawings), stacked)


def test_docstring_examples():
    assert doctest.testmod(sketchrnn).failed == 0


def test_declared_sizes_are_capped_before_anything_is_inflated(tmp_path, quickdraw_dir, monkeypatch):
    real = quickdraw_dir / "sketchrnn" / "pig.npz"
    with zipfile.ZipFile(real) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    assert len(load_sketchrnn_npz(real, max_bytes=declared)["train"]) == 1922
    # A bomb: 1 MB that inflates to 1 GiB. Refused from the zip directory, before any member is opened.
    bomb = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("train.npy", "w", force_zip64=True) as member,
    ):
        chunk = bytes(2**24)
        for _ in range(64):
            member.write(chunk)
    assert bomb.stat().st_size < 2**21
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *args, **kwargs: pytest.fail("a member was opened"))
    message = r"bomb.npz: declares 1,073,741,824 uncompressed bytes, over the 536,870,912-byte cap"
    with pytest.raises(ValueError, match=message):
        load_sketchrnn_npz(bomb)
    message = f"pig.npz: declares {declared:,} uncompressed bytes, over the {declared - 1:,}-byte cap"
    with pytest.raises(ValueError, match=message):
        load_sketchrnn_npz(real, max_bytes=declared - 1)


def test_a_header_that_declares_more_than_its_member_holds_is_refused(tmp_path):
    path = tmp_path / "big.npz"
    header = {"descr": "<i2", "fortran_order": False, "shape": (10**12, 3)}
    _write_npy_member(path, "train.npy", header, np.zeros(30, dtype="<i2").tobytes())
    message = r"member train.npy: corrupt .npy data .*declares 6,000,000,000,000 data bytes in a 188-byte"
    with pytest.raises(ValueError, match=message):
        load_sketchrnn_npz(path)
