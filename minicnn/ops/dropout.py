"""Inverted dropout: zero each input with probability ``rate`` while training,
and scale the survivors by ``1 / (1 - rate)`` so the expected output equals
the input; at inference the layer is the identity (no rescaling needed).
"""
import numpy as np


def dropout_forward(x, rate, rng, training):
    """x: any shape; rng: np.random.Generator -> y (same shape), cache = scaled mask."""
    if not training or rate == 0.0:
        return x, None
    keep = (rng.random(x.shape) >= rate).astype(x.dtype) / (1.0 - rate)
    return x * keep, keep


def dropout_backward(dy, keep):
    """The same mask (and scale) applies to the gradient."""
    return dy if keep is None else dy * keep
