"""Conv2D: a bank of learned filters slid over the image.

x: (N, H, W, C_in) -> y: (N, OH, OW, filters); kernel: (KH, KW, C_in, filters)
(Keras layout), bias: (filters,). The math is in ``minicnn.ops.conv``.
"""
from __future__ import annotations

import numbers

from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.shapes import as_pair, check_padding, resolve_padding_2d
from .weighted import WeightedLayer


class Conv2D(WeightedLayer):
    expected_ndim = 4
    can_skip_dx = True  # models skip dx when the input is the data (nothing to send it to)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", use_bias=True,
                 activation=None, kernel_regularizer=None, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(activation=activation, use_bias=use_bias, kernel_regularizer=kernel_regularizer,
                         kernel_initializer=kernel_initializer, **kwargs)
        owner = f"Conv2D({self.name})"
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"{owner}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = as_pair(kernel_size, "kernel_size", owner)
        self.strides = as_pair(strides, "strides", owner)
        self.padding = check_padding(padding, owner)

    def _strict_shape(self):
        return False  # any spatial size works; only channels must match

    def _check_input_shape(self, shape):
        super()._check_input_shape(shape)
        self._check_last_dim(shape, "input channels")

    def _build(self, input_shape, rng):
        kh, kw = self.kernel_size
        self._make_weights((kh, kw, input_shape[-1], self.filters), self.filters, rng)

    def compute_output_shape(self, input_shape):
        _, h, w, _ = input_shape
        if h is None or w is None:
            return (None, None, None, self.filters)
        try:
            _, (oh, ow) = resolve_padding_2d((h, w), self.kernel_size, self.strides, self.padding)
        except ValueError as err:  # e.g. a 5x5 window on a 3x3 input: name the layer
            raise ValueError(f"{self.name} (Conv2D): {err}") from None
        return (None, oh, ow, self.filters)

    def _forward(self, x, training, logits=False):
        bias = self.params["bias"].value if self.use_bias else None
        try:
            z, conv_cache = conv2d_forward(x, self.params["kernel"].value, bias, self.strides, self.padding)
        except ValueError as err:
            raise ValueError(f"{self.name} (Conv2D), input {self._fmt(x.shape)}: {err}") from None
        y, act_cache = self._activate(z, logits)
        return y, (conv_cache, act_cache)

    def _backward(self, dy, cache, from_logits=False, need_dx=True, param_grads=True):
        conv_cache, act_cache = cache
        dz = self._activation_grad(dy, act_cache, from_logits)
        dx, dw, db = conv2d_backward(dz, conv_cache, need_dx=need_dx)
        self._accumulate(dw, db, param_grads)
        return dx

    def get_config(self):
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            **super().get_config(),
        }
