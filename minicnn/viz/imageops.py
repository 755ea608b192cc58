"""Small pure-NumPy image helpers used by the figures (and by ``minicnn.inspect``).

- ``normalize_to_uint8(a, axis=None)``: min-max scaling to 0..255, for the whole
  array or separately for each channel (PW08: "the normalization of the weight
  values to 0-256 values should be done on a per-channel basis (RGB)").
- ``to_display(image)``: make any image (uint8, float in [0, 1], float of any
  range) something ``imshow`` shows faithfully.
- ``upsample(map, size, method)``: bring a small activation / CAM map to the
  input's resolution so it can be laid over the image.

Nothing here draws; everything is tested against hand-computed values.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["normalize_to_uint8", "to_display", "upsample_nearest", "upsample_bilinear", "upsample"]


def normalize_to_uint8(a, axis: Optional[int] = None) -> np.ndarray:
    """Min-max scale ``a`` to the integers 0..255 (dtype uint8).

    a: any shape, e.g. (H, W, C) weights seen as an image.
    axis: None -> one minimum and one maximum for the whole array;
        an int (e.g. -1, the channel axis) -> each slice along that axis gets
        its own minimum (-> 0) and maximum (-> 255), so a channel whose weights
        are small is not drowned by a channel whose weights are large.
    A constant slice (max == min) maps to 0 rather than dividing by zero.

    >>> normalize_to_uint8(np.array([-1.0, 0.0, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        lo, hi = a.min(), a.max()
    else:
        axis = axis % a.ndim  # -1 -> last axis
        others = tuple(d for d in range(a.ndim) if d != axis)
        lo = a.min(axis=others, keepdims=True)
        hi = a.max(axis=others, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)  # constant slices: (a - lo) is 0 anyway
    return np.round(255.0 * (a - lo) / span).astype(np.uint8)


def to_display(image) -> np.ndarray:
    """An image ready for ``imshow``: (H, W) or (H, W, 3), uint8 or float in [0, 1].

    image: (H, W), (H, W, 1) or (H, W, 3); uint8 is kept as is; floats already
    in [0, 1] are kept; floats in [0, 255] are divided by 255; any other
    range (weights, generated images) is min-max scaled over the whole image.
    A single channel is squeezed so it can be shown with a gray colormap.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.dtype == np.uint8:
        return img
    img = img.astype(np.float64)
    lo, hi = img.min(), img.max()
    if lo >= 0 and hi <= 1:
        return img
    if lo >= 0 and hi <= 255 and np.all(img == np.round(img)):
        return img / 255.0  # float copies of uint8 pixels
    return normalize_to_uint8(img)


def _check_map(m, owner: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim not in (2, 3):
        raise ValueError(f"{owner}: map must be (h, w) or (h, w, C), got shape {m.shape}")
    return m


def _check_size(size, owner: str) -> Tuple[int, int]:
    try:
        H, W = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: size must be a pair (H, W), got {size!r}")
    if H < 1 or W < 1:
        raise ValueError(f"{owner}: size must be positive, got {size!r}")
    return H, W


def upsample_nearest(m, size) -> np.ndarray:
    """Nearest-neighbour resize of a map (h, w) or (h, w, C) to size (H, W).

    Output pixel i takes source row floor(i * h / H): each source pixel becomes
    a block, so the map's cells stay visible (honest for coarse CAM maps).
    """
    m = _check_map(m, "upsample_nearest")
    H, W = _check_size(size, "upsample_nearest")
    h, w = m.shape[:2]
    rows = (np.arange(H) * h) // H
    cols = (np.arange(W) * w) // W
    return m[rows][:, cols]


def _linear_weights(n_in: int, n_out: int):
    """Source indices (i0, i1) and weight t of i1 for each output position.

    Half-pixel centres (as cv2.resize, tf.image.resize and PyTorch with
    align_corners=False): output pixel i sits at source coordinate
    (i + 0.5) * n_in / n_out - 0.5, clamped to the first/last source pixel.
    """
    coord = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    coord = np.clip(coord, 0, n_in - 1)
    i0 = np.floor(coord).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, coord - i0


def upsample_bilinear(m, size) -> np.ndarray:
    """Bilinear resize of a map (h, w) or (h, w, C) to size (H, W).

    Interpolates along rows, then along columns (the two 1-D steps of the
    definition), with half-pixel centres: a 2x2 map [[0, 1], [2, 3]] becomes
    the 4x4 map whose first row is [0, 0.25, 0.75, 1].
    """
    m = _check_map(m, "upsample_bilinear")
    H, W = _check_size(size, "upsample_bilinear")
    h, w = m.shape[:2]
    r0, r1, tr = _linear_weights(h, H)
    c0, c1, tc = _linear_weights(w, W)
    ones = (1,) * (m.ndim - 2)  # broadcast the weights over a channel axis
    tr = tr.reshape((H, 1) + ones)
    tc = tc.reshape((1, W) + ones)
    rows = m[r0] * (1 - tr) + m[r1] * tr              # (H, w[, C])
    return rows[:, c0] * (1 - tc) + rows[:, c1] * tc  # (H, W[, C])


def upsample(m, size, method: str = "bilinear") -> np.ndarray:
    """Resize a map (h, w) or (h, w, C) to ``size`` = (H, W).

    method: "bilinear" (smooth, for heatmaps over an image) or "nearest"
    (blocky, shows the layer's true resolution).
    """
    if method == "bilinear":
        return upsample_bilinear(m, size)
    if method == "nearest":
        return upsample_nearest(m, size)
    raise ValueError(f"upsample: method must be 'bilinear' or 'nearest', got {method!r}")
