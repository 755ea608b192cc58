"""The four tile transforms of Winograd's F(2x2, 3x3) convolution, as loops.

Used by ``minicnn/ops/conv_winograd.py`` (read its docstring first). With a
4x4 input tile d, a 3x3 kernel g and the constant matrices

    B^T = [[1, 0, -1, 0],     G = [[1,    0,   0  ],     A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],          [1/2,  1/2, 1/2],            [0, 1, -1, -1]]
           [0, -1, 1, 0],          [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]         [0,    0,   1  ]]

the 2x2 output tile of the correlation is  Y = A^T [(G g G^T) * (B^T d B)] A
(``*`` elementwise: 16 products instead of the 36 of the direct formula).
``WINOGRAD_MATRICES`` holds them; the tests check each loop below against the
matrix products it unrolls.

Each function is a plain Python loop nest compiled by Numba (run with
``NUMBA_DISABLE_JIT=1`` to step through it). Layouts: a chunk of n images
has T = n * TH * TW tiles (tile (i, j) of image k is t = (k * TH + i) * TW + j);
transformed tiles are stored as (16, T, channels), cell (a, b) of the 4x4
tile at index 4 * a + b, so that the 16 products become 16 matrix products
over the channels.

Each transform is two passes, M d M' = (M d) M': first the matrix combines
whole rows of the tiles, then the same combination is applied to columns.
Every loop writes one array from one other, over a contiguous run (a row of
W*C numbers, or the C channels of a cell), so the compiler vectorises it.
The combinations are written out (adds and subtracts only: B^T and A^T hold
0 and +-1). Writing all 16 cells of a tile in one loop instead was measured
about 10x slower (33 against 3 ms for the inputs of the 32x32x32 layer at
batch 128): with so many arrays written per iteration nothing was vectorised.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: The F(2x2, 3x3) matrices (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
WINOGRAD_MATRICES = {
    "BT": np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64),
    "G": np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64),
    "AT": np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64),
}


def input_transform_loops(x_rows, zero_row, top, left, TH, TW, E_rows, E, U):
    """U[:, t, c] = B^T d B for the 4x4 tile d of the zero-padded input at rows 2i.., cols 2j.., per channel.

    In two passes, rows then columns, (B^T d) B, each a set of simple loops
    with one array written and one read, which the compiler vectorises (one
    loop writing all 16 cells at once was measured about 10x slower: it is not).
    The padding is never materialised: a row above or below the image reads
    ``zero_row``, and the padding columns of the scratch E are zeros that
    this function never writes.

    x_rows: (n, H, W*C), the input with each row flattened; zero_row: (W*C,) zeros;
    top, left: padding rows above and columns before the image; E: (n, TH, 4, WP, C) scratch
    (WP >= 2*TW + 2) whose columns outside [left, left + W) hold zeros, E_rows the same memory as
    (n, TH, 4, WP*C); U: (16, n*TH*TW, C), overwritten.
    """
    n, H, L = x_rows.shape
    C = U.shape[2]
    first = left * C  # where the image's columns start in a padded row of E
    # B^T d: row a of the result combines input rows 2i..2i+3: 0-2, 1+2, 2-1, 1-3
    for k in range(n):
        for i in range(TH):
            r = 2 * i - top
            X0 = x_rows[k, r] if 0 <= r < H else zero_row
            X1 = x_rows[k, r + 1] if 0 <= r + 1 < H else zero_row
            X2 = x_rows[k, r + 2] if 0 <= r + 2 < H else zero_row
            X3 = x_rows[k, r + 3] if 0 <= r + 3 < H else zero_row
            # (through views of the image's columns: an index first + q, which the compiler
            # cannot prove non-negative, would keep these loops from being vectorised)
            D0 = E_rows[k, i, 0, first:first + L]
            D1 = E_rows[k, i, 1, first:first + L]
            D2 = E_rows[k, i, 2, first:first + L]
            D3 = E_rows[k, i, 3, first:first + L]
            for q in range(L):
                D0[q] = X0[q] - X2[q]
            for q in range(L):
                D1[q] = X1[q] + X2[q]
            for q in range(L):
                D2[q] = X2[q] - X1[q]
            for q in range(L):
                D3[q] = X1[q] - X3[q]
    # (B^T d) B: cell (a, b) combines columns 2j..2j+3 of row a the same way
    for a in range(4):
        for k in range(n):
            for i in range(TH):
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 2 * j
                    for c in range(C):
                        U[4 * a, t, c] = E[k, i, a, s, c] - E[k, i, a, s + 2, c]
                    for c in range(C):
                        U[4 * a + 1, t, c] = E[k, i, a, s + 1, c] + E[k, i, a, s + 2, c]
                    for c in range(C):
                        U[4 * a + 2, t, c] = E[k, i, a, s + 2, c] - E[k, i, a, s + 1, c]
                    for c in range(C):
                        U[4 * a + 3, t, c] = E[k, i, a, s + 1, c] - E[k, i, a, s + 3, c]


def output_transform_loops(M_flat, TH, TW, bias, S_flat, S, y):
    """y[k, 2i+p, 2j+q, f] = (A^T m A)[p, q] + bias[f] for the 4x4 tile m = M[:, t, f].

    Rows first (A^T m: rows 0+1+2 and 1-2-3, on whole planes), then columns
    the same way, written to y.

    M_flat: (16, n*TH*TW*F), the products M: (16, n*TH*TW, F) with each plane flattened;
    bias: (F,) (zeros for a conv without bias); S: (8, n*TH*TW, F) scratch, S_flat the same
    memory as (8, n*TH*TW*F); y: (n, OH, OW, F), overwritten (OH may be 2*TH - 1: the cells past
    the border are not written).
    """
    n, OH, OW, F = y.shape
    L = M_flat.shape[1]
    for b in range(4):  # S[b] = row 0 of A^T m, S[4 + b] = row 1
        for q in range(L):
            S_flat[b, q] = M_flat[b, q] + M_flat[4 + b, q] + M_flat[8 + b, q]
        for q in range(L):
            S_flat[4 + b, q] = M_flat[4 + b, q] - M_flat[8 + b, q] - M_flat[12 + b, q]
    for k in range(n):
        for i in range(TH):
            for p in range(2):
                r = 2 * i + p
                if r >= OH:
                    continue
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 2 * j
                    for f in range(F):
                        y[k, r, s, f] = S[4 * p, t, f] + S[4 * p + 1, t, f] + S[4 * p + 2, t, f] + bias[f]
                    if s + 1 < OW:
                        for f in range(F):
                            y[k, r, s + 1, f] = S[4 * p + 1, t, f] - S[4 * p + 2, t, f] - S[4 * p + 3, t, f] + bias[f]


def output_transform_adjoint_loops(dyp_rows, TH, TW, P_rows, P, dM):
    """dM[:, t, f] = A dY A^T for each 2x2 tile dY of dy: the adjoint of ``output_transform``.

    Two passes like ``input_transform``: rows (A dY: y0, y0+y1, y0-y1, -y1),
    then columns the same way.

    dyp_rows: (n, >= 2*TH, 2*TW*F), dy padded with zeros to whole tiles, rows flattened;
    P: (4, n, TH, 2*TW, F) scratch, P_rows the same memory as (4, n, TH, 2*TW*F);
    dM: (16, n*TH*TW, F), overwritten.
    """
    n = dyp_rows.shape[0]
    L = P_rows.shape[3]
    F = dM.shape[2]
    for k in range(n):
        for i in range(TH):
            r = 2 * i
            for q in range(L):
                P_rows[0, k, i, q] = dyp_rows[k, r, q]
            for q in range(L):
                P_rows[1, k, i, q] = dyp_rows[k, r, q] + dyp_rows[k, r + 1, q]
            for q in range(L):
                P_rows[2, k, i, q] = dyp_rows[k, r, q] - dyp_rows[k, r + 1, q]
            for q in range(L):
                P_rows[3, k, i, q] = -dyp_rows[k, r + 1, q]
    for a in range(4):
        for k in range(n):
            for i in range(TH):
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 2 * j
                    for f in range(F):
                        dM[4 * a, t, f] = P[a, k, i, s, f]
                    for f in range(F):
                        dM[4 * a + 1, t, f] = P[a, k, i, s, f] + P[a, k, i, s + 1, f]
                    for f in range(F):
                        dM[4 * a + 2, t, f] = P[a, k, i, s, f] - P[a, k, i, s + 1, f]
                    for f in range(F):
                        dM[4 * a + 3, t, f] = -P[a, k, i, s + 1, f]


def input_transform_adjoint_loops(dU_flat, top, left, TH, TW, Q_flat, Q, dx):
    """dx = the sum over tiles of B dU B^T, added at each tile's place (tiles overlap by 2).

    The adjoint of ``input_transform``, columns first (Q = dU B^T: columns
    0, 1-2+3, -0+1+2, -3, on whole planes), then rows the same way, added
    onto dx; what falls on the padding (outside the image) is dropped.

    dU_flat: (16, n*TH*TW*C), dU: (16, n*TH*TW, C) with each plane flattened; Q: (16, n*TH*TW, C)
    scratch, Q_flat the same memory as (16, n*TH*TW*C); top, left: the padding before the image;
    dx: (n, H, W, C), overwritten (zeroed first, one image at a time so it stays in cache).
    """
    n, H, W, C = dx.shape
    L = dU_flat.shape[1]
    for a in range(4):
        for q in range(L):
            Q_flat[4 * a, q] = dU_flat[4 * a, q]
        for q in range(L):
            Q_flat[4 * a + 1, q] = dU_flat[4 * a + 1, q] - dU_flat[4 * a + 2, q] + dU_flat[4 * a + 3, q]
        for q in range(L):
            Q_flat[4 * a + 2, q] = -dU_flat[4 * a, q] + dU_flat[4 * a + 1, q] + dU_flat[4 * a + 2, q]
        for q in range(L):
            Q_flat[4 * a + 3, q] = -dU_flat[4 * a + 3, q]
    for k in range(n):
        dx[k] = 0
        for i in range(TH):
            r = 2 * i - top  # image row of the tile's first row
            for j in range(TW):
                t = (k * TH + i) * TW + j
                for b in range(4):
                    s = 2 * j + b - left
                    if s < 0 or s >= W:
                        continue  # a padding column
                    # B Q, column b: rows 0, 1-2+3, -0+1+2, -3 (padding rows skipped)
                    if 0 <= r < H:
                        for c in range(C):
                            dx[k, r, s, c] += Q[b, t, c]
                    if 0 <= r + 1 < H:
                        for c in range(C):
                            dx[k, r + 1, s, c] += Q[4 + b, t, c] - Q[8 + b, t, c] + Q[12 + b, t, c]
                    if 0 <= r + 2 < H:
                        for c in range(C):
                            dx[k, r + 2, s, c] += -Q[b, t, c] + Q[4 + b, t, c] + Q[8 + b, t, c]
                    if 0 <= r + 3 < H:
                        for c in range(C):
                            dx[k, r + 3, s, c] -= Q[12 + b, t, c]


def _jit(fn):
    return njit(cache=True, nogil=True)(fn)


input_transform = _jit(input_transform_loops)
output_transform = _jit(output_transform_loops)
output_transform_adjoint = _jit(output_transform_adjoint_loops)
input_transform_adjoint = _jit(input_transform_adjoint_loops)
