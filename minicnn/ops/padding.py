"""Zero padding: a border of zeros around each image (Keras' ``ZeroPadding2D``).

x: (N, H, W, C) -> y: (N, top + H + bottom, left + W + right, C).

Keras' ResNet50 pads explicitly before its 7x7 stride-2 convolution and before
its 3x3 stride-2 max pooling instead of using ``padding="same"``: TensorFlow's
"same" rule would put the extra row and column at the bottom/right only, while
the Caffe network the weights come from pads symmetrically.

Backward crops the border off ``dy``: the padded cells are constants, so the
gradient that reaches them goes nowhere.
"""
from __future__ import annotations

import numpy as np

__all__ = ["zero_pad2d_forward", "zero_pad2d_backward"]


def zero_pad2d_forward(x, pads):
    """Surround each image with zeros.

    x: (N, H, W, C); pads: (top, bottom, left, right), ints >= 0.
    Returns y: (N, top + H + bottom, left + W + right, C) and the cache
    (the pads and x's shape, all backward needs).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"zero_pad2d: expected x of shape (N, H, W, C), got {x.shape}")
    top, bottom, left, right = (int(p) for p in pads)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"zero_pad2d: pads must be >= 0, got {tuple(pads)}")
    n, h, w, c = x.shape
    y = np.zeros((n, top + h + bottom, left + w + right, c), dtype=x.dtype)
    y[:, top:top + h, left:left + w, :] = x
    return y, {"pads": (top, bottom, left, right), "x_shape": x.shape}


def zero_pad2d_backward(dy, cache):
    """dx: the inner (unpadded) part of dy.

    dy: (N, top + H + bottom, left + W + right, C) -> dx: (N, H, W, C).
    """
    top, bottom, left, right = cache["pads"]
    n, h, w, c = cache["x_shape"]
    want = (n, top + h + bottom, left + w + right, c)
    dy = np.asarray(dy)
    if dy.shape != want:
        raise ValueError(f"zero_pad2d: dy must have shape {want}, got {dy.shape}")
    # A copy, not a view: callers may add into dx in place.
    return dy[:, top:top + h, left:left + w, :].copy()
