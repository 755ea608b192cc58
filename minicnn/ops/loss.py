"""Softmax cross-entropy, categorical (one-hot y) and sparse (integer y).

Loss: L = -(1/N) sum_n log p[n, y_n] with p = softmax(z).
Fused gradient w.r.t. the logits z: dL/dz = (p - onehot(y)) / N, which is
both cheaper and numerically stabler than chaining softmax and log.
"""
import numpy as np


def log_softmax(z):
    """log(softmax(z)) along the last axis, computed stably (log-sum-exp)."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def check_labels(y, n, k, sparse, owner="loss"):
    """Validate labels against N samples and K classes; return one-hot float targets."""
    if sparse:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (n,):
            raise ValueError(f"{owner}: sparse labels must have shape ({n},), got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise ValueError(f"{owner}: sparse labels must be integers, got dtype {y.dtype}")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"{owner}: labels must be in [0, {k - 1}], got values in [{y.min()}, {y.max()}]")
        onehot = np.zeros((n, k))
        onehot[np.arange(n), y] = 1.0
        return onehot
    y = np.asarray(y)
    if y.shape != (n, k):
        hint = " (integer labels? use loss='sparse_categorical_crossentropy' or to_categorical)" if y.ndim == 1 else ""
        raise ValueError(f"{owner}: one-hot targets must have shape ({n}, {k}), got {y.shape}{hint}")
    return y


def softmax_cross_entropy_forward(z, y, sparse=False):
    """z: (N, K) logits, y: (N,) int or (N, K) one-hot -> (mean loss, cache)."""
    n, k = z.shape
    target = check_labels(y, n, k, sparse)
    logp = log_softmax(z)
    loss = -np.sum(target * logp) / n
    return float(loss), (np.exp(logp), target)


def softmax_cross_entropy_backward(cache):
    """-> dz: (N, K) = (p - y) / N."""
    p, target = cache
    return ((p - target) / p.shape[0]).astype(p.dtype, copy=False)


def cross_entropy_forward(p, y, sparse=False, eps=1e-7):
    """Cross-entropy on probabilities p: (N, K) (when no softmax precedes the loss).

    Clipped to [eps, 1 - eps] like Keras, so log(0) never happens.
    """
    n, k = p.shape
    target = check_labels(y, n, k, sparse)
    pc = np.clip(p, eps, 1 - eps)
    return float(-np.sum(target * np.log(pc)) / n), (pc, target, p)


def cross_entropy_backward(cache):
    pc, target, p = cache
    # Where p was clipped the true gradient is 0; we keep -y/p there too, as it
    # only matters for probabilities within 1e-7 of 0 or 1.
    return (-target / pc / p.shape[0]).astype(p.dtype, copy=False)
