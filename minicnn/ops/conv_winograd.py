"""3x3 stride-1 convolution by Winograd's F(2x2, 3x3) or F(4x4, 3x3): 2.25 or 4 times fewer multiplications.

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

Bigger tiles, F(4x4, 3x3) (``kernels/winograd4.py``, the default: ``conv.WINOGRAD_TILE``):
the same steps with 4x4 output tiles, 6x6 input tiles and 36 cells, so 36
GEMMs that do 36*T'*C*F multiply-adds for T' = T/4 tiles of 16 outputs,
2.25 per output where F(2x2) does 4 and im2col 9. Its matrices hold 2, 4, 5,
8 and 1/6, 1/24: a few more operations per transform, and float32 results
10-20x further from the exact ones: 3e-6 to 6e-6 of the largest output
against a float64 computation, where F(2x2) and im2col stay within 2e-7 to 7e-7.
Measured on the course machine (one core, batch 128), F(4x4) takes 0.70-0.79
of F(2x2)'s time per layer, forward and backward, and a whole PW09 training
step on two threads 0.85 (benchmarks/README.md). Everything below is written
for any tile size m: ``_Geometry`` holds m, the input tile a = m + 2 and the
module with that size's transforms.

Chunks and worker threads as in ``conv.py``: a few images at a time, one
worker per core, single-threaded BLAS inside, dW summed in chunk order, so
the result does not depend on the thread count. The numbers differ from
im2col's in the last bits (other roundings); tests check both agree with the
loop formulas of ``kernels/conv_loops.py`` (float64, 1e-10) and each other.
"""
from __future__ import annotations

import numpy as np

from ..kernels import winograd as wk2
from ..kernels import winograd4 as wk4
from . import conv as conv_op

__all__ = ["winograd_forward", "winograd_backward", "kernel_transform", "kernel_transform_adjoint", "TRANSFORMS"]

#: Output tile size m -> the module with F(m x m, 3x3)'s matrices and transforms (input tiles m + 2).
TRANSFORMS = {2: wk2, 4: wk4}


def kernel_transform(w, m=2):
    """w: (3, 3, C, F) -> V: (a*a, C, F), V[a*i + j] = (G g G^T)[i, j] for each kernel g = w[:, :, c, f]
    (a = m + 2: 16 cells for F(2x2, 3x3), 36 for F(4x4, 3x3))."""
    G = TRANSFORMS[m].WINOGRAD_MATRICES["G"].astype(w.dtype)
    V = np.einsum("ak,klcf,bl->abcf", G, w, G)
    return np.ascontiguousarray(V.reshape(len(G) ** 2, w.shape[2], w.shape[3]))


def kernel_transform_adjoint(dV, m=2):
    """dV: (a*a, C, F) -> dW: (3, 3, C, F) = G^T dV G per channel pair (the adjoint of kernel_transform)."""
    G = TRANSFORMS[m].WINOGRAD_MATRICES["G"].astype(dV.dtype)
    a = len(G)
    return np.einsum("ak,abcf,bl->klcf", G, dV.reshape(a, a, *dV.shape[1:]), G)


