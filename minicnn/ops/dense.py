"""Fully connected layer: ``y = x @ W + b``.

Shapes: x: (N, D), W: (D, U) (Keras layout), b: (U,), y: (N, U).
"""
import numpy as np


def dense_forward(x, w, b=None):
    """x: (N, D), w: (D, U), b: (U,) or None -> y: (N, U), cache."""
    if x.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"dense: expected input (N, {w.shape[0]}), got {x.shape}")
    y = x @ w
    if b is not None:
        y += b
    return y, (x, w, b is not None)


def dense_backward(dy, cache):
    """dy: (N, U) -> dx: (N, D), dw: (D, U), db: (U,) or None.

    y_nu = sum_d x_nd W_du + b_u, hence
    dW = x^T dy, db = sum over the batch of dy, dx = dy W^T.
    """
    x, w, has_bias = cache
    dw = x.T @ dy
    db = dy.sum(axis=0) if has_bias else None
    dx = dy @ w.T
    return dx, dw, db
