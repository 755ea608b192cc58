"""The four tile transforms of Winograd's F(4x4, 3x3) convolution, as loops.

Read ``winograd.py`` first: this is the same algorithm with bigger tiles.
A 6x6 input tile d gives a 4x4 output tile

    Y = A^T [(G g G^T) * (B^T d B)] A       (``*`` elementwise: 36 products)

where the direct formula needs 16 * 9 = 144: 4 times fewer multiplications
(F(2x2, 3x3): 2.25 times). The matrices come from the interpolation points
0, 1, -1, 2, -2 and infinity (Lavin & Gray, 2015):

    B^T = [[4,  0, -5,  0, 1, 0],    G = [[ 1/4,     0,    0],    A^T = [[1, 1,  1, 1,  1, 0],
           [0, -4, -4,  1, 1, 0],         [-1/6,  -1/6, -1/6],           [0, 1, -1, 2, -2, 0],
           [0,  4, -4, -1, 1, 0],         [-1/6,   1/6, -1/6],           [0, 1,  1, 4,  4, 0],
           [0, -2, -1,  2, 1, 0],         [1/24,  1/12,  1/6],           [0, 1, -1, 8, -8, 1]]
           [0,  2, -1, -2, 1, 0],         [1/24, -1/12,  1/6],
           [0,  4,  0, -5, 0, 1]]         [   0,     0,    1]]

Per output, the products over the channels (the GEMMs, most of the time) cost
36/16 = 2.25 multiply-adds per output and channel pair instead of 4, and the
transformed tiles take 2.25 numbers per output instead of 4; the price is
transforms with more terms (multiplications by 2, 4, 5, 8) and float32
rounding errors 10-20x those of F(2x2, 3x3): measured against float64 on
the course layers, 3e-6 to 6e-6 of the largest output instead of 3e-7 to 7e-7.

Layouts as in ``winograd.py``, with 6x6 tiles: cell (a, b) of a transformed
tile at index 6 * a + b, tile (i, j) of image k at t = (k * TH + i) * TW + j,
TH x TW tiles of 4x4 outputs per image. The same two-pass structure (rows,
then columns, each loop writing one array over a contiguous run) keeps every
loop vectorisable.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: The F(4x4, 3x3) matrices.
WINOGRAD_MATRICES = {
    "BT": np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=np.float64),
    "G": np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=np.float64),
    "AT": np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                   dtype=np.float64),
}


def input_transform_loops(x_rows, zero_row, top, left, TH, TW, E_rows, E, U):
    """U[:, t, c] = B^T d B for the 6x6 tile d of the zero-padded input at rows 4i.., cols 4j.., per channel.

    Rows first (B^T d: each new row combines input rows 4i..4i+5 as a row of
    B^T says), then columns the same way. Padding as in ``winograd.py``: rows
    outside the image read ``zero_row``, E's padding columns stay zero.

    x_rows: (n, H, W*C); zero_row: (W*C,) zeros; top, left: padding before the image;
    E: (n, TH, 6, WP, C) scratch (WP >= 4*TW + 2, zeros outside [left, left + W)), E_rows the same
    memory as (n, TH, 6, WP*C); U: (36, n*TH*TW, C), overwritten.
    """
    n, H, L = x_rows.shape
    C = U.shape[2]
    first = left * C
    for k in range(n):
        for i in range(TH):
            r = 4 * i - top
            X0 = x_rows[k, r] if 0 <= r < H else zero_row
            X1 = x_rows[k, r + 1] if 0 <= r + 1 < H else zero_row
            X2 = x_rows[k, r + 2] if 0 <= r + 2 < H else zero_row
            X3 = x_rows[k, r + 3] if 0 <= r + 3 < H else zero_row
            X4 = x_rows[k, r + 4] if 0 <= r + 4 < H else zero_row
            X5 = x_rows[k, r + 5] if 0 <= r + 5 < H else zero_row
            D0 = E_rows[k, i, 0, first:first + L]
            D1 = E_rows[k, i, 1, first:first + L]
            D2 = E_rows[k, i, 2, first:first + L]
            D3 = E_rows[k, i, 3, first:first + L]
            D4 = E_rows[k, i, 4, first:first + L]
            D5 = E_rows[k, i, 5, first:first + L]
            for q in range(L):
                D0[q] = 4 * X0[q] - 5 * X2[q] + X4[q]
            for q in range(L):
                D1[q] = X3[q] + X4[q] - 4 * (X1[q] + X2[q])
            for q in range(L):
                D2[q] = X4[q] - X3[q] + 4 * (X1[q] - X2[q])
            for q in range(L):
                D3[q] = X4[q] - X2[q] + 2 * (X3[q] - X1[q])
            for q in range(L):
                D4[q] = X4[q] - X2[q] + 2 * (X1[q] - X3[q])
            for q in range(L):
                D5[q] = 4 * X1[q] - 5 * X3[q] + X5[q]
    for a in range(6):
        for k in range(n):
            for i in range(TH):
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 4 * j
                    for c in range(C):
                        U[6 * a, t, c] = 4 * E[k, i, a, s, c] - 5 * E[k, i, a, s + 2, c] + E[k, i, a, s + 4, c]
                    for c in range(C):
                        U[6 * a + 1, t, c] = (E[k, i, a, s + 3, c] + E[k, i, a, s + 4, c]
                                              - 4 * (E[k, i, a, s + 1, c] + E[k, i, a, s + 2, c]))
                    for c in range(C):
                        U[6 * a + 2, t, c] = (E[k, i, a, s + 4, c] - E[k, i, a, s + 3, c]
                                              + 4 * (E[k, i, a, s + 1, c] - E[k, i, a, s + 2, c]))
                    for c in range(C):
                        U[6 * a + 3, t, c] = (E[k, i, a, s + 4, c] - E[k, i, a, s + 2, c]
                                              + 2 * (E[k, i, a, s + 3, c] - E[k, i, a, s + 1, c]))
                    for c in range(C):
                        U[6 * a + 4, t, c] = (E[k, i, a, s + 4, c] - E[k, i, a, s + 2, c]
                                              + 2 * (E[k, i, a, s + 1, c] - E[k, i, a, s + 3, c]))
                    for c in range(C):
                        U[6 * a + 5, t, c] = 4 * E[k, i, a, s + 1, c] - 5 * E[k, i, a, s + 3, c] + E[k, i, a, s + 5, c]


def output_transform_loops(M_flat, TH, TW, bias, S_flat, S, y):
    """y[k, 4i+p, 4j+q, f] = (A^T m A)[p, q] + bias[f] for the 6x6 tile m = M[:, t, f].

    Rows first (the 4 rows of A^T m, on whole planes), then columns, written
    to y; cells past the output's border (cut tiles) are not written.

    M_flat: (36, n*TH*TW*F); bias: (F,); S: (24, n*TH*TW, F) scratch, S_flat the same memory as
    (24, n*TH*TW*F); y: (n, OH, OW, F) with OH > 4*(TH-1), OW > 4*(TW-1), overwritten.
    """
    n, OH, OW, F = y.shape
    L = M_flat.shape[1]
    for b in range(6):  # S[6p + b] = row p of A^T m, column b
        for q in range(L):
            S_flat[b, q] = (M_flat[b, q] + M_flat[6 + b, q] + M_flat[12 + b, q] + M_flat[18 + b, q]
                            + M_flat[24 + b, q])
        for q in range(L):
            S_flat[6 + b, q] = M_flat[6 + b, q] - M_flat[12 + b, q] + 2 * (M_flat[18 + b, q] - M_flat[24 + b, q])
        for q in range(L):
            S_flat[12 + b, q] = M_flat[6 + b, q] + M_flat[12 + b, q] + 4 * (M_flat[18 + b, q] + M_flat[24 + b, q])
        for q in range(L):
            S_flat[18 + b, q] = (M_flat[6 + b, q] - M_flat[12 + b, q] + 8 * (M_flat[18 + b, q] - M_flat[24 + b, q])
                                 + M_flat[30 + b, q])
    for k in range(n):
        for i in range(TH):
            for p in range(4):
                r = 4 * i + p
                if r >= OH:
                    continue
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 4 * j
                    R = 6 * p
                    for f in range(F):
                        y[k, r, s, f] = (S[R, t, f] + S[R + 1, t, f] + S[R + 2, t, f] + S[R + 3, t, f]
                                         + S[R + 4, t, f] + bias[f])
                    if s + 1 < OW:
                        for f in range(F):
                            y[k, r, s + 1, f] = (S[R + 1, t, f] - S[R + 2, t, f]
                                                 + 2 * (S[R + 3, t, f] - S[R + 4, t, f]) + bias[f])
                    if s + 2 < OW:
                        for f in range(F):
                            y[k, r, s + 2, f] = (S[R + 1, t, f] + S[R + 2, t, f]
                                                 + 4 * (S[R + 3, t, f] + S[R + 4, t, f]) + bias[f])
                    if s + 3 < OW:
                        for f in range(F):
                            y[k, r, s + 3, f] = (S[R + 1, t, f] - S[R + 2, t, f]
                                                 + 8 * (S[R + 3, t, f] - S[R + 4, t, f]) + S[R + 5, t, f] + bias[f])


def output_transform_adjoint_loops(dyp_rows, TH, TW, P_rows, P, dM):
    """dM[:, t, f] = A dY A^T for each 4x4 tile dY of dy: the adjoint of ``output_transform``.

    Rows first (row a of A dY combines dy's rows 4i..4i+3 as column a of A^T
    says: y0; y0+y1+y2+y3; y0-y1+y2-y3; y0+2y1+4y2+8y3; y0-2y1+4y2-8y3; y3),
    then columns the same way.

    dyp_rows: (n, >= 4*TH, 4*TW*F), dy padded with zeros to whole tiles, rows flattened;
    P: (6, n, TH, 4*TW, F) scratch, P_rows the same memory as (6, n, TH, 4*TW*F);
    dM: (36, n*TH*TW, F), overwritten.
    """
    n = dyp_rows.shape[0]
    L = P_rows.shape[3]
    F = dM.shape[2]
    for k in range(n):
        for i in range(TH):
            r = 4 * i
            for q in range(L):
                P_rows[0, k, i, q] = dyp_rows[k, r, q]
            for q in range(L):
                P_rows[1, k, i, q] = dyp_rows[k, r, q] + dyp_rows[k, r + 1, q] + dyp_rows[k, r + 2, q] + dyp_rows[k, r + 3, q]
            for q in range(L):
                P_rows[2, k, i, q] = dyp_rows[k, r, q] - dyp_rows[k, r + 1, q] + dyp_rows[k, r + 2, q] - dyp_rows[k, r + 3, q]
            for q in range(L):
                P_rows[3, k, i, q] = (dyp_rows[k, r, q] + 2 * dyp_rows[k, r + 1, q] + 4 * dyp_rows[k, r + 2, q]
                                      + 8 * dyp_rows[k, r + 3, q])
            for q in range(L):
                P_rows[4, k, i, q] = (dyp_rows[k, r, q] - 2 * dyp_rows[k, r + 1, q] + 4 * dyp_rows[k, r + 2, q]
                                      - 8 * dyp_rows[k, r + 3, q])
            for q in range(L):
                P_rows[5, k, i, q] = dyp_rows[k, r + 3, q]
    for a in range(6):
        for k in range(n):
            for i in range(TH):
                for j in range(TW):
                    t = (k * TH + i) * TW + j
                    s = 4 * j
                    for f in range(F):
                        dM[6 * a, t, f] = P[a, k, i, s, f]
                    for f in range(F):
                        dM[6 * a + 1, t, f] = P[a, k, i, s, f] + P[a, k, i, s + 1, f] + P[a, k, i, s + 2, f] + P[a, k, i, s + 3, f]
                    for f in range(F):
                        dM[6 * a + 2, t, f] = P[a, k, i, s, f] - P[a, k, i, s + 1, f] + P[a, k, i, s + 2, f] - P[a, k, i, s + 3, f]
                    for f in range(F):
                        dM[6 * a + 3, t, f] = (P[a, k, i, s, f] + 2 * P[a, k, i, s + 1, f] + 4 * P[a, k, i, s + 2, f]
                                               + 8 * P[a, k, i, s + 3, f])
                    for f in range(F):
                        dM[6 * a + 4, t, f] = (P[a, k, i, s, f] - 2 * P[a, k, i, s + 1, f] + 4 * P[a, k, i, s + 2, f]
                                               - 8 * P[a, k, i, s + 3, f])
                    for f in range(F):
                        dM[6 * a + 5, t, f] = P[a, k, i, s + 3, f]


def input_transform_adjoint_loops(dU_flat, top, left, TH, TW, Q_flat, Q, dx):
    """dx = the sum over tiles of B dU B^T, added at each tile's place (tiles overlap by 2).

    The adjoint of ``input_transform``: columns first (Q = dU B^T, column b'
    combining dU's columns as column b' of B^T says), then rows the same way,
    added onto dx; what falls on the padding is dropped.

    dU_flat: (36, n*TH*TW*C); Q: (36, n*TH*TW, C) scratch, Q_flat the same memory as (36, n*TH*TW*C);
    top, left: the padding before the image; dx: (n, H, W, C), overwritten (zeroed first).
    """
    n, H, W, C = dx.shape
    L = dU_flat.shape[1]
    for a in range(6):
        R = 6 * a
        for q in range(L):
            Q_flat[R, q] = 4 * dU_flat[R, q]
        for q in range(L):
            Q_flat[R + 1, q] = (4 * (dU_flat[R + 2, q] - dU_flat[R + 1, q] + dU_flat[R + 5, q])
                                + 2 * (dU_flat[R + 4, q] - dU_flat[R + 3, q]))
        for q in range(L):
            Q_flat[R + 2, q] = (-5 * dU_flat[R, q] - 4 * (dU_flat[R + 1, q] + dU_flat[R + 2, q])
                                - dU_flat[R + 3, q] - dU_flat[R + 4, q])
        for q in range(L):
            Q_flat[R + 3, q] = (dU_flat[R + 1, q] - dU_flat[R + 2, q] + 2 * (dU_flat[R + 3, q] - dU_flat[R + 4, q])
                                - 5 * dU_flat[R + 5, q])
        for q in range(L):
            Q_flat[R + 4, q] = (dU_flat[R, q] + dU_flat[R + 1, q] + dU_flat[R + 2, q] + dU_flat[R + 3, q]
                                + dU_flat[R + 4, q])
        for q in range(L):
            Q_flat[R + 5, q] = dU_flat[R + 5, q]
    for k in range(n):
        dx[k] = 0
        for i in range(TH):
            r = 4 * i - top  # image row of the tile's first row
            for j in range(TW):
                t = (k * TH + i) * TW + j
                for b in range(6):
                    s = 4 * j + b - left
                    if s < 0 or s >= W:
                        continue  # a padding column
                    # B Q, column b: input row r + rr gets the combination of Q's rows that column rr of
                    # B^T gives (padding rows skipped)
                    if 0 <= r < H:
                        for c in range(C):
                            dx[k, r, s, c] += 4 * Q[b, t, c]
                    if 0 <= r + 1 < H:
                        for c in range(C):
                            dx[k, r + 1, s, c] += (4 * (Q[12 + b, t, c] - Q[6 + b, t, c] + Q[30 + b, t, c])
                                                   + 2 * (Q[24 + b, t, c] - Q[18 + b, t, c]))
                    if 0 <= r + 2 < H:
                        for c in range(C):
                            dx[k, r + 2, s, c] += (-5 * Q[b, t, c] - 4 * (Q[6 + b, t, c] + Q[12 + b, t, c])
                                                   - Q[18 + b, t, c] - Q[24 + b, t, c])
                    if 0 <= r + 3 < H:
                        for c in range(C):
                            dx[k, r + 3, s, c] += (Q[6 + b, t, c] - Q[12 + b, t, c]
                                                   + 2 * (Q[18 + b, t, c] - Q[24 + b, t, c]) - 5 * Q[30 + b, t, c])
                    if 0 <= r + 4 < H:
                        for c in range(C):
                            dx[k, r + 4, s, c] += (Q[b, t, c] + Q[6 + b, t, c] + Q[12 + b, t, c] + Q[18 + b, t, c]
                                                   + Q[24 + b, t, c])
                    if 0 <= r + 5 < H:
                        for c in range(C):
                            dx[k, r + 5, s, c] += Q[30 + b, t, c]


def _jit(fn):
    return njit(cache=True, nogil=True)(fn)


input_transform = _jit(input_transform_loops)
output_transform = _jit(output_transform_loops)
output_transform_adjoint = _jit(output_transform_adjoint_loops)
input_transform_adjoint = _jit(input_transform_adjoint_loops)
