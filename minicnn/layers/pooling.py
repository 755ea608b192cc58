"""Pooling layers: MaxPool2D, AvgPool2D, GlobalAvgPool2D.

x: (N, H, W, C) -> y: (N, OH, OW, C) (global: (N, C)). No parameters.
The math is in ``minicnn.ops.pool``.
"""
from __future__ import annotations

from ..ops.pool import (avgpool2d_backward, avgpool2d_forward, global_avgpool_backward,
                        global_avgpool_forward, maxpool2d_backward, maxpool2d_forward)
from ..ops.shapes import as_pair, check_padding, resolve_padding_2d
from .base import Layer


class _Pool2D(Layer):
    expected_ndim = 4
    _op_forward = None
    _op_backward = None

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        owner = f"{type(self).__name__}({self.name})"
        self.pool_size = as_pair(pool_size, "pool_size", owner)
        # Keras: strides default to the pool size (non-overlapping windows).
        self.strides = self.pool_size if strides is None else as_pair(strides, "strides", owner)
        self.padding = check_padding(padding, owner)

    def _strict_shape(self):
        return False

    def compute_output_shape(self, input_shape):
        _, h, w, c = input_shape
        if h is None or w is None:
            return (None, None, None, c)
        try:
            _, (oh, ow) = resolve_padding_2d((h, w), self.pool_size, self.strides, self.padding)
        except ValueError as err:
            raise ValueError(f"{self.name} ({type(self).__name__}): {err}") from None
        return (None, oh, ow, c)

    def _forward(self, x, training):
        try:
            return type(self)._op_forward(x, self.pool_size, self.strides, self.padding)
        except ValueError as err:
            raise ValueError(f"{self.name} ({type(self).__name__}), input {self._fmt(x.shape)}: {err}") from None

    def _backward(self, dy, cache):
        return type(self)._op_backward(dy, cache)

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding,
                **super().get_config()}


class MaxPool2D(_Pool2D):
    """Maximum over each window; the gradient goes to the (first) maximum."""
    _op_forward = staticmethod(maxpool2d_forward)
    _op_backward = staticmethod(maxpool2d_backward)


class AvgPool2D(_Pool2D):
    """Mean over each window; the gradient is shared equally by the window."""
    _op_forward = staticmethod(avgpool2d_forward)
    _op_backward = staticmethod(avgpool2d_backward)


class GlobalAvgPool2D(Layer):
    """Mean over all positions of each channel: (N, H, W, C) -> (N, C)."""
    expected_ndim = 4

    def _strict_shape(self):
        return False

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1])

    def _forward(self, x, training):
        return global_avgpool_forward(x)

    def _backward(self, dy, cache):
        return global_avgpool_backward(dy, cache)


# Keras' longer names, so course code reads the same.
MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
GlobalAveragePooling2D = GlobalAvgPool2D
