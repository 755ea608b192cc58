"""Dense: every output unit connected to every input feature.

x: (N, D) -> y: (N, units); kernel: (D, units) (Keras layout), bias: (units,).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import initializers, regularizers
from ..ops.dense import dense_backward, dense_forward
from .activations import activation_backward, apply_activation, check_activation
from .base import Layer


class Dense(Layer):
    expected_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_regularizer=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        owner = f"Dense({self.name})"
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units < 1:
            raise ValueError(f"{owner}: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = check_activation(activation, owner)
        self.use_bias = bool(use_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_initializer = kernel_initializer
        initializers.get(kernel_initializer, owner)

    @property
    def outputs_softmax(self):
        return self.activation == "softmax"

    def _check_input_shape(self, shape):
        if len(shape) != 2:
            hint = " (add a Flatten layer before Dense)" if len(shape) > 2 else ""
            raise ValueError(f"{self.name} (Dense): expected a 2-D input (N, features), got shape "
                             f"{self._fmt(shape)}{hint}")
        if self.built and shape[-1] != self.input_shape[-1]:
            raise ValueError(f"{self.name} (Dense): expected {self.input_shape[-1]} input features, "
                             f"got input shape {self._fmt(shape)}")

    def _build(self, input_shape, rng):
        init = initializers.get(self.kernel_initializer, self.name)
        self.add_param("kernel", init((input_shape[-1], self.units), rng))
        if self.use_bias:
            self.add_param("bias", np.zeros(self.units))

    def compute_output_shape(self, input_shape):
        return (None, self.units)

    def _forward(self, x, training, logits=False):
        # logits=True: stop before the activation (models use it to fuse
        # softmax with cross-entropy, and to read pre-softmax class scores).
        bias = self.params["bias"].value if self.use_bias else None
        z, dense_cache = dense_forward(x, self.params["kernel"].value, bias)
        y, act_cache = apply_activation(None if logits else self.activation, z)
        return y, (dense_cache, act_cache)

    def _backward(self, dy, cache, from_logits=False):
        dense_cache, act_cache = cache
        dz = dy if from_logits else activation_backward(self.activation, dy, act_cache)
        dx, dw, db = dense_backward(dz, dense_cache)
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
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_regularizer": None if self.kernel_regularizer is None else self.kernel_regularizer.get_config(),
            "kernel_initializer": self.kernel_initializer if isinstance(self.kernel_initializer, str) else "glorot_uniform",
            **super().get_config(),
        }
