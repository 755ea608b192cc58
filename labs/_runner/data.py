"""The datasets of the labs, as the labs use them: scaled to [0, 1], cut to the
profile's size, with a key (for run configurations) and a source line (for reports).

CIFAR-10 on machines of the course's workplace comes from a JPEG-derived copy
(``../shared/data``): reports must say so. We tell it from the official files
by the test set's order, which the copy could not keep (the official test
batch starts with the labels 3 8 8 0 6 6 1 6 3 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from minicnn import data as mcdata

OFFICIAL_CIFAR10_TEST_START = (3, 8, 8, 0, 6, 6, 1, 6, 3, 1)
LOADERS = {"cifar10": mcdata.load_cifar10, "mnist": mcdata.load_mnist,
           "fashion_mnist": mcdata.load_fashion_mnist}
TITLES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


@dataclass
class LabData:
    """x: (N, H, W, C) float32 in [0, 1]; y: (N,) int64 class indices."""
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: Tuple[str, ...]
    source: str
    key: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def describe_source(name: str, y_test: np.ndarray) -> str:
    title = TITLES[name]
    if name == "cifar10" and tuple(int(v) for v in y_test[:10]) != OFFICIAL_CIFAR10_TEST_START:
        return (f"{title} (JPEG-derived copy from ../shared/data: pixels differ from the official images by "
                f"about 5.8/255 on average, the test set is in another order; accuracies are close to, not "
                f"equal to, those on the official files)")
    return f"{title} (official files)"


def _subset(x, y, n, n_classes, seed):
    """The first ``n`` images in a class-balanced order that does not depend on ``n``'s rounding:
    a fixed shuffle (seed), so small subsets still hold every class."""
    if n >= len(x):
        return x, y
    order = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[np.sort(order)], y[np.sort(order)]


def load(name: str, n_train: int, n_test: int, root=None) -> LabData:
    """The dataset ``name`` scaled to [0, 1], the first ``n_train`` / ``n_test`` images of a fixed
    random subset (all when the sizes reach the full set). Raises ``DatasetError`` when the files
    are missing and cannot be downloaded (or ``MINICNN_OFFLINE=1`` forbids downloading)."""
    if name not in LOADERS:
        raise ValueError(f"lab data: unknown dataset {name!r}; known: {sorted(LOADERS)}")
    import os
    import warnings
    download = os.environ.get("MINICNN_OFFLINE", "0") != "1"  # MINICNN_OFFLINE=1: never try the network
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the JPEG-copy warning: the report states the source itself
        (x_train, y_train), (x_test, y_test) = LOADERS[name](root=root, download=download, progress=False)
    source = describe_source(name, y_test)
    classes = mcdata.class_names(name)
    x_train, y_train = _subset(x_train, y_train, n_train, len(classes), seed=0)
    x_test, y_test = _subset(x_test, y_test, n_test, len(classes), seed=1)
    scale = lambda a: a.astype(np.float32) / np.float32(255.0)
    key = f"{name}:train={len(x_train)}:test={len(x_test)}:scale=1/255"
    return LabData(name, scale(x_train), y_train, scale(x_test), y_test, tuple(classes), source, key)
