"""Conv2D: a bank of learned filters slid over the image.

x: (N, H, W, C_in) -> y: (N, OH, OW, filters); kernel: (KH, KW, C_in, filters)
(Keras layout), bias: (filters,). The math is in ``minicnn.ops.conv``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import initializers, regularizers
from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.shapes import as_pair, check_padding, resolve_padding_2d
from .activations import activation_backward, apply_activation, check_activation
from .base import Layer


class Conv2D(Layer):
    expected_ndim = 4
    can_skip_dx = True  # models skip dx when the input is the data (nothing to send it to)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", use_bias=True,
                 activation=None, kernel_regularizer=None, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        owner = f"Conv2D({self.name})"
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"{owner}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = as_pair(kernel_size, "kernel_size", owner)
        self.strides = as_pair(strides, "strides", owner)
        self.padding = check_padding(padding, owner)
        self.use_bias = bool(use_bias)
        self.activation = check_activation(activation, owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_initializer = kernel_initializer
        initializers.get(kernel_initializer, owner)

    @property
    def outputs_softmax(self):
        return self.activation == "softmax"

    def _strict_shape(self):
        return False  # any spatial size works; only channels must match

    def _check_input_shape(self, shape):
        super()._check_input_shape(shape)
        if self.built and shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"{self.name} (Conv2D): expected {self.input_shape[-1]} input channels, "
                f"got input shape {self._fmt(shape)}"
            )

    def _build(self, input_shape, rng):
        kh, kw = self.kernel_size
        c_in = input_shape[-1]
        init = initializers.get(self.kernel_initializer, self.name)
        self.add_param("kernel", init((kh, kw, c_in, self.filters), rng))
        if self.use_bias:
            self.add_param("bias", np.zeros(self.filters))

    def compute_output_shape(self, input_shape):
        _, h, w, _ = input_shape
        if h is None or w is None:
            return (None, None, None, self.filters)
        _, (oh, ow) = resolve_padding_2d((h, w), self.kernel_size, self.strides, self.padding)
        return (None, oh, ow, self.filters)

    def _forward(self, x, training, logits=False):
        # logits=True: stop before the activation (models use it to fuse
        # softmax with cross-entropy, and to read pre-softmax class scores).
        bias = self.params["bias"].value if self.use_bias else None
        try:
            z, conv_cache = conv2d_forward(x, self.params["kernel"].value, bias, self.strides, self.padding)
        except ValueError as err:
            raise ValueError(f"{self.name} (Conv2D), input {self._fmt(x.shape)}: {err}") from None
        y, act_cache = apply_activation(None if logits else self.activation, z)
        return y, (conv_cache, act_cache)

    def _backward(self, dy, cache, from_logits=False, need_dx=True):
        conv_cache, act_cache = cache
        dz = dy if from_logits else activation_backward(self.activation, dy, act_cache)
        dx, dw, db = conv2d_backward(dz, conv_cache, need_dx=need_dx)
        if self._update_params():
            kernel = self.params["kernel"]
            if self.kernel_regularizer is not None:
                dw = dw + self.kernel_regularizer.gradient(kernel.value)
            kernel.accumulate(dw)
            if self.use_bias:
                self.params["bias"].accumulate(db)
        return dx

    def regularization_loss(self):
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer.penalty(self.params["kernel"].value)

    def get_config(self):
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "use_bias": self.use_bias,
            "activation": self.activation,
            "kernel_regularizer": None if self.kernel_regularizer is None else self.kernel_regularizer.get_config(),
            "kernel_initializer": self.kernel_initializer if isinstance(self.kernel_initializer, str) else "glorot_uniform",
            **super().get_config(),
        }
