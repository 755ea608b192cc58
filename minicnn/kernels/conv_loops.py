"""The whole 2-D convolution, forward and backward, as plain nested loops.

This is the convolution to read with pencil and paper. The fast path
(``minicnn.ops.conv``: im2col, GEMM, chunks, threads) computes exactly the
same numbers, and ``tests/test_conv_loops.py`` checks that it does, in
float32 and float64, for several strides and paddings.

Shapes, with the symbols used in the course and in ``ops/conv.py``:

    x: (N, H, W, C)    w: (KH, KW, C, F)    b: (F,)    y, dy: (N, OH, OW, F)

Padding is given as the engine gives it (``"valid"``, ``"same"``, an int or
``(ph, pw)``); ``top`` and ``left`` are the zeros added before the first row
and column (see :mod:`minicnn.ops.shapes`). Output pixel ``(i, j)`` sees the
input cell

    r = i*SH + u - top,   s = j*SW + v - left        for kernel cell (u, v),

and a cell outside ``0 <= r < H``, ``0 <= s < W`` is padding: a zero.

Forward (cross-correlation, as every CNN library computes it)::

    y[n, i, j, f] = b[f] + sum_{u, v, c} x[n, i*SH + u - top, j*SW + v - left, c] * w[u, v, c, f]

Backward, given dy = dL/dy. Each formula is the chain rule applied to the
forward line above, one partial derivative at a time:

- **db** -- ``b[f]`` is added to every output of filter f::

      db[f] = sum_{n, i, j} dy[n, i, j, f]

- **dW** -- ``w[u, v, c, f]`` multiplies, in every window, the input cell
  under kernel cell (u, v)::

      dW[u, v, c, f] = sum_{n, i, j} x[n, i*SH + u - top, j*SW + v - left, c] * dy[n, i, j, f]

- **dx** -- the input cell ``(r, s)`` is seen by every window that covers
  it, through the kernel cell that lies on it: ``u = r + top - i*SH``,
  ``v = s + left - j*SW``, when that cell is inside the kernel::

      dx[n, r, s, c] = sum_{f} sum_{i, j with 0 <= u < KH, 0 <= v < KW} w[u, v, c, f] * dy[n, i, j, f]

  With stride 1 this is a "full" convolution of dy with the kernel rotated by
  180 degrees (``minicnn trace-conv --backward`` shows it number by number).

The loops accumulate in Python floats (float64) and store the results in the
dtype of x, so float32 inputs give float32 outputs, like the fast path.
"""
from __future__ import annotations

import numpy as np

from ..ops.shapes import as_pair, check_padding, resolve_padding_2d

__all__ = ["conv2d_forward_loops", "conv2d_backward_loops"]


def _geometry(x_shape, w_shape, strides, padding, owner):
    """Validate shapes; return (SH, SW), (top, left), (OH, OW)."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{owner}: expected x (N, H, W, C) and w (KH, KW, C, F), "
                         f"got x {tuple(x_shape)} and w {tuple(w_shape)}")
    if x_shape[3] != w_shape[2]:
        raise ValueError(f"{owner}: x has {x_shape[3]} channels but w expects {w_shape[2]} "
                         f"(x {tuple(x_shape)}, w {tuple(w_shape)} as (KH, KW, C, F))")
    strides_hw = as_pair(strides, "strides", owner)
    padding = check_padding(padding, owner)
    try:
        pads, out_hw = resolve_padding_2d(x_shape[1:3], w_shape[:2], strides_hw, padding)
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from None
    top, _, left, _ = pads
    return strides_hw, (top, left), out_hw


def conv2d_forward_loops(x, w, b=None, strides=1, padding="valid"):
    """y = conv(x, w) + b, one output value at a time.

    x: (N, H, W, C); w: (KH, KW, C, F); b: (F,) or None;
    strides: int or (SH, SW); padding: "valid" | "same" | int | (ph, pw).
    Returns y: (N, OH, OW, F), in the dtype of x.
    """
    x, w = np.asarray(x), np.asarray(w)
    (SH, SW), (top, left), (OH, OW) = _geometry(x.shape, w.shape, strides, padding,
                                                "conv2d_forward_loops")
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    y = np.zeros((N, OH, OW, F), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for f in range(F):
                    total = 0.0 if b is None else float(b[f])
                    for u in range(KH):
                        for v in range(KW):
                            r = i * SH + u - top
                            s = j * SW + v - left
                            if not (0 <= r < H and 0 <= s < W):
                                continue  # padding: x is 0 there, the product too
                            for c in range(C):
                                total += float(x[n, r, s, c]) * float(w[u, v, c, f])
                    y[n, i, j, f] = total
    return y


def conv2d_backward_loops(dy, x, w, strides=1, padding="valid"):
    """dx, dW, db of ``conv2d_forward_loops``, each from its own formula.

    dy: (N, OH, OW, F); x: (N, H, W, C) and w: (KH, KW, C, F), the forward
    inputs. Returns dx: (N, H, W, C), dw: (KH, KW, C, F), db: (F,), in the
    dtype of x. The three formulas are in the module docstring.
    """
    x, w, dy = np.asarray(x), np.asarray(w), np.asarray(dy)
    (SH, SW), (top, left), (OH, OW) = _geometry(x.shape, w.shape, strides, padding,
                                                "conv2d_backward_loops")
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    if dy.shape != (N, OH, OW, F):
        raise ValueError(f"conv2d_backward_loops: dy must have shape {(N, OH, OW, F)} "
                         f"(N, OH, OW, F), got {dy.shape}")

    # db[f] = sum over every output position of filter f
    db = np.zeros(F, dtype=x.dtype)
    for f in range(F):
        total = 0.0
        for n in range(N):
            for i in range(OH):
                for j in range(OW):
                    total += float(dy[n, i, j, f])
        db[f] = total

    # dW[u, v, c, f] = sum over windows of (input cell under kernel cell (u, v)) * dy
    dw = np.zeros(w.shape, dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            for c in range(C):
                for f in range(F):
                    total = 0.0
                    for n in range(N):
                        for i in range(OH):
                            for j in range(OW):
                                r = i * SH + u - top
                                s = j * SW + v - left
                                if 0 <= r < H and 0 <= s < W:  # padding contributes 0
                                    total += float(x[n, r, s, c]) * float(dy[n, i, j, f])
                    dw[u, v, c, f] = total

    # dx[r, s, c] = sum over the windows that cover (r, s) of (kernel cell on it) * dy
    dx = np.zeros(x.shape, dtype=x.dtype)
    for n in range(N):
        for r in range(H):
            for s in range(W):
                for c in range(C):
                    total = 0.0
                    for i in range(OH):
                        u = r + top - i * SH  # the kernel row that lies on row r in window i
                        if not 0 <= u < KH:
                            continue
                        for j in range(OW):
                            v = s + left - j * SW
                            if not 0 <= v < KW:
                                continue
                            for f in range(F):
                                total += float(w[u, v, c, f]) * float(dy[n, i, j, f])
                    dx[n, r, s, c] = total
    return dx, dw, db
