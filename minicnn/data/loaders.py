"""Keras-style loaders: ``(x_train, y_train), (x_test, y_test) = load_mnist()``.

Every loader returns uint8 images in NHWC layout and int64 labels:

=================  ======================  ===============  ==========
loader             x_train                 x_test           classes
=================  ======================  ===============  ==========
load_mnist         (60000, 28, 28, 1)      (10000, 28, ..)  digits 0-9
load_fashion_mnist (60000, 28, 28, 1)      (10000, 28, ..)  clothing
load_cifar10       (50000, 32, 32, 3)      (10000, 32, ..)  objects
load_digits        (1437, 8, 8, 1)         (360, 8, 8, 1)   digits 0-9
=================  ======================  ===============  ==========

Differences from ``keras.datasets``, on purpose: grayscale images keep their
channel axis (N, H, W, 1), so every dataset is NHWC; labels are always a
flat int64 vector (N,) (Keras gives CIFAR-10 labels as uint8 (N, 1)).
"""
from __future__ import annotations

import warnings

import numpy as np

from . import _checks as chk
from .cifar import read_cifar10_folder
from .download import ensure_cifar10, ensure_idx_dataset
from .errors import FormatError
from .idx import read_idx
from .paths import canonical_name, find_local_data, has_local_files, shared_data_dir

MNIST_CLASSES = tuple(str(d) for d in range(10))
DIGITS_CLASSES = MNIST_CLASSES
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
_CLASSES = {"mnist": MNIST_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES,
            "cifar10": CIFAR10_CLASSES, "digits": DIGITS_CLASSES}

# load_digits: a fixed, stratified 80/20 split with seed 0
DIGITS_TEST_FRACTION = 0.2
DIGITS_SEED = 0


def class_names(name: str) -> tuple[str, ...]:
    """The class names of a dataset, indexed by label: ``class_names("cifar10")[3] == "cat"``."""
    return _CLASSES[canonical_name(name)]


def _read_idx_split(folder, prefix: str, source: str):
    x = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or x.dtype != np.uint8:
        raise FormatError(
            f"{source}/{prefix}: expected uint8 images (N, H, W) and labels (N,), got "
            f"{x.dtype} {x.shape} and {y.shape}"
        )
    return x[..., None], y.astype(np.int64)  # add the channel axis: NHWC


def _offline_copy_root(name, root, mirrors):
    """With the default root and nothing cached there, use the course's offline
    copy (``../shared/data``, see ``find_local_data``) instead of downloading.

    Only for the default root and the official mirrors: an explicit ``root``
    or ``mirrors`` means the caller wants exactly that.
    """
    if root is not None or mirrors is not None or has_local_files(name, None) or shared_data_dir() is None:
        return root
    found = find_local_data(name)
    if name == "cifar10":
        warnings.warn(
            f"load_cifar10: no CIFAR-10 in the cache, using the offline copy in {shared_data_dir()} "
            f"(written to {found}). It is JPEG-derived: pixels differ from the original by about 5.8/255, "
            f"so report results as 'CIFAR-10 (JPEG copy)'.", stacklevel=3)
    return found


def _load_idx_dataset(name, root, download, mirrors, md5s, progress):
    root = _offline_copy_root(name, root, mirrors)
    folder = ensure_idx_dataset(name, root, download, mirrors, md5s, progress)
    return (_read_idx_split(folder, "train", str(folder)),
            _read_idx_split(folder, "t10k", str(folder)))


def load_mnist(root=None, download: bool = True, *, mirrors=None, md5s=None, progress: bool = True):
    """MNIST handwritten digits.

    Returns ``((x_train, y_train), (x_test, y_test))``: x uint8 (N, 28, 28, 1),
    y int64 (N,) in 0-9. Files: ``ROOT/mnist/*-idx?-ubyte.gz`` (md5-checked;
    downloaded if missing and ``download``). ``mirrors``/``md5s`` override
    ``download.MIRRORS["mnist"]`` / ``download.MD5["mnist"]``.
    """
    return _load_idx_dataset("mnist", root, download, mirrors, md5s, progress)


def load_fashion_mnist(root=None, download: bool = True, *, mirrors=None, md5s=None,
                       progress: bool = True):
    """Fashion-MNIST (Zalando clothing images); same shapes and files as ``load_mnist``,
    under ``ROOT/fashion-mnist/``. Class names: ``FASHION_MNIST_CLASSES``."""
    return _load_idx_dataset("fashion_mnist", root, download, mirrors, md5s, progress)


def load_cifar10(root=None, download: bool = True, *, mirrors=None, md5s=None,
                 progress: bool = True):
    """CIFAR-10.

    Returns ``((x_train, y_train), (x_test, y_test))``: x uint8 (N, 32, 32, 3),
    y int64 (N,) in 0-9. Reads ``ROOT/cifar-10-batches-bin/`` (official binary
    version), else ``ROOT/cifar-10-batches-py/`` (python version, through a
    restricted unpickler), else downloads ``cifar-10-binary.tar.gz`` (md5-checked)
    and extracts it. Class names: ``CIFAR10_CLASSES``.
    """
    root = _offline_copy_root("cifar10", root, mirrors)
    folder = ensure_cifar10(root, download, mirrors, md5s, progress)
    return read_cifar10_folder(folder)


def load_digits(test_fraction: float = DIGITS_TEST_FRACTION, seed: int = DIGITS_SEED):
    """scikit-learn's bundled 8x8 digits (1797 images), no download.

    Pixels are 0-16 in the original; we scale them to 0-255 (``round(v * 255 / 16)``)
    so every loader speaks uint8 0-255. The split is stratified (each digit in
    the same proportion in both parts), 80/20, seed 0 by default: always the
    same 1437 training and 360 test images.

    Returns ``((x_train (1437, 8, 8, 1) uint8, y_train), (x_test (360, 8, 8, 1), y_test))``.
    """
    if not chk.is_number(test_fraction) or not 0 < test_fraction < 1:
        chk.fail("load_digits", "test_fraction", "a number in (0, 1)", test_fraction)
    if not chk.is_int(seed) or seed < 0:
        chk.fail("load_digits", "seed", "an int >= 0", seed)
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = sk_load_digits()
    x = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return (x_train, y_train), (x_test, y_test)
