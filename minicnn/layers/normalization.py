"""BatchNorm: normalise each channel (4-D input) or feature (2-D input)
with batch statistics while training and moving statistics at inference.

Parameters: gamma, beta (trainable), moving_mean, moving_variance (not).
A frozen BatchNorm (trainable=False) behaves as at inference, even during
training: it uses and does not update its moving statistics (Keras >= 2.1.3).
"""
from __future__ import annotations

import numpy as np

from ..ops.norm import batchnorm_backward, batchnorm_forward
from .base import Layer


class BatchNorm(Layer):
    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        owner = f"BatchNorm({self.name})"
        if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
            raise ValueError(f"{owner}: momentum must be in [0, 1), got {momentum!r}")
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(f"{owner}: epsilon must be > 0, got {epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def _check_input_shape(self, shape):
        if len(shape) not in (2, 4):
            raise ValueError(f"{self.name} (BatchNorm): expected (N, H, W, C) or (N, features), "
                             f"got shape {self._fmt(shape)}")
        self._check_last_dim(shape, "channels")

    def _build(self, input_shape, rng):
        c = input_shape[-1]
        self.add_param("gamma", np.ones(c))
        self.add_param("beta", np.zeros(c))
        self.add_param("moving_mean", np.zeros(c), trainable=False)
        self.add_param("moving_variance", np.ones(c), trainable=False)

    def _forward(self, x, training):
        p = self.params
        use_batch_stats = training and self.trainable
        return batchnorm_forward(
            x, p["gamma"].value, p["beta"].value, p["moving_mean"].value, p["moving_variance"].value,
            self.momentum, self.epsilon, training=use_batch_stats,
        )

    def _backward(self, dy, cache, param_grads=True):
        dx, dgamma, dbeta = batchnorm_backward(dy, cache)
        if param_grads and self._update_params():
            self.params["gamma"].accumulate(dgamma)
            self.params["beta"].accumulate(dbeta)
        return dx

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon, **super().get_config()}


BatchNormalization = BatchNorm
