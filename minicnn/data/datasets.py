"""torchvision-style datasets: objects with ``len(ds)`` and ``ds[i] -> (image, label)``.

    train = MNIST(root, train=True, transform=transforms.ToFloat())
    x, y = train[0]            # x: (28, 28, 1) float32, y: int

A dataset can also hand out many samples at once, ``ds.get_batch(indices)``;
``DataLoader`` uses it so that a transform that accepts batches runs once per
batch instead of once per image.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numbers

import numpy as np

from . import _checks as chk
from .loaders import (CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES, load_cifar10,
                      load_fashion_mnist, load_mnist)


class Dataset(ABC):
    """Base class. Subclasses define ``__len__`` and ``__getitem__``."""

    @abstractmethod
    def __len__(self):
        """Subclasses compute this."""

    @abstractmethod
    def __getitem__(self, index):
        """Subclasses compute this."""

    def get_batch(self, indices):
        """``(x (B, H, W, C), y (B,))`` for the given indices; generic version: one by one."""
        items = [self[int(i)] for i in indices]
        return np.stack([np.asarray(x) for x, _ in items]), np.asarray([y for _, y in items])


class ArrayDataset(Dataset):
    """Samples from arrays: ``x`` (N, H, W, C) (or any (N, ...)), ``y`` (N,) (or None),
    with optional transforms.

    transform: applied to the image; if it accepts batches (``supports_batches``)
    ``get_batch`` applies it once to the whole batch. target_transform: to each label.
    """

    def __init__(self, x, y=None, transform=None, target_transform=None):
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError(f"{type(self).__name__}: x must be samples (N, ...), got a scalar")
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"{type(self).__name__}: x has {len(x)} samples but y has {len(y)}")
        for arg, t in (("transform", transform), ("target_transform", target_transform)):
            if t is not None and not callable(t):
                chk.fail(type(self).__name__, arg, "None or a callable", t)
        self.x, self.y = x, y
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.x)

    def _label(self, i):
        if self.y is None:
            return None
        y = self.y[i]
        y = y.item() if isinstance(y, np.generic) else y
        return self.target_transform(y) if self.target_transform else y

    def __getitem__(self, index):
        if not isinstance(index, numbers.Integral):
            raise TypeError(f"{type(self).__name__}: index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {len(self)} samples")
        x = self.x[index]
        x = self.transform(x) if self.transform else x.copy()
        return x, self._label(index)

    def get_batch(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        if self.transform is not None and not getattr(self.transform, "supports_batches", False):
            return super().get_batch(indices)
        x = self.x[indices]
        if self.transform is not None:
            x = self.transform(x)
        if self.y is None:
            y = None
        elif self.target_transform is None:
            y = self.y[indices]
        else:
            y = np.asarray([self._label(i) for i in indices])
        return x, y

    def __repr__(self):
        return (f"{type(self).__name__}(n={len(self)}, image_shape={self.x.shape[1:]}, "
                f"transform={self.transform!r})")


class _Official(ArrayDataset):
    """Common part of MNIST, FashionMNIST and CIFAR10: load arrays once, pick a split."""

    _loader = None
    classes: tuple = ()

    def __init__(self, root=None, train: bool = True, download: bool = False,
                 transform=None, target_transform=None):
        name = type(self).__name__
        self.train = chk.flag(name, "train", train)
        chk.flag(name, "download", download)
        (x_tr, y_tr), (x_te, y_te) = type(self)._loader(root=root, download=download)
        x, y = (x_tr, y_tr) if train else (x_te, y_te)
        super().__init__(x, y, transform, target_transform)


class MNIST(_Official):
    """MNIST as a dataset: images (28, 28, 1) uint8, labels int (see ``load_mnist``)."""
    _loader = staticmethod(load_mnist)
    classes = MNIST_CLASSES


class FashionMNIST(_Official):
    """Fashion-MNIST as a dataset: images (28, 28, 1) uint8, labels int."""
    _loader = staticmethod(load_fashion_mnist)
    classes = FASHION_MNIST_CLASSES


class CIFAR10(_Official):
    """CIFAR-10 as a dataset: images (32, 32, 3) uint8, labels int."""
    _loader = staticmethod(load_cifar10)
    classes = CIFAR10_CLASSES


class Subset(Dataset):
    """The samples ``indices`` of ``dataset``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        parent = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(parent)
        return Dataset.get_batch(self.dataset, parent)  # one by one

    def __repr__(self):
        return f"Subset(n={len(self)}, of={self.dataset!r})"


def random_split(dataset, lengths, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s.

    lengths: ints summing to ``len(dataset)``, or fractions summing to 1
    (rounded down, the remainder given out one by one from the first part).
    seed: int or ``np.random.Generator`` (the same seed gives the same split).

        >>> train, val = random_split(ds, [0.9, 0.1], seed=0)   # doctest: +SKIP
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(v, float) and 0 <= v <= 1 for v in lengths) \
            and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(f * n)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    elif all(chk.is_int(v) and v >= 0 for v in lengths) and sum(lengths) == n:
        counts = [int(v) for v in lengths]
    else:
        raise ValueError(f"random_split: lengths must be ints >= 0 summing to len(dataset)={n} "
                         f"or fractions summing to 1, got {lengths!r}")
    order = np.random.default_rng(chk.seed("random_split", seed)).permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
