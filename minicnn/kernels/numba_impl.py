"""Numba kernels: the reference loops, reordered for memory and compiled.

Each kernel is first written as a plain Python function (``*_loops``) and only
then compiled: ``_im2col = njit(cache=True)(im2col_loops)``. Run with
``NUMBA_DISABLE_JIT=1`` and the very same functions execute as ordinary
Python, so a debugger can step through them.

What makes them faster than the reference (besides compilation):

- The innermost loop always runs over the contiguous channel axis (NHWC), so
  reads and writes are sequential and LLVM vectorises them. (Writing the
  copies as slice assignments, ``cols[row, a:b] = x[n, ih, iw, :]``, was
  measured 2-3x slower: each slice builds a small array view.)
- No padded copy of the input is ever made: out-of-range cells are written as
  zeros (im2col) or skipped (col2im, pooling).

Why no ``parallel=True``: the conv op already runs these kernels on its own
worker threads, one per core, each on a cache-sized chunk of images (see
``minicnn/ops/conv.py``), so each call should stay on its thread. And a
``prange`` loop next to 2-thread BLAS was measured to stall on the 2-core
course machine: right after a GEMM, OpenBLAS's spinning threads keep the cores
and a 0.1 ms copy took 1-5 ms. The loops are still written with ``prange`` on
the batch axis to show where the parallelism is; set ``PARALLEL = True`` below
to try it (e.g. for pooling on a machine with many cores).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .names import KERNEL_NAMES

__all__ = list(KERNEL_NAMES)

PARALLEL = False  # see the module docstring


def _jit(fn):
    """Compile ``fn`` (a plain Python function) with the project's settings."""
    return njit(cache=True, parallel=PARALLEL, nogil=True)(fn)


# --------------------------------------------------------------------------- im2col


def im2col_loops(x, KH, KW, SH, SW, top, left, OH, OW, cols):
    """Fill cols: (N*OH*OW, KH*KW*C) from x: (N, H, W, C). See reference.im2col."""
    N, H, W, C = x.shape
    for n in prange(N):
        for oh in range(OH):
            for ow in range(OW):
                row = (n * OH + oh) * OW + ow
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        first = (kh * KW + kw) * C
                        if ih < 0 or ih >= H or iw < 0 or iw >= W:  # padding
                            for c in range(C):
                                cols[row, first + c] = 0
                        else:  # C contiguous numbers in, C contiguous numbers out
                            for c in range(C):
                                cols[row, first + c] = x[n, ih, iw, c]


def im2col_thin_loops(x, x_rows, KH, KW, SH, SW, top, left, OH, OW, cols):
    """im2col_loops for few channels (an RGB or grey first layer); x_rows: x as (N, H, W*C).

    One window row (KW cells of C channels) is KW*C contiguous numbers in x and
    in cols: when it lies wholly inside the image it is copied as one run.
    Measured 1.7x faster than im2col_loops for 3 channels, whose runs of C are
    too short to vectorise; for 32 channels it was slower, so ``im2col`` uses
    it only below THIN_CHANNELS. (The copy goes through views: an index that
    could be negative, iw0*C + q, keeps the compiler from vectorising.)
    """
    N, H, W, C = x.shape
    run = KW * C
    for n in prange(N):
        for oh in range(OH):
            for ow in range(OW):
                row = (n * OH + oh) * OW + ow
                iw0 = ow * SW - left  # the window's first column
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    first = kh * run
                    if ih < 0 or ih >= H:  # a padding row
                        for q in range(run):
                            cols[row, first + q] = 0
                    elif iw0 >= 0 and iw0 + KW <= W:  # the window row is inside: one run
                        src = x_rows[n, ih, iw0 * C:iw0 * C + run]
                        dst = cols[row, first:first + run]
                        for q in range(run):
                            dst[q] = src[q]
                    else:  # cell by cell, padding cells as zeros
                        for kw in range(KW):
                            iw = iw0 + kw
                            for c in range(C):
                                cols[row, first + kw * C + c] = x[n, ih, iw, c] if 0 <= iw < W else 0


def col2im_loops(cols, KH, KW, SH, SW, top, left, OH, OW, dx):
    """Overwrite dx: (N, H, W, C) with the sum of cols' windows. See reference.col2im."""
    N, H, W, C = dx.shape
    for n in prange(N):
        dx[n] = 0  # one image at a time, so it is still in cache when we accumulate
        for oh in range(OH):
            for ow in range(OW):
                row = (n * OH + oh) * OW + ow
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    if ih < 0 or ih >= H:
                        continue  # gradient that fell on padding is dropped
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        if iw < 0 or iw >= W:
                            continue
                        first = (kh * KW + kw) * C
                        for c in range(C):
                            dx[n, ih, iw, c] += cols[row, first + c]


