"""Vectorised NumPy kernels: same signatures and results as ``reference``.

Two tricks do all the work:

- ``sliding_window_view`` gives every window of the (padded) input as a
  *view* (no copy): ``windows[n, i, j, c, kh, kw] = xp[n, i + kh, j + kw, c]``.
  Slicing ``[:, ::SH, ::SW]`` keeps the strided windows.
- The adjoints (col2im, pooling backward) loop over the ``KH*KW`` window
  offsets only. For a fixed offset ``(kh, kw)`` the cells touched by all
  outputs form a strided slice of the padded input, and within one offset no
  cell is touched twice, so a plain ``+=`` on the slice is safe.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .reference import avgpool_divisors

from .names import KERNEL_NAMES

__all__ = list(KERNEL_NAMES)


def _pad(x, pads, value=0.0):
    """x: (N, H, W, C) -> (N, top+H+bottom, left+W+right, C), filled with ``value``."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(xp, kernel_hw, strides_hw, out_hw):
    """Strided windows of a padded input: (N, OH, OW, C, KH, KW), a view."""
    SH, SW = strides_hw
    OH, OW = out_hw
    win = sliding_window_view(xp, kernel_hw, axis=(1, 2))  # (N, H', W', C, KH, KW)
    return win[:, : (OH - 1) * SH + 1 : SH, : (OW - 1) * SW + 1 : SW]


def _offset_slice(kh, kw, strides_hw, out_hw):
    """Index of the padded-input cells seen at window offset (kh, kw) by all outputs."""
    SH, SW = strides_hw
    OH, OW = out_hw
    return (slice(None), slice(kh, kh + (OH - 1) * SH + 1, SH), slice(kw, kw + (OW - 1) * SW + 1, SW))


def _crop(xp, x_shape, pads):
    """Inverse of ``_pad``: drop the padded border."""
    top, _, left, _ = pads
    _, H, W, _ = x_shape
    return xp[:, top : top + H, left : left + W, :]


def im2col(x, kernel_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> cols: (N*OH*OW, KH*KW*C), column order (kh, kw, c)."""
    N, _, _, C = x.shape
    KH, KW = kernel_hw
    OH, OW = out_hw
    win = _windows(_pad(x, pads), kernel_hw, strides_hw, out_hw)
    win = win.transpose(0, 1, 2, 4, 5, 3)  # (N, OH, OW, KH, KW, C): the column order
    if out is None:
        out = np.empty((N * OH * OW, KH * KW * C), dtype=x.dtype)
    out.reshape(N, OH, OW, KH, KW, C)[...] = win  # the one copy
    return out


def col2im(cols, x_shape, kernel_hw, strides_hw, pads, out_hw, out=None):
    """cols: (N*OH*OW, KH*KW*C) -> dx: (N, H, W, C), overlapping entries summed."""
    N, H, W, C = x_shape
    KH, KW = kernel_hw
    OH, OW = out_hw
    top, bottom, left, right = pads
    c6 = cols.reshape(N, OH, OW, KH, KW, C)
    dxp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            dxp[_offset_slice(kh, kw, strides_hw, out_hw)] += c6[:, :, :, kh, kw, :]
    dx = _crop(dxp, x_shape, pads)
    if out is None:
        return np.ascontiguousarray(dx)
    out[...] = dx
    return out


def maxpool_forward(x, pool_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> y, argmax: (N, OH, OW, C); argmax = kh*KW + kw (int32); into out=(y, argmax)."""
    N, _, _, C = x.shape
    KH, KW = pool_hw
    OH, OW = out_hw
    # -inf padding: a padded cell never beats a real one.
    win = _windows(_pad(x, pads, -np.inf), pool_hw, strides_hw, out_hw)
    flat = win.reshape(N, OH, OW, C, KH * KW)  # last axis in row-major (kh, kw) order
    # np.argmax returns the *first* maximum: the tie rule of the reference.
    argmax = np.argmax(flat, axis=-1).astype(np.int32)
    y = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    if out is not None:
        out[0][...], out[1][...] = y, argmax
        return out
    return y, argmax


def maxpool_backward(dy, argmax, x_shape, pool_hw, strides_hw, pads, out=None):
    """dy, argmax: (N, OH, OW, C) -> dx: (N, H, W, C) (into ``out`` if given)."""
    N, H, W, C = x_shape
    KH, KW = pool_hw
    top, bottom, left, right = pads
    out_hw = dy.shape[1:3]
    dxp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=dy.dtype)
    for kh in range(KH):
        for kw in range(KW):
            won = argmax == kh * KW + kw  # outputs whose winner sits at this offset
            dxp[_offset_slice(kh, kw, strides_hw, out_hw)] += np.where(won, dy, 0)
    if out is not None:
        out[...] = _crop(dxp, x_shape, pads)
        return out
    return np.ascontiguousarray(_crop(dxp, x_shape, pads))


def avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad):
    """x: (N, H, W, C) -> y: (N, OH, OW, C)."""
    _, H, W, _ = x.shape
    div = avgpool_divisors((H, W), pool_hw, strides_hw, pads, out_hw, count_pad)
    win = _windows(_pad(x, pads), pool_hw, strides_hw, out_hw)
    total = win.sum(axis=(4, 5))  # padded zeros add nothing
    return (total / div[None, :, :, None]).astype(x.dtype, copy=False)


def avgpool_backward(dy, x_shape, pool_hw, strides_hw, pads, count_pad):
    """dy: (N, OH, OW, C) -> dx: (N, H, W, C)."""
    N, H, W, C = x_shape
    KH, KW = pool_hw
    top, bottom, left, right = pads
    out_hw = dy.shape[1:3]
    div = avgpool_divisors((H, W), pool_hw, strides_hw, pads, out_hw, count_pad)
    g = (dy / div[None, :, :, None]).astype(dy.dtype, copy=False)
    dxp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=dy.dtype)
    for kh in range(KH):
        for kw in range(KW):
            dxp[_offset_slice(kh, kw, strides_hw, out_hw)] += g
    # Gradient that landed on padding is simply cropped away.
    return np.ascontiguousarray(_crop(dxp, x_shape, pads))


def relu_forward(x, out=None):
    """y = max(x, 0)."""
    return np.maximum(x, 0, out=out)


def relu_backward(dy, y, out=None):
    """dx = dy * (y > 0)."""
    return np.multiply(dy, y > 0, out=out)


def batchnorm_stats(x2d):
    """x2d: (M, C) -> mean, biased var (C,) in float64."""
    mean = x2d.mean(axis=0, dtype=np.float64)
    centered = x2d - mean.astype(x2d.dtype)
    return mean, np.mean(centered * centered, axis=0, dtype=np.float64)


def batchnorm_apply(x2d, mean, inv_std, gamma, beta):
    """y = x * scale + shift with scale = gamma * inv_std, shift = beta - mean * scale."""
    scale = (gamma * inv_std).astype(x2d.dtype)
    shift = (beta - mean * gamma * inv_std).astype(x2d.dtype)
    y = x2d * scale
    y += shift
    return y


def batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats):
    """See reference.batchnorm_backward."""
    M = dy2d.shape[0]
    x_hat = (x2d - mean.astype(x2d.dtype)) * inv_std.astype(x2d.dtype)
    dbeta = dy2d.sum(axis=0, dtype=np.float64)
    dgamma = np.sum(dy2d * x_hat, axis=0, dtype=np.float64)
    scale = gamma * inv_std
    if not batch_stats:
        return dy2d * scale.astype(dy2d.dtype), dgamma, dbeta
    dx = (M * dy2d - dbeta.astype(dy2d.dtype) - x_hat * dgamma.astype(dy2d.dtype)) * (scale / M).astype(dy2d.dtype)
    return dx, dgamma, dbeta
