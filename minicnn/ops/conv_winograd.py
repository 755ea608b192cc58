"""3x3 stride-1 convolution by Winograd's F(2x2, 3x3): 2.25 times fewer multiplications.

Shapes as in ``minicnn/ops/conv.py`` (read it first: this is the same
convolution, computed another way, for the layer shape that dominates the
course nets):

    x: (N, H, W, C)   w: (3, 3, C, F)   b: (F,)   y: (N, OH, OW, F)

The idea (Lavin & Gray, 2015). Cut the output into 2x2 tiles; each one
depends on a 4x4 tile d of the (padded) input. For one channel pair, the
direct formula costs 2*2*3*3 = 36 multiplications per output tile; Winograd's
costs 16:

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (``*`` elementwise, 4x4)

with small constant matrices B^T (4x4), G (4x3) and A^T (2x4) whose entries
are 0, +-1 and +-1/2 (``minicnn/kernels/winograd.py``). Summed over the input
channels, the elementwise products become, for each of the 16 cells of the
4x4 tile, one matrix product over the channels:

    U = B^T d B     per tile and input channel:   U: (16, T, C)   (T tiles)
    V = G g G^T     per kernel:                    V: (16, C, F)
    M[k] = U[k] @ V[k]                             M: (16, T, F)   16 GEMMs
    y tile = A^T M A  (+ b)

The GEMMs do 16*T*C*F multiply-adds where im2col does 36*T*C*F: measured on
the course machine (one core, OpenBLAS), 10 ms against 22 ms for the 32x32x32
-> 32 layer at batch 128. The transforms are additions only.

The backward pass is the chain rule through those same linear steps, each
transposed (the adjoints of the transforms are in ``kernels/winograd.py``):

    dM = A dY A^T            (dY: the 2x2 tile of dy)
    dV[k] = U[k]^T @ dM[k]   -> dW = G^T dV G   (summed over chunks in chunk order)
    dU[k] = dM[k] @ V[k]^T   -> dx = B dU B^T, added at each tile's place
    db = sum of dy

Chunks and worker threads as in ``conv.py``: a few images at a time, one
worker per core, single-threaded BLAS inside, dW summed in chunk order, so
the result does not depend on the thread count. The numbers differ from
im2col's in the last bits (other roundings); tests check both agree with the
loop formulas of ``kernels/conv_loops.py`` (float64, 1e-10) and each other.
"""
from __future__ import annotations

import numpy as np

from ..kernels import winograd as wk
from . import conv as conv_op

__all__ = ["winograd_forward", "winograd_backward", "kernel_transform", "kernel_transform_adjoint"]


def kernel_transform(w):
    """w: (3, 3, C, F) -> V: (16, C, F), V[4a + b] = (G g G^T)[a, b] for each kernel g = w[:, :, c, f]."""
    G = wk.WINOGRAD_MATRICES["G"].astype(w.dtype)
    V = np.einsum("ak,klcf,bl->abcf", G, w, G)
    return np.ascontiguousarray(V.reshape(16, w.shape[2], w.shape[3]))


def kernel_transform_adjoint(dV):
    """dV: (16, C, F) -> dW: (3, 3, C, F) = G^T dV G per channel pair (the adjoint of kernel_transform)."""
    G = wk.WINOGRAD_MATRICES["G"].astype(dV.dtype)
    return np.einsum("ak,abcf,bl->klcf", G, dV.reshape(4, 4, *dV.shape[1:]), G)


