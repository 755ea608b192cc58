"""Dense: every output unit connected to every input feature.

x: (N, D) -> y: (N, units); kernel: (D, units) (Keras layout), bias: (units,).
The math is in ``minicnn.ops.dense``.
"""
from __future__ import annotations

import numbers

from ..ops.dense import dense_backward, dense_forward
from .weighted import WeightedLayer


class Dense(WeightedLayer):
    expected_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_regularizer=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(activation=activation, use_bias=use_bias, kernel_regularizer=kernel_regularizer,
                         kernel_initializer=kernel_initializer, **kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Dense({self.name}): units must be a positive int, got {units!r}")
        self.units = int(units)

    def _check_input_shape(self, shape):
        if len(shape) != 2:
            hint = " (add a Flatten layer before Dense)" if len(shape) > 2 else ""
            raise ValueError(f"{self.name} (Dense): expected a 2-D input (N, features), got shape "
                             f"{self._fmt(shape)}{hint}")
        self._check_last_dim(shape, "input features")

    def _build(self, input_shape, rng):
        self._make_weights((input_shape[-1], self.units), self.units, rng)

    def compute_output_shape(self, input_shape):
        return (None, self.units)

    def _forward(self, x, training, logits=False):
        bias = self.params["bias"].value if self.use_bias else None
        z, dense_cache = dense_forward(x, self.params["kernel"].value, bias)
        y, act_cache = self._activate(z, logits)
        return y, (dense_cache, act_cache)

    def _backward(self, dy, cache, from_logits=False, param_grads=True):
        dense_cache, act_cache = cache
        dz = self._activation_grad(dy, act_cache, from_logits)
        dx, dw, db = dense_backward(dz, dense_cache)
        self._accumulate(dw, db, param_grads)
        return dx

    def get_config(self):
        return {"units": self.units, **super().get_config()}
