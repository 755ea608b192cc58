"""Activation layers (ReLU, Softmax, Activation(name)) and the helper that
Conv2D and Dense use for their ``activation=`` argument."""
from __future__ import annotations

from ..ops.activation import ACTIVATIONS, relu_backward, relu_forward, softmax_backward, softmax_forward
from .base import Layer


def check_activation(name, owner):
    if name is None:
        return None
    if not isinstance(name, str) or name.lower() not in ACTIVATIONS:
        raise ValueError(f"{owner}: unknown activation {name!r}; choose from {sorted(ACTIVATIONS)} or None")
    name = name.lower()
    return None if name == "linear" else name


def apply_activation(name, z):
    """z -> (a, cache); ``name`` None means identity."""
    if name is None:
        return z, None
    forward, _ = ACTIVATIONS[name]
    return forward(z)


def activation_backward(name, da, cache):
    if name is None:
        return da
    _, backward = ACTIVATIONS[name]
    return backward(da, cache)


class ReLU(Layer):
    """y = max(x, 0), elementwise."""

    def _forward(self, x, training):
        return relu_forward(x)

    def _backward(self, dy, mask):
        return relu_backward(dy, mask)


class Softmax(Layer):
    """Softmax over the last axis. Followed by cross-entropy, models use the fused gradient."""

    outputs_softmax = True

    def _forward(self, x, training, logits=False):
        if logits:
            return x, None
        return softmax_forward(x)

    def _backward(self, dy, cache, from_logits=False):
        # from_logits: dy is already the gradient w.r.t. this layer's input
        # (the fused softmax + cross-entropy gradient p - y).
        return dy if from_logits else softmax_backward(dy, cache)


class Activation(Layer):
    """Activation(name): 'relu', 'sigmoid', 'tanh', 'softmax' or 'linear'."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = check_activation(activation, f"Activation({activation!r})") or "linear"

    @property
    def outputs_softmax(self):
        return self.activation == "softmax"

    def _forward(self, x, training, logits=False):
        if logits:
            return x, None
        return apply_activation(None if self.activation == "linear" else self.activation, x)

    def _backward(self, dy, cache, from_logits=False):
        if from_logits:
            return dy
        return activation_backward(None if self.activation == "linear" else self.activation, dy, cache)

    def get_config(self):
        return {"activation": self.activation, **super().get_config()}