class _Geometry:
    """Tile counts and padded-buffer sizes for one call."""

    def __init__(self, x_shape, F, pads, out_hw, dtype):
        N, H, W, C = x_shape
        self.H, self.W, self.C, self.F = H, W, C, F
        self.top, self.left = pads[0], pads[2]
        self.OH, self.OW = out_hw
        self.TH, self.TW = -(-self.OH // 2), -(-self.OW // 2)  # 2x2 output tiles, the last may be cut
        self.WP = 2 * self.TW + 2                               # columns of (padded) input the tiles read
        self.zero_row = np.zeros(W * C, dtype=dtype)            # read for padding rows
        self.tiles = self.TH * self.TW                          # per image
        # Whole images whose U and M fill about CHUNK_BYTES (the L2 cache), as im2col's columns do.
        # Measured (one core): 1024 or 2048 tiles per chunk instead made the backward pass up to 1.5x slower.
        per_image = 16 * self.tiles * (C + F) * np.dtype(dtype).itemsize
        self.step = int(max(1, min(N, conv_op.CHUNK_BYTES // max(per_image, 1))))

    def buffers(self, dtype):
        """One worker's buffers: U and M (flat), the input transform's scratch E (its padding columns
        zeros for good: image k's rows sit at the same place whatever the chunk's length), and
        scratch for the other transforms."""
        u = np.empty(16 * self.step * self.tiles * self.C, dtype=dtype)
        m = np.empty(16 * self.step * self.tiles * self.F, dtype=dtype)
        E = np.zeros((self.step, self.TH, 4, self.WP, self.C), dtype=dtype)
        e = np.empty(4 * self.step * self.TH * 2 * self.TW * max(self.C, self.F), dtype=dtype)
        return u, m, (E, e)

    def transformed_input(self, x_chunk, u, scratch):
        """U: (16, n*tiles, C) of x_chunk: (n, H, W, C), padded on the fly."""
        n = len(x_chunk)
        U = u[: 16 * n * self.tiles * self.C].reshape(16, n * self.tiles, self.C)
        E = scratch[0][:n]
        wk.input_transform(x_chunk.reshape(n, self.H, self.W * self.C), self.zero_row, self.top, self.left,
                           self.TH, self.TW, E.reshape(n, self.TH, 4, self.WP * self.C), E, U)
        return U

    def transformed_output_grad(self, dy_chunk, dyp, m, scratch):
        """dM: (16, n*tiles, F) of dy_chunk: (n, OH, OW, F) (dyp: zero-padded buffer for odd sizes)."""
        n, F = len(dy_chunk), self.F
        if self.OH % 2 or self.OW % 2:  # the last tiles stick out: pad dy with zeros
            dyp[:n, :self.OH, :self.OW] = dy_chunk
            dy_chunk = dyp[:n]
        dM = m[: 16 * n * self.tiles * F].reshape(16, n * self.tiles, F)
        P = scratch[1][: 4 * n * self.TH * 2 * self.TW * F].reshape(4, n, self.TH, 2 * self.TW, F)
        wk.output_transform_adjoint(dy_chunk.reshape(n, 2 * self.TH, 2 * self.TW * F), self.TH, self.TW,
                                    P.reshape(4, n, self.TH, 2 * self.TW * F), P, dM)
        return dM


def winograd_forward(x, w, b, pads, out_hw):
    """y = conv(x, w) + b for a 3x3 kernel, stride 1. x: (N, H, W, C), w: (3, 3, C, F) -> y: (N, OH, OW, F)."""
    N = x.shape[0]
    F = w.shape[3]
    geo = _Geometry(x.shape, F, pads, out_hw, x.dtype)
    V = kernel_transform(w)
    bias = b if b is not None else np.zeros(F, dtype=x.dtype)
    y = np.empty((N, geo.OH, geo.OW, F), dtype=x.dtype)

    def work(chunks):
        u, m, scratch = geo.buffers(x.dtype)
        for start, stop in chunks:
            U = geo.transformed_input(x[start:stop], u, scratch)
            T = U.shape[1]
            M = np.matmul(U, V, out=m[: 16 * T * F].reshape(16, T, F))  # the 16 GEMMs
            S = scratch[1][: 8 * T * F].reshape(8, T, F)
            wk.output_transform(M.reshape(16, T * F), geo.TH, geo.TW, bias, S.reshape(8, T * F), S, y[start:stop])

    conv_op._for_each_chunk(N, geo.step, work)
    return y


def winograd_backward(dy, x, w, pads, out_hw, has_bias, need_dx=True):
    """Gradients of winograd_forward. dy: (N, OH, OW, F) -> dx (or None), dw: (3, 3, C, F), db (or None)."""
    N, H, W, C = x.shape
    F = w.shape[3]
    geo = _Geometry(x.shape, F, pads, out_hw, x.dtype)
    V_T = kernel_transform(w).transpose(0, 2, 1)  # (16, F, C) views: BLAS reads them transposed
    dx = np.empty_like(x) if need_dx else None

    def work(chunks):
        """Fill dx for these chunks; return {start: (dV, db) of that chunk}."""
        u, m, scratch = geo.buffers(x.dtype)
        q = np.empty_like(u) if need_dx else None
        dyp = np.zeros((geo.step, 2 * geo.TH, 2 * geo.TW, F), dtype=x.dtype) if geo.OH % 2 or geo.OW % 2 else None
        ones = np.ones(geo.step * geo.OH * geo.OW, dtype=x.dtype)
        sums = {}
        for start, stop in chunks:
            n = stop - start
            U = geo.transformed_input(x[start:stop], u, scratch)  # recomputed, as im2col's columns are
            dM = geo.transformed_output_grad(dy[start:stop], dyp, m, scratch)
            dV = np.matmul(U.transpose(0, 2, 1), dM)  # (16, C, F): one term of dW per chunk
            db = ones[: n * geo.OH * geo.OW] @ dy[start:stop].reshape(-1, F) if has_bias else None
            if need_dx:
                dU = np.matmul(dM, V_T, out=U)  # U is used up: dU overwrites it
                T = dU.shape[1]
                Q = q[: 16 * T * C].reshape(16, T, C)
                wk.input_transform_adjoint(dU.reshape(16, T * C), geo.top, geo.left, geo.TH, geo.TW,
                                           Q.reshape(16, T * C), Q, dx[start:stop])
            sums[start] = (dV, db)
        return sums

    # The chunks' terms added in chunk order, whichever worker computed them: bit-reproducible.
    sums = {}
    for part in conv_op._for_each_chunk(N, geo.step, work):
        sums.update(part)
    dV = np.zeros((16, C, F), dtype=x.dtype)
    db = np.zeros(F, dtype=x.dtype) if has_bias else None
    for start in sorted(sums):
        dV_chunk, db_chunk = sums[start]
        dV += dV_chunk
        if has_bias:
            db += db_chunk
    return dx, kernel_transform_adjoint(dV), db
