"""Elementwise activations and softmax.

Each ``*_forward(x) -> (y, cache)``, ``*_backward(dy, cache) -> dx``; any shape.
"""
import numpy as np

from .. import kernels
from .conv import for_each_part


def relu_forward(x):
    """y = max(x, 0). The cache is y itself: y > 0 exactly where x > 0.

    Large arrays are split by samples over the worker threads (``for_each_part``).
    """
    x = np.ascontiguousarray(x)
    if x.ndim == 0:
        y = kernels.relu_forward(x)
        return y, y
    y = np.empty(x.shape, dtype=x.dtype)
    for_each_part(len(x), x.size, lambda start, stop: kernels.relu_forward(x[start:stop], out=y[start:stop]))
    return y, y


def relu_backward(dy, y):
    """dy flows only where the input was positive (the derivative at 0 is taken as 0)."""
    dy, y = np.ascontiguousarray(dy), np.ascontiguousarray(y)
    if dy.ndim == 0:
        return kernels.relu_backward(dy, y)
    dx = np.empty(dy.shape, dtype=dy.dtype)
    for_each_part(len(dy), dy.size,
                  lambda start, stop: kernels.relu_backward(dy[start:stop], y[start:stop], out=dx[start:stop]))
    return dx


def sigmoid_forward(x):
    # Split by sign so exp never overflows.
    y = np.empty_like(x)
    pos = x >= 0
    y[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    y[~pos] = ex / (1.0 + ex)
    return y, y


def sigmoid_backward(dy, y):
    """d sigmoid = y (1 - y)."""
    return dy * y * (1 - y)


def tanh_forward(x):
    y = np.tanh(x)
    return y, y


def tanh_backward(dy, y):
    """d tanh = 1 - y^2."""
    return dy * (1 - y * y)


def linear_forward(x):
    return x, None


def linear_backward(dy, cache):
    return dy


def softmax_forward(x, axis=-1):
    """Softmax along ``axis`` (default: the class axis of (N, K)).

    Subtracting the max first changes nothing mathematically but keeps exp()
    from overflowing.
    """
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    y = e / e.sum(axis=axis, keepdims=True)
    return y, (y, axis)


def softmax_backward(dy, cache):
    """Jacobian-vector product: dx = y * (dy - sum(dy * y)).

    (d y_i / d x_j = y_i (delta_ij - y_j).)
    """
    y, axis = cache
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "softmax": (softmax_forward, softmax_backward),
    "linear": (linear_forward, linear_backward),
}
