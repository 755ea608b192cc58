"""Structural layers: Input, Flatten, Dropout, Add."""
from __future__ import annotations

import numbers

import numpy as np

from ..ops.add import add_backward, add_forward
from ..ops.dropout import dropout_backward, dropout_forward
from .base import Layer


class InputLayer(Layer):
    """The entry of a model; holds the per-sample shape, e.g. (32, 32, 3)."""

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)  # automatic names: input_layer, input_layer_1, ... (Keras 3's)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not shape or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
                                for d in shape):
            raise ValueError(f"Input: shape must be a tuple of positive ints (without the batch), got {shape!r}")
        self.shape = tuple(int(d) for d in shape)
        self._build_with_rng((None,) + shape, None)
        from ..graph import SymbolicTensor  # local import: graph depends on layers
        self.tensor = SymbolicTensor(self.output_shape, node=None, input_layer=self)  # what Input() returns

    @property
    def output(self):
        """The symbolic tensor of this input (Keras: ``model.input``)."""
        return self.tensor

    @property
    def input(self):
        return self.tensor

    def _forward(self, x, training):
        return x, None

    def _backward(self, dy, cache):
        return dy

    def get_config(self):
        return {"shape": self.shape, **super().get_config()}


def Input(shape, name=None):
    """Keras' ``Input(shape=(H, W, C))``: a symbolic tensor to build a Model on."""
    return InputLayer(shape, name=name).tensor


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...), in C order (channels last, like Keras)."""

    def _check_input_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(f"{self.name} (Flatten): expected an input with a batch axis and features, "
                             f"got shape {self._fmt(shape)}")

    def _strict_shape(self):
        return False

    def compute_output_shape(self, input_shape):
        dims = input_shape[1:]
        if any(d is None for d in dims):
            return (None, None)
        return (None, int(np.prod(dims)))

    def _forward(self, x, training):
        return x.reshape(x.shape[0], -1), x.shape

    def _backward(self, dy, shape):
        return dy.reshape(shape)


class Dropout(Layer):
    """Inverted dropout: drops with probability ``rate`` while training only."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout({self.name}): rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _build(self, input_shape, rng):
        if self.seed is None and rng is not None:
            # A model's seed makes its dropout masks reproducible too.
            self.rng = np.random.default_rng(rng.integers(2**63))

    def _forward(self, x, training):
        return dropout_forward(x, self.rate, self.rng, training)

    def _backward(self, dy, keep):
        return dropout_backward(dy, keep)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}


class Add(Layer):
    """Elementwise sum of a list of tensors of one shape: ``Add()([x, shortcut])``."""

    def _check_input_shape(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < 2:
            raise ValueError(f"{self.name} (Add): expects a list of at least 2 inputs, got {shapes!r}")
        first = shapes[0]
        for i, s in enumerate(shapes[1:], start=1):
            if tuple(s[1:]) != tuple(first[1:]):
                raise ValueError(f"{self.name} (Add): inputs must have the same shape, "
                                 f"input 0 is {self._fmt(first)} and input {i} is {self._fmt(s)}")

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def _forward(self, xs, training):
        self._check_input_shape([x.shape for x in xs])
        return add_forward(xs)

    def _backward(self, dy, n_inputs):
        return add_backward(dy, n_inputs)
