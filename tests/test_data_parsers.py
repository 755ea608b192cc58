"""IDX and CIFAR-10 parsers on generated miniature files, good and malformed."""
from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest

from _data_helpers import CIFAR_BATCHES, cifar_bin_records, mini_cifar_arrays, write_cifar_bin
from minicnn.data import FormatError, load_cifar10
from minicnn.data.cifar import read_cifar_bin, read_cifar_py, safe_unpickle
from minicnn.data.idx import parse_idx, read_idx, write_idx


# ------------------------------------------------------------------ IDX
def test_idx_header_read_by_hand():
    # magic 0x00000803: uint8, 3 dims; then dims 2, 2, 3 big-endian
    data = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12))
    x = parse_idx(data)
    assert x.shape == (2, 2, 3) and x.dtype == np.uint8
    assert x[1, 0, 2] == 8


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, dtype, gz):
    x = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == "uint8":
        x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(x, tmp_path / ("a.idx.gz" if gz else "a.idx"))
    y = read_idx(path)
    assert y.dtype == x.dtype and y.shape == x.shape and (y == x).all()
    if dtype == "int16":  # big-endian on disk
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        assert raw[4 + 12:4 + 12 + 2] == (-7).to_bytes(2, "big", signed=True)


def test_idx_wrong_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(FormatError, match="magic"):
        read_idx(tmp_path / "bad")
    with pytest.raises(FormatError, match="magic"):
        parse_idx(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 7]))  # unknown type code


@pytest.mark.parametrize("extra, word", [(-1, "truncated"), (+1, "trailing")])
def test_idx_wrong_length(extra, word):
    good = bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + bytes(12)
    bad = good[:extra] if extra < 0 else good + b"\0"
    with pytest.raises(FormatError, match=word):
        parse_idx(bad, source="x.idx")


def test_idx_truncated_header():
    with pytest.raises(FormatError, match="header"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0, 0, 2]))
    with pytest.raises(FormatError, match="too short"):
        parse_idx(b"\0\0")


def test_idx_truncated_gzip(tmp_path):
    path = write_idx(np.zeros((50, 28, 28), np.uint8), tmp_path / "t.gz")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(FormatError, match="gzip"):
        read_idx(path)


# ------------------------------------------------------------------ CIFAR-10
def test_cifar_bin_record_layout(tmp_path):
    x = np.zeros((1, 32, 32, 3), np.uint8)
    x[0, 0, 1, 0], x[0, 2, 0, 1], x[0, 31, 31, 2] = 11, 22, 33  # R at (0,1), G at (2,0), B at (31,31)
    raw = cifar_bin_records(x, np.array([7]))
    assert raw[0] == 7 and raw[1 + 1] == 11 and raw[1 + 1024 + 64] == 22 and raw[-1] == 33
    (tmp_path / "b.bin").write_bytes(raw)
    xr, yr = read_cifar_bin(tmp_path / "b.bin")
    assert xr.shape == (1, 32, 32, 3) and (xr == x).all() and yr.tolist() == [7]


def test_cifar_bin_truncated_and_bad_label(tmp_path):
    arrays = mini_cifar_arrays()
    raw = cifar_bin_records(*arrays["data_batch_1"])
    (tmp_path / "t.bin").write_bytes(raw[:-5])
    with pytest.raises(FormatError, match="3073"):
        read_cifar_bin(tmp_path / "t.bin")
    (tmp_path / "l.bin").write_bytes(bytes([12]) + raw[1:])
    with pytest.raises(FormatError, match="label"):
        read_cifar_bin(tmp_path / "l.bin")


def _write_py_batches(folder, arrays):
    folder.mkdir(parents=True)
    for name, (x, y) in arrays.items():
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in y],
                 b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1),
                 b"filenames": [b"img_%d.png" % i for i in range(len(x))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar_python_version_matches_binary(tmp_path):
    arrays = mini_cifar_arrays()
    _write_py_batches(tmp_path / "py" / "cifar-10-batches-py", arrays)
    write_cifar_bin(tmp_path / "bin" / "cifar-10-batches-bin", arrays)
    (a, b), (c, d) = load_cifar10(root=tmp_path / "py", download=False)
    (e, f), (g, h) = load_cifar10(root=tmp_path / "bin", download=False)
    for u, v in ((a, e), (b, f), (c, g), (d, h)):
        assert u.dtype == v.dtype and (u == v).all()
    assert a.shape == (15, 32, 32, 3) and (c == arrays["test_batch"][0]).all()


def test_cifar_binary_preferred_and_incomplete_folder_ignored(tmp_path):
    arrays = mini_cifar_arrays()
    other = mini_cifar_arrays(seed=1)
    _write_py_batches(tmp_path / "cifar-10-batches-py", other)
    write_cifar_bin(tmp_path / "cifar-10-batches-bin", arrays)
    (x, _), _ = load_cifar10(root=tmp_path, download=False)
    assert (x[:3] == arrays["data_batch_1"][0]).all()
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()  # incomplete -> python version
    (x, _), _ = load_cifar10(root=tmp_path, download=False)
    assert (x[:3] == other["data_batch_1"][0]).all()


class _System:
    """Unpickled by the standard unpickler, this runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickle_calling_os_system_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    evil = {b"data": _System(f"touch {marker}"), b"labels": [0]}
    payload = pickle.dumps(evil, protocol=protocol)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR_BATCHES:  # a complete-looking python-version folder
        (folder / name).write_bytes(payload)
    with pytest.raises(FormatError) as err:
        load_cifar10(root=tmp_path, download=False)
    msg = str(err.value)
    assert str(folder / "data_batch_1") in msg  # names the file
    assert "refusing to load" in msg and "system" in msg  # and what it refused
    assert not marker.exists()  # nothing was executed
    # the proof that this payload is live: the standard unpickler would have run it
    assert pickle.loads(payload)[b"data"] == 0 and marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "getattr"),
                                          ("numpy", "load"), ("subprocess", "Popen")])
def test_restricted_unpickler_admits_only_plain_containers_and_arrays(module, name):
    payload = f"c{module}\n{name}\n.".encode()  # protocol 0: push the global, stop
    with pytest.raises(FormatError, match=f"refusing to load {module}.{name}"):
        safe_unpickle(payload, source="x")
    ok = pickle.dumps({b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"labels": [1, 2],
                       b"meta": (1.5, "s", {1, 2}, b"b")}, protocol=2)
    out = safe_unpickle(ok)
    assert out[b"data"].dtype == np.uint8 and out[b"labels"] == [1, 2]


def test_cifar_python_batch_wrong_content(tmp_path):
    (tmp_path / "b").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [1, 2]}))
    with pytest.raises(FormatError, match="3072"):
        read_cifar_py(tmp_path / "b")
    (tmp_path / "c").write_bytes(b"not a pickle")
    with pytest.raises(FormatError):
        read_cifar_py(tmp_path / "c")


def test_cifar_truncated_batch_without_download_is_reported(tmp_path):
    folder = write_cifar_bin(tmp_path / "cifar-10-batches-bin", mini_cifar_arrays())
    path = folder / f"{CIFAR_BATCHES[0]}.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.warns(UserWarning, match="truncated"), pytest.raises(Exception, match="download=False"):
        load_cifar10(root=tmp_path, download=False)
