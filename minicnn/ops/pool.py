"""Pooling: max, average and global average, forward and backward.

Shapes: x: (N, H, W, C) -> y: (N, OH, OW, C) (global average: y: (N, C)).

Windows may overlap (stride < pool size): a cell then belongs to several
windows and its gradients add up. Padding:

- max pooling pads with -inf: a padded cell never wins;
- average pooling with ``"same"`` padding divides by the number of *real*
  cells in the window (Keras/TF); with int padding it divides by the full
  ``KH*KW``, counting padded zeros (PyTorch's default ``count_include_pad``).

Ties in max pooling: the first maximum in row-major window order takes the
whole gradient, in every kernel backend.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .conv import for_each_part
from .shapes import as_pair, check_padding, resolve_padding_2d

__all__ = [
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "global_avgpool_forward",
    "global_avgpool_backward",
]


def _check_x(x, owner):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{owner}: expected x of shape (N, H, W, C), got {x.shape}")
    if x.dtype not in (np.float32, np.float64):  # what the kernels are compiled for
        raise ValueError(f"{owner}: x must be float32 or float64, got {x.dtype}")
    return np.ascontiguousarray(x)


def _window_config(x, pool_size, strides, padding, owner):
    """Validate the window arguments; return pool_hw, strides_hw, pads, out_hw, count_pad."""
    pool_hw = as_pair(pool_size, "pool_size", owner)
    strides_hw = pool_hw if strides is None else as_pair(strides, "strides", owner)  # Keras default
    padding = check_padding(padding, owner)
    if not isinstance(padding, str):
        # PyTorch's rule: at most half a window of padding, so that every
        # window keeps at least one real cell.
        if padding[0] > pool_hw[0] // 2 or padding[1] > pool_hw[1] // 2:
            raise ValueError(
                f"{owner}: padding {padding} must be at most half the pool size {pool_hw}"
            )
    try:
        pads, out_hw = resolve_padding_2d(x.shape[1:3], pool_hw, strides_hw, padding)
    except ValueError as err:
        raise ValueError(f"{owner}: {err} (x {x.shape})") from None
    count_pad = not isinstance(padding, str)  # int padding: PyTorch counts the padded zeros
    return pool_hw, strides_hw, pads, out_hw, count_pad


def _check_dy(dy, shape, owner, dtype):
    dy = np.asarray(dy)
    if dy.shape != tuple(shape):
        raise ValueError(f"{owner}: dy must have shape {tuple(shape)}, got {dy.shape}")
    return np.ascontiguousarray(dy, dtype=dtype)


def maxpool2d_forward(x, pool_size=2, strides=None, padding="valid"):
    """Max over each window.

    x: (N, H, W, C); pool_size, strides: int or pair (strides default to
    pool_size); padding: "valid" | "same" | int | pair.
    Returns y: (N, OH, OW, C) and the cache (argmax: which cell won each window).
    """
    x = _check_x(x, "maxpool2d")
    pool_hw, strides_hw, pads, out_hw, _ = _window_config(x, pool_size, strides, padding, "maxpool2d")
    N, _, _, C = x.shape
    y = np.empty((N,) + tuple(out_hw) + (C,), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int32)
    # split by images over the worker threads when x is large (see conv.for_each_part)
    for_each_part(N, x.size, lambda start, stop: kernels.maxpool_forward(
        x[start:stop], pool_hw, strides_hw, pads, out_hw, out=(y[start:stop], argmax[start:stop])))
    cache = {"argmax": argmax, "x_shape": x.shape, "dtype": x.dtype, "pool_hw": pool_hw,
             "strides_hw": strides_hw, "pads": pads}
    return y, cache


def maxpool2d_backward(dy, cache):
    """dy: (N, OH, OW, C) -> dx: (N, H, W, C): each dy goes to its window's winner."""
    dy = _check_dy(dy, cache["argmax"].shape, "maxpool2d", cache["dtype"])
    x_shape, argmax = cache["x_shape"], cache["argmax"]
    dx = np.empty(x_shape, dtype=dy.dtype)
    for_each_part(x_shape[0], dx.size, lambda start, stop: kernels.maxpool_backward(
        dy[start:stop], argmax[start:stop], (stop - start,) + tuple(x_shape[1:]), cache["pool_hw"],
        cache["strides_hw"], cache["pads"], out=dx[start:stop]))
    return dx


def avgpool2d_forward(x, pool_size=2, strides=None, padding="valid"):
    """Mean over each window.

    x: (N, H, W, C) -> y: (N, OH, OW, C), and the cache. Arguments as in
    ``maxpool2d_forward``; see the module docstring for the divisor rules.
    """
    x = _check_x(x, "avgpool2d")
    pool_hw, strides_hw, pads, out_hw, count_pad = _window_config(x, pool_size, strides, padding,
                                                                  "avgpool2d")
    y = kernels.avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad)
    cache = {"x_shape": x.shape, "y_shape": y.shape, "dtype": x.dtype, "pool_hw": pool_hw,
             "strides_hw": strides_hw, "pads": pads, "count_pad": count_pad}
    return y, cache


def avgpool2d_backward(dy, cache):
    """dy: (N, OH, OW, C) -> dx: (N, H, W, C): each dy spread evenly over its window."""
    dy = _check_dy(dy, cache["y_shape"], "avgpool2d", cache["dtype"])
    return kernels.avgpool_backward(dy, cache["x_shape"], cache["pool_hw"], cache["strides_hw"],
                                    cache["pads"], cache["count_pad"])


def global_avgpool_forward(x):
    """Mean over all positions of each channel: x: (N, H, W, C) -> y: (N, C)."""
    x = _check_x(x, "global_avgpool")
    return x.mean(axis=(1, 2)), {"x_shape": x.shape, "dtype": x.dtype}


def global_avgpool_backward(dy, cache):
    """dy: (N, C) -> dx: (N, H, W, C), every position gets dy / (H*W)."""
    N, H, W, C = cache["x_shape"]
    dy = _check_dy(dy, (N, C), "global_avgpool", cache["dtype"])
    g = dy / (H * W)
    return np.ascontiguousarray(np.broadcast_to(g[:, None, None, :], (N, H, W, C)))
