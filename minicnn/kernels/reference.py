"""Reference kernels: plain loops, one output element at a time.

This is the version to read. It is slow (pure Python) and exists to be
*obviously correct*: the NumPy and Numba backends are tested against it.

Shared argument conventions (every backend uses the same signatures):

- ``x``: input images, ``(N, H, W, C)`` (NHWC).
- ``kernel_hw = (KH, KW)``: window size; ``strides_hw = (SH, SW)``.
- ``pads = (top, bottom, left, right)`` and ``out_hw = (OH, OW)``: computed
  once by ``minicnn.ops.shapes.resolve_padding_2d``; kernels never re-derive them.
- Output pixel ``(oh, ow)`` looks at input rows ``oh*SH - top + kh`` for
  ``kh in range(KH)`` and columns ``ow*SW - left + kw`` for ``kw in range(KW)``.
  A row or column outside ``[0, H)`` / ``[0, W)`` is padding.

im2col column order is ``(kh, kw, c)``: column ``(kh*KW + kw)*C + c``. With
that order ``w.reshape(KH*KW*C, F)`` (Keras kernel layout) is the GEMM
operand, and ``cols @ w.reshape(-1, F)`` is already the NHWC output.
"""
from __future__ import annotations

import numpy as np

from .names import KERNEL_NAMES

__all__ = ["avgpool_divisors"] + list(KERNEL_NAMES)


def im2col(x, kernel_hw, strides_hw, pads, out_hw, out=None):
    """Unfold every receptive field of ``x`` into one row of a matrix.

    x: (N, H, W, C) -> cols: (N*OH*OW, KH*KW*C).
    Row ``(n*OH + oh)*OW + ow`` holds the window of output pixel (n, oh, ow);
    padded cells are zeros. ``out``, if given, is filled and returned.
    """
    N, H, W, C = x.shape
    KH, KW = kernel_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    OH, OW = out_hw
    cols = np.empty((N * OH * OW, KH * KW * C), dtype=x.dtype) if out is None else out
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                row = (n * OH + oh) * OW + ow
                for kh in range(KH):
                    for kw in range(KW):
                        ih = oh * SH - top + kh
                        iw = ow * SW - left + kw
                        first = (kh * KW + kw) * C
                        if 0 <= ih < H and 0 <= iw < W:
                            cols[row, first:first + C] = x[n, ih, iw, :]
                        else:  # padding
                            cols[row, first:first + C] = 0
    return cols


def col2im(cols, x_shape, kernel_hw, strides_hw, pads, out_hw, out=None):
    """The adjoint of im2col: add every row of ``cols`` back onto its window.

    cols: (N*OH*OW, KH*KW*C) -> dx: x_shape = (N, H, W, C).
    An input cell covered by several windows receives the *sum* of their
    entries; entries that fell on padding are dropped. ``out``, if given, is
    overwritten and returned.
    """
    N, H, W, C = x_shape
    KH, KW = kernel_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    OH, OW = out_hw
    dx = np.empty(x_shape, dtype=cols.dtype) if out is None else out
    dx[...] = 0
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                row = (n * OH + oh) * OW + ow
                for kh in range(KH):
                    for kw in range(KW):
                        ih = oh * SH - top + kh
                        iw = ow * SW - left + kw
                        first = (kh * KW + kw) * C
                        if 0 <= ih < H and 0 <= iw < W:
                            dx[n, ih, iw, :] += cols[row, first:first + C]
    return dx