class _Geometry:
    """Tile counts and padded-buffer sizes for one call with m x m output tiles (m = 2 or 4)."""

    def __init__(self, x_shape, F, pads, out_hw, dtype, m=2):
        N, H, W, C = x_shape
        self.m, self.a = m, m + 2                               # output and input tile sizes
        self.k = TRANSFORMS[m]                                  # its transforms
        self.cells = self.a * self.a                            # numbers per transformed tile
        self.H, self.W, self.C, self.F = H, W, C, F
        self.top, self.left = pads[0], pads[2]
        self.OH, self.OW = out_hw
        self.TH, self.TW = -(-self.OH // m), -(-self.OW // m)   # m x m output tiles, the last may be cut
        self.WP = m * self.TW + 2                               # columns of (padded) input the tiles read
        self.zero_row = np.zeros(W * C, dtype=dtype)            # read for padding rows
        self.tiles = self.TH * self.TW                          # per image
        # Whole images whose U and M fill about WINOGRAD_CHUNK_BYTES (the L2 cache), as im2col's columns do.
        # Measured (one core, F(2x2)): 1024 or 2048 tiles per chunk instead made the backward pass up to 1.5x
        # slower.
        per_image = self.cells * self.tiles * (C + F) * np.dtype(dtype).itemsize
        self.step = int(max(1, min(N, conv_op.WINOGRAD_CHUNK_BYTES // max(per_image, 1))))

    def buffers(self, dtype):
        """One worker's buffers: U and M (flat), the input transform's scratch E (its padding columns
        zeros for good: image k's rows sit at the same place whatever the chunk's length), and
        scratch for the other transforms (the output transform's m*a planes of T*F numbers, or the
        adjoint's a planes of n*TH*m*TW*F: the same size)."""
        u = np.empty(self.cells * self.step * self.tiles * self.C, dtype=dtype)
        m = np.empty(self.cells * self.step * self.tiles * self.F, dtype=dtype)
        E = np.zeros((self.step, self.TH, self.a, self.WP, self.C), dtype=dtype)
        e = np.empty(self.a * self.step * self.TH * self.m * self.TW * max(self.C, self.F), dtype=dtype)
        return u, m, (E, e)

    def transformed_input(self, x_chunk, u, scratch):
        """U: (a*a, n*tiles, C) of x_chunk: (n, H, W, C), padded on the fly."""
        n = len(x_chunk)
        U = u[: self.cells * n * self.tiles * self.C].reshape(self.cells, n * self.tiles, self.C)
        E = scratch[0][:n]
        self.k.input_transform(x_chunk.reshape(n, self.H, self.W * self.C), self.zero_row, self.top, self.left,
                               self.TH, self.TW, E.reshape(n, self.TH, self.a, self.WP * self.C), E, U)
        return U

    def padded_dy_buffer(self, dtype):
        """Scratch for dy padded to whole tiles, or None when the tiles fit the output exactly."""
        if self.OH % self.m or self.OW % self.m:
            return np.zeros((self.step, self.m * self.TH, self.m * self.TW, self.F), dtype=dtype)
        return None

    def transformed_output_grad(self, dy_chunk, dyp, m, scratch):
        """dM: (a*a, n*tiles, F) of dy_chunk: (n, OH, OW, F) (dyp: ``padded_dy_buffer``, for cut tiles)."""
        n, F, mm = len(dy_chunk), self.F, self.m
        if self.OH % mm or self.OW % mm:  # the last tiles stick out: pad dy with zeros
            dyp[:n, :self.OH, :self.OW] = dy_chunk
            dy_chunk = dyp[:n]
        dM = m[: self.cells * n * self.tiles * F].reshape(self.cells, n * self.tiles, F)
        P = scratch[1][: self.a * n * self.TH * mm * self.TW * F].reshape(self.a, n, self.TH, mm * self.TW, F)
        self.k.output_transform_adjoint(dy_chunk.reshape(n, mm * self.TH, mm * self.TW * F), self.TH, self.TW,
                                        P.reshape(self.a, n, self.TH, mm * self.TW * F), P, dM)
        return dM


def winograd_forward(x, w, b, pads, out_hw, m=2):
    """y = conv(x, w) + b for a 3x3 kernel, stride 1, with m x m output tiles (F(m x m, 3x3)).

    x: (N, H, W, C), w: (3, 3, C, F) -> y: (N, OH, OW, F)."""
    N = x.shape[0]
    F = w.shape[3]
    geo = _Geometry(x.shape, F, pads, out_hw, x.dtype, m)
    V = kernel_transform(w, m)
    bias = b if b is not None else np.zeros(F, dtype=x.dtype)
    y = np.empty((N, geo.OH, geo.OW, F), dtype=x.dtype)
    cells, rows = geo.cells, geo.m * geo.a

    def work(chunks):
        u, mbuf, scratch = geo.buffers(x.dtype)
        for start, stop in chunks:
            U = geo.transformed_input(x[start:stop], u, scratch)
            T = U.shape[1]
            M = np.matmul(U, V, out=mbuf[: cells * T * F].reshape(cells, T, F))  # the a*a GEMMs
            S = scratch[1][: rows * T * F].reshape(rows, T, F)
            geo.k.output_transform(M.reshape(cells, T * F), geo.TH, geo.TW, bias, S.reshape(rows, T * F), S,
                                   y[start:stop])

    conv_op._for_each_chunk(N, geo.step, work)
    return y


def winograd_backward(dy, x, w, pads, out_hw, has_bias, need_dx=True, m=2):
    """Gradients of winograd_forward. dy: (N, OH, OW, F) -> dx (or None), dw: (3, 3, C, F), db (or None)."""
    N, H, W, C = x.shape
    F = w.shape[3]
    geo = _Geometry(x.shape, F, pads, out_hw, x.dtype, m)
    cells = geo.cells
    V_T = kernel_transform(w, m).transpose(0, 2, 1)  # (a*a, F, C) views: BLAS reads them transposed
    dx = np.empty_like(x) if need_dx else None

    def work(chunks):
        """Fill dx for these chunks; return {start: (dV, db) of that chunk}."""
        u, mbuf, scratch = geo.buffers(x.dtype)
        q = np.empty_like(u) if need_dx else None
        dyp = geo.padded_dy_buffer(x.dtype)
        ones = np.ones(geo.step * geo.OH * geo.OW, dtype=x.dtype)
        sums = {}
        for start, stop in chunks:
            n = stop - start
            U = geo.transformed_input(x[start:stop], u, scratch)  # recomputed, as im2col's columns are
            dM = geo.transformed_output_grad(dy[start:stop], dyp, mbuf, scratch)
            dV = np.matmul(U.transpose(0, 2, 1), dM)  # (a*a, C, F): one term of dW per chunk
            db = ones[: n * geo.OH * geo.OW] @ dy[start:stop].reshape(-1, F) if has_bias else None
            if need_dx:
                dU = np.matmul(dM, V_T, out=U)  # U is used up: dU overwrites it
                T = dU.shape[1]
                Q = q[: cells * T * C].reshape(cells, T, C)
                geo.k.input_transform_adjoint(dU.reshape(cells, T * C), geo.top, geo.left, geo.TH, geo.TW,
                                              Q.reshape(cells, T * C), Q, dx[start:stop])
            sums[start] = (dV, db)
        return sums

    # The chunks' terms added in chunk order, whichever worker computed them: bit-reproducible.
    sums = {}
    for part in conv_op._for_each_chunk(N, geo.step, work):
        sums.update(part)
    dV = np.zeros((cells, C, F), dtype=x.dtype)
    db = np.zeros(F, dtype=x.dtype) if has_bias else None
    for start in sorted(sums):
        dV_chunk, db_chunk = sums[start]
        dV += dV_chunk
        if has_bias:
            db += db_chunk
    return dx, kernel_transform_adjoint(dV, m), db
