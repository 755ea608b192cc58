"""ZeroPadding2D: a border of zeros around each image, as a layer of its own.

x: (N, H, W, C) -> y: (N, top + H + bottom, left + W + right, C). No parameters.
The math is in ``minicnn.ops.padding``. Keras' ResNet50 uses it (``conv1_pad``,
``pool1_pad``) so that its padding is symmetric, as in the original Caffe model.
"""
from __future__ import annotations

import numbers

from ..ops.padding import zero_pad2d_backward, zero_pad2d_forward
from .base import Layer


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class ZeroPadding2D(Layer):
    """Keras' ``ZeroPadding2D(padding)``.

    padding: ``p`` (every side), ``(ph, pw)`` (``ph`` rows at the top and at
    the bottom, ``pw`` columns at the left and at the right), or
    ``((top, bottom), (left, right))``.
    """
    expected_ndim = 4

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = self._normalize(padding, f"ZeroPadding2D({self.name})")

    @staticmethod
    def _normalize(padding, owner):
        """-> ((top, bottom), (left, right)), each an int >= 0."""
        if _is_int(padding):
            pairs = ((padding, padding), (padding, padding))
        elif isinstance(padding, (tuple, list)) and len(padding) == 2 and all(_is_int(p) for p in padding):
            pairs = ((padding[0], padding[0]), (padding[1], padding[1]))
        elif (isinstance(padding, (tuple, list)) and len(padding) == 2
              and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) for v in p)
                      for p in padding)):
            pairs = tuple(tuple(p) for p in padding)
        else:
            raise ValueError(f"{owner}: padding must be an int, a pair of ints or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        if min(pairs[0] + pairs[1]) < 0:
            raise ValueError(f"{owner}: padding must be >= 0, got {padding!r}")
        return tuple(tuple(int(v) for v in p) for p in pairs)

    @property
    def _pads(self):
        (top, bottom), (left, right) = self.padding
        return (top, bottom, left, right)

    def _strict_shape(self):
        return False  # any image size can be padded

    def compute_output_shape(self, input_shape):
        _, h, w, c = input_shape
        top, bottom, left, right = self._pads
        return (None,
                None if h is None else h + top + bottom,
                None if w is None else w + left + right,
                c)

    def _forward(self, x, training):
        return zero_pad2d_forward(x, self._pads)

    def _backward(self, dy, cache):
        return zero_pad2d_backward(dy, cache)

    def get_config(self):
        return {"padding": self.padding, **super().get_config()}