def maxpool_forward(x, pool_hw, strides_hw, pads, out_hw, out=None):
    """Max over each window, and where it was.

    x: (N, H, W, C) -> y: (N, OH, OW, C), argmax: (N, OH, OW, C) int32
    (written into ``out = (y, argmax)`` when given, as in every kernel with ``out``).
    ``argmax`` is the window offset ``kh*KW + kw`` of the winner. Padded cells
    never win (they count as -inf). Ties: the first maximum in row-major
    window order wins (strict ``>`` below), so exactly one cell gets the
    gradient, identically in every backend.
    """
    N, H, W, C = x.shape
    KH, KW = pool_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    OH, OW = out_hw
    if out is None:
        out = np.empty((N, OH, OW, C), dtype=x.dtype), np.empty((N, OH, OW, C), dtype=np.int32)
    y, argmax = out
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    best, where = -np.inf, -1
                    for kh in range(KH):
                        for kw in range(KW):
                            ih = oh * SH - top + kh
                            iw = ow * SW - left + kw
                            if not (0 <= ih < H and 0 <= iw < W):
                                continue  # padding never wins
                            v = x[n, ih, iw, c]
                            if where == -1 or v > best:
                                best, where = v, kh * KW + kw
                    y[n, oh, ow, c] = best
                    argmax[n, oh, ow, c] = where
    return y, argmax


def maxpool_backward(dy, argmax, x_shape, pool_hw, strides_hw, pads, out=None):
    """Route each output gradient to the cell that won its window.

    dy, argmax: (N, OH, OW, C) -> dx: x_shape = (N, H, W, C). With
    overlapping windows (stride < pool size) a cell can win several windows;
    its gradients add up.
    """
    N, OH, OW, C = dy.shape
    KW = pool_hw[1]
    SH, SW = strides_hw
    top, _, left, _ = pads
    dx = np.zeros(x_shape, dtype=dy.dtype) if out is None else out
    dx[...] = 0
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    kh, kw = divmod(int(argmax[n, oh, ow, c]), KW)
                    ih = oh * SH - top + kh
                    iw = ow * SW - left + kw
                    dx[n, ih, iw, c] += dy[n, oh, ow, c]
    return dx


def avgpool_divisors(in_hw, pool_hw, strides_hw, pads, out_hw, count_pad):
    """How many cells each output averages over: (OH, OW) float64.

    ``count_pad=True`` (int padding, PyTorch's ``count_include_pad``): always
    ``KH*KW``. ``count_pad=False`` ("same", Keras/TF): only the real cells,
    which is (real rows in the window) * (real columns in the window).
    """
    H, W = in_hw
    KH, KW = pool_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    OH, OW = out_hw
    div = np.empty((OH, OW), dtype=np.float64)
    for oh in range(OH):
        for ow in range(OW):
            if count_pad:
                div[oh, ow] = KH * KW
            else:
                r0 = oh * SH - top
                c0 = ow * SW - left
                rows = min(r0 + KH, H) - max(r0, 0)
                colz = min(c0 + KW, W) - max(c0, 0)
                div[oh, ow] = rows * colz
    return div


def avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad):
    """Mean over each window: x: (N, H, W, C) -> y: (N, OH, OW, C).

    Padded cells contribute 0 to the sum; the divisor is given by
    ``avgpool_divisors`` (``count_pad`` chooses TF's or PyTorch's rule).
    """
    N, H, W, C = x.shape
    KH, KW = pool_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    OH, OW = out_hw
    div = avgpool_divisors((H, W), pool_hw, strides_hw, pads, out_hw, count_pad)
    y = np.empty((N, OH, OW, C), dtype=x.dtype)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    total = 0.0
                    for kh in range(KH):
                        for kw in range(KW):
                            ih = oh * SH - top + kh
                            iw = ow * SW - left + kw
                            if 0 <= ih < H and 0 <= iw < W:
                                total += x[n, ih, iw, c]
                    y[n, oh, ow, c] = total / div[oh, ow]
    return y


def avgpool_backward(dy, x_shape, pool_hw, strides_hw, pads, count_pad):
    """Spread each output gradient evenly over the real cells of its window.

    dy: (N, OH, OW, C) -> dx: x_shape = (N, H, W, C). Each real cell gets
    ``dy / divisor`` (the same divisor as the forward pass); overlapping
    windows add up.
    """
    N, H, W, C = x_shape
    KH, KW = pool_hw
    SH, SW = strides_hw
    top, _, left, _ = pads
    _, OH, OW, _ = dy.shape
    div = avgpool_divisors((H, W), pool_hw, strides_hw, pads, (OH, OW), count_pad)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    g = dy[n, oh, ow, c] / div[oh, ow]
                    for kh in range(KH):
                        for kw in range(KW):
                            ih = oh * SH - top + kh
                            iw = ow * SW - left + kw
                            if 0 <= ih < H and 0 <= iw < W:
                                dx[n, ih, iw, c] += g
    return dx