_im2col = _jit(im2col_loops)
_im2col_thin = _jit(im2col_thin_loops)
THIN_CHANNELS = 8  # below this many channels im2col copies whole window rows (im2col_thin_loops)
_col2im = _jit(col2im_loops)


def im2col(x, kernel_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> cols: (N*OH*OW, KH*KW*C), column order (kh, kw, c)."""
    x = np.ascontiguousarray(x)
    N, H, W, C = x.shape
    (KH, KW), (SH, SW), (OH, OW) = kernel_hw, strides_hw, out_hw
    if out is None:
        out = np.empty((N * OH * OW, KH * KW * C), dtype=x.dtype)
    if C < THIN_CHANNELS:
        _im2col_thin(x, x.reshape(N, H, W * C), KH, KW, SH, SW, pads[0], pads[2], OH, OW, out)
    else:
        _im2col(x, KH, KW, SH, SW, pads[0], pads[2], OH, OW, out)
    return out


def col2im(cols, x_shape, kernel_hw, strides_hw, pads, out_hw, out=None):
    """cols: (N*OH*OW, KH*KW*C) -> dx: (N, H, W, C), overlapping entries summed."""
    cols = np.ascontiguousarray(cols)
    (KH, KW), (SH, SW), (OH, OW) = kernel_hw, strides_hw, out_hw
    if out is None:
        out = np.empty(x_shape, dtype=cols.dtype)
    _col2im(cols, KH, KW, SH, SW, pads[0], pads[2], OH, OW, out)
    return out


# --------------------------------------------------------------------------- pooling


def maxpool_forward_loops(x, KH, KW, SH, SW, top, left, y, argmax):
    """Fill y, argmax: (N, OH, OW, C) from x: (N, H, W, C). See reference.maxpool_forward.

    The first real cell of a window initialises the running max; later cells
    replace it only when strictly greater (first maximum wins ties).
    """
    N, H, W, C = x.shape
    _, OH, OW, _ = y.shape
    for n in prange(N):
        for oh in range(OH):
            for ow in range(OW):
                first = True
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    if ih < 0 or ih >= H:
                        continue  # padding never wins
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        if iw < 0 or iw >= W:
                            continue
                        k = kh * KW + kw
                        if first:
                            for c in range(C):
                                y[n, oh, ow, c] = x[n, ih, iw, c]
                                argmax[n, oh, ow, c] = k
                            first = False
                        else:
                            for c in range(C):
                                v = x[n, ih, iw, c]
                                if v > y[n, oh, ow, c]:
                                    y[n, oh, ow, c] = v
                                    argmax[n, oh, ow, c] = k


def maxpool_backward_loops(dy, argmax, KH, KW, SH, SW, top, left, dx):
    """Overwrite dx: (N, H, W, C) with dy routed to each window's winner.

    Walks the window cells like the forward pass; at each cell, the channels
    whose winner is this cell receive dy. (Decoding ``kh, kw = divmod(argmax,
    KW)`` per element instead was measured 3x slower: an integer division per
    element, and scattered writes that do not vectorise.)
    """
    N, OH, OW, C = dy.shape
    _, H, W, _ = dx.shape
    for n in prange(N):
        dx[n] = 0  # one image at a time: it stays in cache while we accumulate
        for oh in range(OH):
            for ow in range(OW):
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        if iw < 0 or iw >= W:
                            continue
                        k = kh * KW + kw
                        for c in range(C):
                            if argmax[n, oh, ow, c] == k:
                                dx[n, ih, iw, c] += dy[n, oh, ow, c]


def _real_cells(o, S, pad, K, size):
    """How many of the K window cells starting at o*S - pad lie in [0, size)."""
    start = o * S - pad
    return min(start + K, size) - max(start, 0)


def avgpool_forward_loops(x, KH, KW, SH, SW, top, left, count_pad, y):
    """Fill y: (N, OH, OW, C) with window means of x: (N, H, W, C). See reference."""
    N, H, W, C = x.shape
    _, OH, OW, _ = y.shape
    for n in prange(N):
        for oh in range(OH):
            for ow in range(OW):
                if count_pad:
                    div = KH * KW
                else:
                    div = _real_cells_jit(oh, SH, top, KH, H) * _real_cells_jit(ow, SW, left, KW, W)
                scale = 1.0 / div
                for c in range(C):
                    y[n, oh, ow, c] = 0
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        if iw < 0 or iw >= W:
                            continue
                        for c in range(C):
                            y[n, oh, ow, c] += x[n, ih, iw, c]
                for c in range(C):
                    y[n, oh, ow, c] *= scale


def avgpool_backward_loops(dy, KH, KW, SH, SW, top, left, count_pad, dx):
    """Overwrite dx: (N, H, W, C) with dy spread evenly over each window's real cells."""
    N, H, W, C = dx.shape
    _, OH, OW, _ = dy.shape
    for n in prange(N):
        dx[n] = 0
        for oh in range(OH):
            for ow in range(OW):
                if count_pad:
                    div = KH * KW
                else:
                    div = _real_cells_jit(oh, SH, top, KH, H) * _real_cells_jit(ow, SW, left, KW, W)
                scale = 1.0 / div
                for kh in range(KH):
                    ih = oh * SH - top + kh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * SW - left + kw
                        if iw < 0 or iw >= W:
                            continue
                        for c in range(C):
                            dx[n, ih, iw, c] += dy[n, oh, ow, c] * scale


_real_cells_jit = njit(cache=True, inline="always")(_real_cells)
_maxpool_forward = _jit(maxpool_forward_loops)
_maxpool_backward = _jit(maxpool_backward_loops)
_avgpool_forward = _jit(avgpool_forward_loops)
_avgpool_backward = _jit(avgpool_backward_loops)


def maxpool_forward(x, pool_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> y, argmax: (N, OH, OW, C); argmax = kh*KW + kw (int32); into out=(y, argmax)."""
    x = np.ascontiguousarray(x)
    N, _, _, C = x.shape
    OH, OW = out_hw
    if out is None:
        out = np.empty((N, OH, OW, C), dtype=x.dtype), np.empty((N, OH, OW, C), dtype=np.int32)
    y, argmax = out
    _maxpool_forward(x, pool_hw[0], pool_hw[1], strides_hw[0], strides_hw[1], pads[0], pads[2], y, argmax)
    return y, argmax


def maxpool_backward(dy, argmax, x_shape, pool_hw, strides_hw, pads, out=None):
    """dy, argmax: (N, OH, OW, C) -> dx: (N, H, W, C) (into ``out`` if given)."""
    dy = np.ascontiguousarray(dy)
    argmax = np.ascontiguousarray(argmax, dtype=np.int32)
    dx = np.empty(x_shape, dtype=dy.dtype) if out is None else out
    _maxpool_backward(dy, argmax, pool_hw[0], pool_hw[1], strides_hw[0], strides_hw[1], pads[0], pads[2], dx)
    return dx


def avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad):
    """x: (N, H, W, C) -> y: (N, OH, OW, C)."""
    x = np.ascontiguousarray(x)
    N, _, _, C = x.shape
    y = np.empty((N, out_hw[0], out_hw[1], C), dtype=x.dtype)
    _avgpool_forward(x, pool_hw[0], pool_hw[1], strides_hw[0], strides_hw[1], pads[0], pads[2],
                     bool(count_pad), y)
    return y


def avgpool_backward(dy, x_shape, pool_hw, strides_hw, pads, count_pad):
    """dy: (N, OH, OW, C) -> dx: (N, H, W, C)."""
    dy = np.ascontiguousarray(dy)
    dx = np.empty(x_shape, dtype=dy.dtype)
    _avgpool_backward(dy, pool_hw[0], pool_hw[1], strides_hw[0], strides_hw[1], pads[0], pads[2],
                      bool(count_pad), dx)
    return dx


# --------------------------------------------------------------------------- ReLU
# One pass over memory each way; NumPy's ``x * (x > 0)`` makes two (mask, then
# product) and ``dy * mask`` converts the mask on the fly (2-3x slower here).


def relu_forward_loops(x_flat, y_flat):
    """y = max(x, 0) over flat (contiguous) arrays; NaN stays NaN."""
    for i in range(x_flat.size):
        v = x_flat[i]
        y_flat[i] = 0 if v <= 0 else v


def relu_backward_loops(dy_flat, y_flat, dx_flat):
    """dx = dy where y > 0, else 0, over flat arrays."""
    for i in range(dy_flat.size):
        dx_flat[i] = dy_flat[i] if y_flat[i] > 0 else 0


_relu_forward = njit(cache=True, nogil=True)(relu_forward_loops)
_relu_backward = njit(cache=True, nogil=True)(relu_backward_loops)


def relu_forward(x, out=None):
    """x: any shape -> y = max(x, 0), same shape (``out``, contiguous, if given)."""
    x = np.ascontiguousarray(x)
    y = np.empty_like(x) if out is None else out
    _relu_forward(x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(dy, y, out=None):
    """dy, y: same shape -> dx = dy * (y > 0) (into ``out``, contiguous, if given)."""
    dy = np.ascontiguousarray(dy)
    y = np.ascontiguousarray(y)
    dx = np.empty_like(dy) if out is None else out
    _relu_backward(dy.reshape(-1), y.reshape(-1), dx.reshape(-1))
    return dx


# --------------------------------------------------------------------------- BatchNorm
# x seen as x2d: (M, C). Rows outer, channels inner: every pass reads memory
# sequentially, and the per-channel accumulators (float64) stay in registers /
# L1. NumPy's version makes 4-6 passes with temporaries; these make 2 (stats),
# 1 (apply), 2 (backward).


def batchnorm_stats_loops(x2d, mean, var):
    M, C = x2d.shape
    for c in range(C):
        mean[c] = 0.0
        var[c] = 0.0
    for m in range(M):
        for c in range(C):
            mean[c] += x2d[m, c]
    for c in range(C):
        mean[c] /= M
    for m in range(M):
        for c in range(C):
            d = x2d[m, c] - mean[c]
            var[c] += d * d
    for c in range(C):
        var[c] /= M


def batchnorm_apply_loops(x2d, scale, shift, y):
    M, C = x2d.shape
    for m in range(M):
        for c in range(C):
            y[m, c] = x2d[m, c] * scale[c] + shift[c]


def batchnorm_backward_loops(dy2d, x2d, mean, inv_std, gamma, batch_stats, dx, dgamma, dbeta):
    M, C = dy2d.shape
    for c in range(C):
        dgamma[c] = 0.0
        dbeta[c] = 0.0
    for m in range(M):
        for c in range(C):
            g = dy2d[m, c]
            dbeta[c] += g
            dgamma[c] += g * (x2d[m, c] - mean[c]) * inv_std[c]
    for m in range(M):
        for c in range(C):
            scale = gamma[c] * inv_std[c]
            if batch_stats:
                x_hat = (x2d[m, c] - mean[c]) * inv_std[c]
                dx[m, c] = scale / M * (M * dy2d[m, c] - dbeta[c] - x_hat * dgamma[c])
            else:
                dx[m, c] = scale * dy2d[m, c]


_batchnorm_stats = njit(cache=True, nogil=True)(batchnorm_stats_loops)
_batchnorm_apply = njit(cache=True, nogil=True)(batchnorm_apply_loops)
_batchnorm_backward = njit(cache=True, nogil=True)(batchnorm_backward_loops)


def batchnorm_stats(x2d):
    """x2d: (M, C) -> mean, biased var (C,) float64."""
    x2d = np.ascontiguousarray(x2d)
    mean = np.empty(x2d.shape[1])
    var = np.empty(x2d.shape[1])
    _batchnorm_stats(x2d, mean, var)
    return mean, var


def batchnorm_apply(x2d, mean, inv_std, gamma, beta):
    """y = (x - mean) * inv_std * gamma + beta, as one multiply-add per element."""
    x2d = np.ascontiguousarray(x2d)
    scale = np.asarray(gamma * inv_std, dtype=np.float64)
    shift = np.asarray(beta - mean * scale, dtype=np.float64)
    y = np.empty_like(x2d)
    _batchnorm_apply(x2d, scale, shift, y)
    return y


def batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats):
    """See reference.batchnorm_backward."""
    dy2d = np.ascontiguousarray(dy2d)
    x2d = np.ascontiguousarray(x2d)
    C = dy2d.shape[1]
    dx = np.empty_like(dy2d)
    dgamma = np.empty(C)
    dbeta = np.empty(C)
    _batchnorm_backward(dy2d, x2d, np.asarray(mean, np.float64), np.asarray(inv_std, np.float64),
                        np.asarray(gamma, np.float64), bool(batch_stats), dx, dgamma, dbeta)
    return dx, dgamma, dbeta
