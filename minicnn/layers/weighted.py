"""What Conv2D and Dense share: a kernel, an optional bias, an optional
activation applied to the result, and an optional kernel regularizer.

Subclasses compute ``z`` (pre-activation) and the gradients dW, db of their
own op; this class applies the activation, adds the regularizer's gradient
and accumulates the parameter gradients.
"""
from __future__ import annotations

import numpy as np

from .. import initializers, regularizers
from .activations import activation_backward, apply_activation, check_activation
from .base import Layer


class WeightedLayer(Layer):
    def __init__(self, activation=None, use_bias=True, kernel_regularizer=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        owner = f"{type(self).__name__}({self.name})"
        self.activation = check_activation(activation, owner)
        self.use_bias = bool(use_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_initializer = kernel_initializer
        initializers.get(kernel_initializer, owner)

    @property
    def kernel(self):
        """The kernel Parameter (``.value`` the array; Keras: ``layer.kernel``)."""
        return self._param("kernel")

    @property
    def bias(self):
        """The bias Parameter, or None with ``use_bias=False`` (as in Keras)."""
        return self._param("bias") if self.use_bias else None

    def _param(self, name):
        if not self.built:
            raise AttributeError(f"{self.name} ({type(self).__name__}) has no {name} yet: weights are made when "
                                 f"the layer is built (in a model with an input shape, or on its first input)")
        return self.params[name]

    @property
    def outputs_softmax(self):
        """Models fuse a final softmax with cross-entropy (see graph.py)."""
        return self.activation == "softmax"

    def _make_weights(self, kernel_shape, units, rng):
        init = initializers.get(self.kernel_initializer, self.name)
        self.add_param("kernel", init(kernel_shape, rng))
        if self.use_bias:
            self.add_param("bias", np.zeros(units))

    def _activate(self, z, logits):
        """z -> (y, cache). logits=True stops before the activation (models use
        it to fuse softmax with cross-entropy, and to read pre-softmax scores)."""
        return apply_activation(None if logits else self.activation, z)

    def _activation_grad(self, dy, act_cache, from_logits):
        """dL/dy -> dL/dz; with from_logits, dy is already dL/dz (fused softmax)."""
        return dy if from_logits else activation_backward(self.activation, dy, act_cache)

    def _accumulate(self, dw, db, param_grads=True):
        """Add the op's gradients (and the regularizer's) to kernel.grad and bias.grad
        (not when frozen, nor with param_grads=False: an input gradient only)."""
        if not (param_grads and self._update_params()):
            return
        kernel = self.params["kernel"]
        if self.kernel_regularizer is not None:
            dw = dw + self.kernel_regularizer.gradient(kernel.value)
        kernel.accumulate(dw)
        if self.use_bias:
            self.params["bias"].accumulate(db)

    def regularization_loss(self):
        """The penalty this layer adds to the loss (0 without a regularizer)."""
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer.penalty(self.params["kernel"].value)

    def get_config(self):
        return {
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_regularizer": None if self.kernel_regularizer is None else self.kernel_regularizer.get_config(),
            "kernel_initializer": self.kernel_initializer if isinstance(self.kernel_initializer, str) else "glorot_uniform",
            **super().get_config(),
        }
