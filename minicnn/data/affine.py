"""Affine warping of image batches: the one resampling kernel behind rotations,
shifts, zooms and shears (used by ``transforms`` and by ``ImageAugmenter``).

The idea. To rotate an image we do *not* push each input pixel to where it
lands (that leaves holes). We go the other way: for every *output* pixel
``(row i, col j)`` we ask where it comes from in the input,

    x_src = m00 * j + m01 * i + m02        (x = column)
    y_src = m10 * j + m11 * i + m12        (y = row)

and read the input there. ``(x_src, y_src)`` is rarely a whole pixel, so we
interpolate: *nearest* takes the closest pixel, *bilinear* blends the four
around it. Points that fall outside the image are filled according to
``fill_mode`` (Keras's names)::

    constant  k k k k | a b c d | k k k k      (k = cval)
    nearest   a a a a | a b c d | d d d d
    reflect   d c b a | a b c d | d c b a
    wrap      a b c d | a b c d | a b c d

So a transformation is described by the 2x3 matrix ``M`` of that
output -> input map. ``forward_matrix`` builds the easy-to-think-about
input -> output map (rotate about the centre, shear, scale, then shift) and
``numpy.linalg.inv`` turns it around.

The kernel is written as plain Python (readable, steppable with
``NUMBA_DISABLE_JIT=1``) and compiled with Numba's ``njit``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

FILL_MODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}
INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def _source_index_py(i, n, mode):
    """Map a possibly out-of-range index ``i`` into ``0..n-1`` by ``mode``; -1 means "use cval"."""
    if 0 <= i < n:
        return i
    if mode == 0:  # constant
        return -1
    if mode == 1:  # nearest: clamp to the edge
        return 0 if i < 0 else n - 1
    if mode == 2:  # reflect about the edge, edge pixel repeated: period 2n
        i = i % (2 * n)
        return i if i < n else 2 * n - 1 - i
    return i % n  # wrap


_source_index = njit(cache=True)(_source_index_py)


def _warp_py(src, mats, order, mode, cval, out, lo, hi):
    """Warp each image ``src[n]`` by its output->input matrix ``mats[n]`` into ``out[n]``.

    src:  (N, H, W, C) uint8 or float   input images
    mats: (N, 2, 3) float64             output (col j, row i, 1) -> input (x, y)
    order: 0 nearest, 1 bilinear;  mode: see FILL_MODES;  cval: fill for mode 0
    out:  (N, Ho, Wo, C), written in place
    lo, hi: if lo < hi, values are rounded and clipped to [lo, hi] (integer
            outputs such as uint8); pass lo = hi = 0 for float outputs.
    """
    N, H, W, C = src.shape
    Ho, Wo = out.shape[1], out.shape[2]
    rounding = lo < hi
    for n in range(N):
        m00, m01, m02 = mats[n, 0, 0], mats[n, 0, 1], mats[n, 0, 2]
        m10, m11, m12 = mats[n, 1, 0], mats[n, 1, 1], mats[n, 1, 2]
        for i in range(Ho):
            for j in range(Wo):
                x = m00 * j + m01 * i + m02  # where output (i, j) comes from
                y = m10 * j + m11 * i + m12
                if order == 0:
                    xs = _source_index(int(math.floor(x + 0.5)), W, mode)
                    ys = _source_index(int(math.floor(y + 0.5)), H, mode)
                    for c in range(C):
                        out[n, i, j, c] = cval if (xs < 0 or ys < 0) else src[n, ys, xs, c]
                    continue
                x0 = int(math.floor(x))
                y0 = int(math.floor(y))
                fx = x - x0  # weight of the right-hand neighbours
                fy = y - y0  # weight of the lower neighbours
                if 0 <= x0 and x0 + 1 < W and 0 <= y0 and y0 + 1 < H:
                    xa, xb, ya, yb = x0, x0 + 1, y0, y0 + 1  # inside: the common, fast case
                else:
                    xa = _source_index(x0, W, mode)
                    xb = _source_index(x0 + 1, W, mode)
                    ya = _source_index(y0, H, mode)
                    yb = _source_index(y0 + 1, H, mode)
                for c in range(C):
                    v00 = cval if (xa < 0 or ya < 0) else float(src[n, ya, xa, c])
                    v01 = cval if (xb < 0 or ya < 0) else float(src[n, ya, xb, c])
                    v10 = cval if (xa < 0 or yb < 0) else float(src[n, yb, xa, c])
                    v11 = cval if (xb < 0 or yb < 0) else float(src[n, yb, xb, c])
                    top = v00 + fx * (v01 - v00)
                    bottom = v10 + fx * (v11 - v10)
                    v = top + fy * (bottom - top)
                    if rounding:  # uint8 output: round to nearest, stay in range
                        v = min(max(math.floor(v + 0.5), lo), hi)
                    out[n, i, j, c] = v
    return out


warp_kernel = njit(cache=True)(_warp_py)


def forward_matrix(height, width, angle=0.0, tx=0.0, ty=0.0, sx=1.0, sy=1.0, shear_x=0.0, shear_y=0.0):
    """Input -> output maps, (N, 3, 3), one per image (arguments broadcast to (N,)).

    About the image centre: shear, then scale, then rotate, then shift.

    angle   degrees, counter-clockwise as seen on screen (rows go down)
    tx, ty  pixels; positive moves the content right / down
    sx, sy  scale factors; > 1 enlarges the content
    shear_x, shear_y  degrees
    """
    a, tx, ty, sx, sy, shx, shy = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (angle, tx, ty, sx, sy, shear_x, shear_y)))
    a, tx, ty, sx, sy, shx, shy = (np.atleast_1d(v) for v in (a, tx, ty, sx, sy, shx, shy))
    n = a.shape[0]
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0

    def mats(rows):
        m = np.zeros((n, 3, 3))
        m[:, 2, 2] = 1.0
        for (r, c), v in rows.items():
            m[:, r, c] = v
        return m

    th = np.deg2rad(a)
    # Rows point down, so "counter-clockwise on screen" has the sign of sin flipped.
    rot = mats({(0, 0): np.cos(th), (0, 1): np.sin(th), (1, 0): -np.sin(th), (1, 1): np.cos(th)})
    scale = mats({(0, 0): sx, (1, 1): sy})
    shear = mats({(0, 0): 1.0, (0, 1): np.tan(np.deg2rad(shx)),
                  (1, 0): np.tan(np.deg2rad(shy)), (1, 1): 1.0})
    to_origin = mats({(0, 0): 1.0, (1, 1): 1.0, (0, 2): -cx, (1, 2): -cy})
    back = mats({(0, 0): 1.0, (1, 1): 1.0, (0, 2): cx + tx, (1, 2): cy + ty})
    return back @ rot @ scale @ shear @ to_origin


def warp(images, forward, interpolation="nearest", fill_mode="constant", cval=0.0):
    """Apply input->output maps ``forward`` (N, 3, 3) to ``images`` (N, H, W, C).

    Returns a new array of the same shape and dtype (integer outputs rounded
    and clipped to the dtype's range).
    """
    images = np.ascontiguousarray(images)
    if np.issubdtype(images.dtype, np.integer):
        info = np.iinfo(images.dtype)
        lo, hi = float(info.min), float(info.max)
        cval = min(max(float(np.rint(cval)), lo), hi)
    else:
        lo = hi = 0.0
    inverse = np.ascontiguousarray(np.linalg.inv(forward)[:, :2, :])  # output -> input
    out = np.empty_like(images)
    warp_kernel(images, inverse, INTERPOLATIONS[interpolation], FILL_MODES[fill_mode],
                float(cval), out, lo, hi)
    return out
