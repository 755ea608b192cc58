"""Weight initializers (Keras names and formulas).

For a kernel of shape (KH, KW, C_in, C_out), Keras counts
fan_in = KH * KW * C_in and fan_out = KH * KW * C_out; for (D, U), D and U.
"""
import numpy as np


def fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return receptive * shape[-2], receptive * shape[-1]


def glorot_uniform(shape, rng):
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape, rng):
    fan_in, fan_out = fans(shape)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return _truncated_normal(shape, std, rng)


def he_uniform(shape, rng):
    fan_in, _ = fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def he_normal(shape, rng):
    fan_in, _ = fans(shape)
    return _truncated_normal(shape, np.sqrt(2.0 / fan_in), rng)


def zeros(shape, rng=None):
    return np.zeros(shape)


def ones(shape, rng=None):
    return np.ones(shape)


def _truncated_normal(shape, std, rng):
    """Normal values redrawn until within 2 std (Keras' truncated normal)."""
    values = rng.standard_normal(size=shape)
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(values) > 2
    # Keras rescales so the truncated distribution has the requested std.
    return values * std / 0.87962566103423978


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros, ones)}


def get(name, owner=""):
    if callable(name):
        return name
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"{owner}: unknown initializer {name!r}; choose from {sorted(INITIALIZERS)}") from None
