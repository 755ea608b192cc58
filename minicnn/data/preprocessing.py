"""Preprocessing helpers: scaling, per-channel standardisation, one-hot labels."""
from __future__ import annotations

import numpy as np

from ..losses import check_label_dtype
from . import _checks as chk


def scale_to_unit(x) -> np.ndarray:
    """Pixels 0-255 (uint8 or float) -> float32 0-1: ``x / 255``."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"scale_to_unit: expected numeric pixels, got {x.dtype}")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(f"scale_to_unit: expected values in 0-255, got range "
                         f"[{x.min()}, {x.max()}]")
    return x.astype(np.float32) / np.float32(255.0)


class Standardizer:
    """Per-channel ``(x - mean) / std``, with mean and std measured on training data only.

        s = Standardizer().fit(x_train)        # x: (N, H, W, C)
        x_train, x_test = s.transform(x_train), s.transform(x_test)

    Fitting on the test set too would leak information about it into training.
    ``mean_`` and ``std_`` have shape (C,); ``epsilon`` guards constant channels.
    """

    def __init__(self, epsilon: float = 1e-7):
        self.epsilon = chk.non_negative("Standardizer", "epsilon", epsilon)
        self.mean_ = self.std_ = None

    def fit(self, x) -> "Standardizer":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"Standardizer.fit: expected (N, ..., C) with N >= 1, got shape {x.shape}")
        axes = tuple(range(x.ndim - 1))  # everything but the channel axis
        self.mean_ = x.mean(axis=axes)
        self.std_ = x.std(axis=axes)
        return self

    def _check(self, x, where):
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{where}: call fit(x_train) first")
        if x.shape[-1] != self.mean_.shape[0]:
            raise ValueError(f"Standardizer.{where}: fitted on {self.mean_.shape[0]} channels, "
                             f"got shape {x.shape}")

    def transform(self, x) -> np.ndarray:
        """float32 ``(x - mean_) / (std_ + epsilon)``, same shape."""
        x = np.asarray(x)
        self._check(x, "transform")
        return ((x - self.mean_) / (self.std_ + self.epsilon)).astype(np.float32)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        """Back to the original scale (e.g. to display standardised images)."""
        z = np.asarray(z)
        self._check(z, "inverse_transform")
        return (z * (self.std_ + self.epsilon) + self.mean_).astype(np.float32)

    def __repr__(self):
        if self.mean_ is None:
            return "Standardizer(not fitted)"
        return f"Standardizer(mean={np.round(self.mean_, 4).tolist()}, std={np.round(self.std_, 4).tolist()})"


def to_categorical(y, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Integer labels (N,) -> one-hot (N, num_classes).

    ``num_classes`` defaults to ``max(y) + 1``. Labels must be integers in
    ``0 .. num_classes - 1``; anything else is a ``ValueError`` that shows it.
    """
    y = np.asarray(y)
    check_label_dtype(y, "to_categorical")  # class names: say how to map them to integers
    if y.ndim == 2 and y.shape[1] == 1:  # Keras-style (N, 1) labels
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"to_categorical: expected labels of shape (N,), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"to_categorical: labels must be integers, got e.g. {y[np.mod(y, 1) != 0][:3]}")
        y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if not chk.is_int(num_classes) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be an int >= 1, got {num_classes!r}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ValueError(f"to_categorical: labels must be in 0..{num_classes - 1}, got "
                         f"{np.unique(y[bad])[:5].tolist()} (at index {int(np.flatnonzero(bad)[0])})")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out
