"""CIFAR-10 files: the binary version and the python (pickle) version.

Binary version (``cifar-10-batches-bin/``, from ``cifar-10-binary.tar.gz``):
``data_batch_1.bin`` ... ``data_batch_5.bin`` and ``test_batch.bin``, each a
plain sequence of 3073-byte records::

    1 byte      label 0-9
    1024 bytes  red   plane, 32 rows of 32 pixels, top row first
    1024 bytes  green plane
    1024 bytes  blue  plane

Python version (``cifar-10-batches-py/``): the same batches as pickled dicts
``{b"data": uint8 array (10000, 3072) in the same plane order, b"labels":
list of ints, ...}``. Unpickling can run arbitrary code, so we use an
unpickler that only admits what those files contain (see ``SafeUnpickler``).

Both give images as planes (C, H, W); minicnn is channels-last, so we
transpose to (H, W, C).
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from .errors import FormatError

BIN_FOLDER = "cifar-10-batches-bin"
PY_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
IMAGE_BYTES = 32 * 32 * 3
RECORD_BYTES = 1 + IMAGE_BYTES


def planes_to_nhwc(flat: np.ndarray) -> np.ndarray:
    """(N, 3072) in R, G, B plane order -> (N, 32, 32, 3)."""
    return flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


# ---------------------------------------------------------------- binary version
def read_cifar_bin(path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch -> ``(x (N, 32, 32, 3) uint8, y (N,) int64)``."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise FormatError(
            f"{path}: {raw.size} bytes is not a whole number of {RECORD_BYTES}-byte "
            f"CIFAR-10 records (truncated or not a CIFAR-10 binary batch)"
        )
    records = raw.reshape(-1, RECORD_BYTES)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        raise FormatError(f"{path}: label {y.max()} out of range 0-9; not a CIFAR-10 batch")
    return planes_to_nhwc(records[:, 1:]), y


def bin_folder_complete(folder) -> bool:
    """All six batches present, each a non-empty whole number of records, and
    the five training batches of one size (the official ones: 10000 records
    each), so that a file cut short, even at a record boundary, is noticed."""
    folder = Path(folder)
    sizes = []
    for name in TRAIN_BATCHES + [TEST_BATCH]:
        f = folder / f"{name}.bin"
        if not f.is_file():
            return False
        sizes.append(f.stat().st_size)
        if sizes[-1] == 0 or sizes[-1] % RECORD_BYTES:
            return False
    return len(set(sizes[:len(TRAIN_BATCHES)])) == 1


# ---------------------------------------------------------------- python version
def _numpy_reconstruct():
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class SafeUnpickler(pickle.Unpickler):
    """An unpickler for CIFAR's python batches and nothing else.

    A pickle may name any importable callable (``os.system`` ...) and the
    standard unpickler calls it. The CIFAR batches only need dicts, lists,
    bytes and ints (built into the pickle opcodes, no lookup) plus the three
    numpy names that rebuild an array. Everything else is refused.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1")
        ("_codecs", "encode"),
    }
    BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "bytes", "bytearray",
                "str", "int", "float", "complex", "bool"}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            if name == "_reconstruct":
                return _numpy_reconstruct()
            if module == "_codecs":
                import codecs
                return codecs.encode
            return getattr(np, name)
        if module in ("builtins", "__builtin__") and name in self.BUILTINS:
            import builtins
            return getattr(builtins, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: CIFAR-10 batches contain only "
            f"dicts, lists and numpy arrays"
        )


def safe_unpickle(data: bytes, source: str = "<bytes>"):
    """Unpickle ``data`` with ``SafeUnpickler``; any failure is a ``FormatError``."""
    try:
        # encoding="bytes": the batches were pickled by Python 2 (keys are bytes)
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise FormatError(f"{source}: not a readable CIFAR-10 python batch ({e})") from e


def read_cifar_py(path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch -> ``(x (N, 32, 32, 3) uint8, y (N,) int64)``."""
    path = Path(path)
    batch = safe_unpickle(path.read_bytes(), source=str(path))
    if not isinstance(batch, dict):
        raise FormatError(f"{path}: expected a dict, got {type(batch).__name__}")
    get = lambda key: batch.get(key.encode(), batch.get(key))  # noqa: E731
    data, labels = get("data"), get("labels")
    if data is None or labels is None:
        raise FormatError(f"{path}: missing 'data' or 'labels' entry")
    data = np.asarray(data, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != IMAGE_BYTES or len(labels) != len(data):
        raise FormatError(
            f"{path}: expected data (N, {IMAGE_BYTES}) and N labels, got data "
            f"{data.shape} and {labels.shape[0]} labels"
        )
    return planes_to_nhwc(data), labels


def py_folder_complete(folder) -> bool:
    folder = Path(folder)
    return all((folder / name).is_file() for name in TRAIN_BATCHES + [TEST_BATCH])


# ---------------------------------------------------------------- either version
def find_cifar10_folder(root) -> Path | None:
    """``root/cifar-10-batches-bin`` if complete, else ``root/cifar-10-batches-py``, else None."""
    root = Path(root)
    if bin_folder_complete(root / BIN_FOLDER):
        return root / BIN_FOLDER
    if py_folder_complete(root / PY_FOLDER):
        return root / PY_FOLDER
    return None


def read_cifar10_folder(folder):
    """Read a complete ``cifar-10-batches-bin/`` or ``cifar-10-batches-py/`` folder.

    Returns ``((x_train (50000, 32, 32, 3), y_train), (x_test, y_test))``
    (fewer rows for miniature test folders).
    """
    folder = Path(folder)
    if folder.name == PY_FOLDER or not (folder / f"{TEST_BATCH}.bin").exists():
        read, suffix = read_cifar_py, ""
    else:
        read, suffix = read_cifar_bin, ".bin"
    parts = [read(folder / f"{name}{suffix}") for name in TRAIN_BATCHES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read(folder / f"{TEST_BATCH}{suffix}")
    return (x_train, y_train), (x_test, y_test)
