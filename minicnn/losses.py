"""Losses (Keras names). Each computes ``(value, gradient w.r.t. the model output)``.

When the model ends with a softmax and the loss is a cross-entropy, models
call ``from_logits_value_and_grad`` instead: the loss on the pre-softmax
logits z with the fused gradient (p - y) / N (stable and cheap).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .ops.loss import (cross_entropy_backward, cross_entropy_forward, softmax_cross_entropy_backward,
                       softmax_cross_entropy_forward)


def check_label_dtype(y, owner: str) -> None:
    """Labels must be numbers: class names ("cat", "dog") get an error showing how to map them."""
    y = np.asarray(y)
    if y.dtype.kind not in "USO":
        return
    examples = [str(v) for v in list(dict.fromkeys(y.ravel().tolist()))[:3]]
    what = "text" if y.dtype.kind in "US" else f"dtype {y.dtype}"
    raise ValueError(f"{owner}: labels must be integers 0..K-1 (or one-hot rows), got {what} labels such as "
                     f"{examples}. Map class names to integers first: "
                     f"classes, y_int = np.unique(y, return_inverse=True) (classes[k] is the name of class k)")


class Loss(ABC):
    name = "loss"
    #: whether a final softmax can be fused with this loss
    fuses_with_softmax = False

    @abstractmethod
    def value_and_grad(self, y_pred, y_true):
        """y_pred: the model output (N, ...), y_true: targets -> (mean loss, dL/dy_pred like y_pred)."""

    def __call__(self, y_true, y_pred):
        """Keras order: loss(y_true, y_pred) -> scalar."""
        return self.value_and_grad(np.asarray(y_pred, dtype=np.float64), y_true)[0]

    def get_config(self):
        return {"class_name": type(self).__name__, **{k: v for k, v in vars(self).items()}}


class CategoricalCrossentropy(Loss):
    """Targets one-hot (N, K). ``from_logits=True``: the model outputs raw scores."""

    name = "categorical_crossentropy"
    sparse = False
    fuses_with_softmax = True

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def value_and_grad(self, y_pred, y_true):
        if y_pred.ndim != 2:
            raise ValueError(f"{self.name}: model output must be (N, classes), got {y_pred.shape}")
        check_label_dtype(y_true, self.name)
        if self.from_logits:
            return self.from_logits_value_and_grad(y_pred, y_true)
        value, cache = cross_entropy_forward(y_pred, y_true, sparse=self.sparse)
        return value, cross_entropy_backward(cache)

    def from_logits_value_and_grad(self, z, y_true):
        check_label_dtype(y_true, self.name)
        value, cache = softmax_cross_entropy_forward(z, y_true, sparse=self.sparse)
        return value, softmax_cross_entropy_backward(cache)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Targets integer labels (N,)."""

    name = "sparse_categorical_crossentropy"
    sparse = True


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def value_and_grad(self, y_pred, y_true):
        y_true = np.asarray(y_true, dtype=y_pred.dtype).reshape(y_pred.shape) if np.size(y_true) == y_pred.size else None
        if y_true is None:
            raise ValueError(f"{self.name}: targets must have the shape of the output {y_pred.shape}")
        diff = y_pred - y_true
        return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def get(spec) -> Loss:
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, dict):
        cls = {c.__name__: c for c in (CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError)}
        config = dict(spec)
        return cls[config.pop("class_name")](**config)
    if isinstance(spec, str) and spec in LOSSES:
        return LOSSES[spec]()
    raise ValueError(f"compile: unknown loss {spec!r}; choose from {sorted(LOSSES)} or a Loss object")