# --------------------------------------------------------------------------- ReLU


def relu_forward(x, out=None):
    """y = max(x, 0), element by element. x: any shape -> y: same shape (``out`` if given).

    Written ``0 if v <= 0 else v`` so that NaN stays NaN (as in NumPy and
    PyTorch): a diverging network must not be silently hidden.
    """
    y = np.empty_like(x) if out is None else out
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    for i in range(flat_x.size):
        v = flat_x[i]
        flat_y[i] = 0 if v <= 0 else v
    return y


def relu_backward(dy, y, out=None):
    """dx = dy where the output y was positive, else 0 (the slope at 0 is taken as 0).

    Reading the *output* y (not a saved mask) costs no memory: the next layer
    keeps y anyway.
    """
    dx = np.empty_like(dy) if out is None else out
    flat_dy, flat_y, flat_dx = dy.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(flat_dy.size):
        flat_dx[i] = flat_dy[i] if flat_y[i] > 0 else 0
    return dx


# --------------------------------------------------------------------------- BatchNorm
# x is seen as x2d: (M, C), M = N*H*W values per channel (NHWC reshaped, no copy).


def batchnorm_stats(x2d):
    """Per-channel mean and (biased) variance of x2d: (M, C) -> mean, var: (C,) float64.

    Two passes (mean first, then squared deviations): the one-pass
    ``E[x^2] - E[x]^2`` loses precision when the mean is large.
    """
    M, C = x2d.shape
    mean = np.zeros(C)
    var = np.zeros(C)
    for c in range(C):
        total = 0.0
        for m in range(M):
            total += x2d[m, c]
        mean[c] = total / M
        squares = 0.0
        for m in range(M):
            d = x2d[m, c] - mean[c]
            squares += d * d
        var[c] = squares / M
    return mean, var


def batchnorm_apply(x2d, mean, inv_std, gamma, beta):
    """y = (x - mean) * inv_std * gamma + beta, per channel. x2d: (M, C) -> y2d: (M, C)."""
    M, C = x2d.shape
    y = np.empty_like(x2d)
    for m in range(M):
        for c in range(C):
            y[m, c] = (x2d[m, c] - mean[c]) * inv_std[c] * gamma[c] + beta[c]
    return y


def batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats):
    """Gradients of batchnorm_apply. dy2d, x2d: (M, C) -> dx2d (M, C), dgamma, dbeta (C,).

    dbeta = sum dy, dgamma = sum dy * x_hat (x_hat recomputed from x). With
    batch statistics (training), mean and var depend on every x:

        dx = gamma * inv_std / M * (M * dy - dbeta - x_hat * dgamma)

    otherwise (moving statistics: constants) dx = dy * gamma * inv_std.
    """
    M, C = dy2d.shape
    dgamma = np.zeros(C)
    dbeta = np.zeros(C)
    for m in range(M):
        for c in range(C):
            x_hat = (x2d[m, c] - mean[c]) * inv_std[c]
            dbeta[c] += dy2d[m, c]
            dgamma[c] += dy2d[m, c] * x_hat
    dx = np.empty_like(dy2d)
    for m in range(M):
        for c in range(C):
            scale = gamma[c] * inv_std[c]
            if batch_stats:
                x_hat = (x2d[m, c] - mean[c]) * inv_std[c]
                dx[m, c] = scale / M * (M * dy2d[m, c] - dbeta[c] - x_hat * dgamma[c])
            else:
                dx[m, c] = scale * dy2d[m, c]
    return dx, dgamma, dbeta
