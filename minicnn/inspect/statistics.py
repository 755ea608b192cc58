"""Statistics of a trained model over a data set: which filters each class uses
(PW11 ex. 1) and the confusion matrix (Ex08 q. 3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._graph import as_float_input, batches, resolve_node, submodel

__all__ = ["FilterStatistics", "filter_statistics", "confusion_matrix"]


def _labels(y, owner: str) -> np.ndarray:
    """Class indices (N,) from indices or one-hot (N, K)."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ValueError(f"{owner}: y must be (N,) class indices or (N, K) one-hot, got y.shape={y.shape}, "
                         f"dtype {y.dtype}")
    return y.astype(np.int64)


def _images_and_labels(model, x, y, owner: str):
    """(x as float, y as (N,) ints), checked against the model and against each other."""
    y = _labels(y, owner)
    x = as_float_input(model, x, owner)
    if len(y) != len(x):
        raise ValueError(f"{owner}: {len(x)} images (x.shape={x.shape}) but {len(y)} labels")
    return x, y


@dataclass
class FilterStatistics:
    """Per-class statistics of one layer's filters (PW11 ex. 1).

    layer: the layer's name.
    classes: (K,) the class labels, sorted; row k of the arrays is classes[k].
    counts: (K,) number of samples of each class.
    mean_maps: (K, h, w, F) average output map of each filter over the
        class's samples ("compute the output of the filters for each of them
        and then average those outputs", PW11 ex. 1).
    mean_activation: (K, F) the same averaged over positions too: one number
        per filter and class, the heatmap of which filters each class uses.
    mode_maps: (K, h, w) ints in 0..F-1: at each position, the filter that is
        most often the strongest there among the class's samples (ties: the
        smallest filter index).
    """
    layer: str
    classes: np.ndarray
    counts: np.ndarray
    mean_maps: np.ndarray
    mean_activation: np.ndarray
    mode_maps: np.ndarray

    def __repr__(self) -> str:
        K, F = self.mean_activation.shape
        return (f"FilterStatistics(layer={self.layer!r}, {K} classes, {F} filters, "
                f"maps {self.mode_maps.shape[1:]})")


def filter_statistics(model, x, y, layer, batch_size: int = 256) -> FilterStatistics:
    """Filter activation statistics per class for ``layer`` (PW11 ex. 1).

    x: (N, H, W, C) images; y: (N,) labels or (N, K) one-hot; layer: a layer
    with output (N, h, w, F) (or (N, F), treated as 1x1 maps).
    For each class k, with A_n the layer's output for sample n:
      mean_maps[k, i, j, f] = mean over samples n of class k of A_n[i, j, f]
      mean_activation[k, f] = mean_{i,j} mean_maps[k, i, j, f]
      mode_maps[k, i, j]    = mode over samples n of class k of argmax_f A_n[i, j, f]
    The argmax and the mode take the smallest filter index on ties (NumPy's
    argmax); where a ReLU leaves every filter at 0 that is filter 0.
    Returns a :class:`FilterStatistics`; ``minicnn.viz.filter_statistics_figure``
    draws it.
    """
    owner = "filter_statistics"
    x, y = _images_and_labels(model, x, y, owner)
    node = resolve_node(model, layer, owner)
    target, features = node.layer, submodel(model, node)  # Model(model.input, layer.output)
    classes = np.unique(y)
    sums = counts = votes = None
    # Batch by batch, so a whole data set's activations never sit in memory at once.
    for sl in batches(len(x), batch_size, owner):
        A = features.predict_on_batch(x[sl])
        if A.ndim == 2:
            A = A[:, None, None, :]
        if A.ndim != 4:
            raise ValueError(f"{owner}: layer={target.name!r} outputs shape {A.shape}; expected (N, h, w, F) "
                             f"or (N, F)")
        n, h, w, F = A.shape
        if sums is None:
            sums = np.zeros((len(classes), h, w, F))
            counts = np.zeros(len(classes), dtype=np.int64)
            votes = np.zeros((len(classes), h * w, F), dtype=np.int64)
        k_of = np.searchsorted(classes, y[sl])          # row of each sample's class
        np.add.at(sums, k_of, A)                         # sums[k] += A_n for each sample n of class k
        np.add.at(counts, k_of, 1)
        winner = A.argmax(axis=-1).reshape(n, h * w)     # argmax takes the first (smallest) index on ties
        pixel = np.broadcast_to(np.arange(h * w), (n, h * w))
        np.add.at(votes, (k_of[:, None], pixel, winner), 1)  # votes[k, p, f] += 1
    mean_maps = sums / counts[:, None, None, None]
    mode_maps = votes.argmax(axis=-1).reshape(len(classes), h, w)  # most votes; ties -> smallest f
    return FilterStatistics(target.name, classes, counts, mean_maps, mean_maps.mean(axis=(1, 2)), mode_maps)


def confusion_matrix(model, x, y, num_classes: Optional[int] = None, batch_size: int = 256) -> np.ndarray:
    """(K, K) counts, rows = true class, columns = predicted (sklearn's layout).

    y: (N,) labels or (N, K) one-hot. K defaults to the model's number of outputs.
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    owner = "confusion_matrix"
    x, y = _images_and_labels(model, x, y, owner)
    pred = model.predict(x, batch_size=batch_size).argmax(axis=-1)
    K = num_classes if num_classes is not None else int(model.output_shape[-1])
    return sk_confusion_matrix(y, pred, labels=np.arange(K))
