"""The one switch between kernel backends.

Three implementations of the same hot loops, with the same signatures:

- ``"reference"``: plain Python loops (``reference.py``), the one to read;
- ``"numpy"``: vectorised NumPy (``numpy_impl.py``);
- ``"numba"``: compiled loops (``numba_impl.py``), the default.

>>> from minicnn import kernels
>>> kernels.use("reference")        # every conv/pool op now runs the loops
>>> kernels.current()
'reference'
>>> with kernels.using("numpy"):    # temporarily
...     pass
>>> kernels.use("numba")

The environment variable ``MINICNN_KERNELS`` chooses the backend at import.
The functions below (``im2col``, ``col2im``, ``maxpool_forward``, ...)
forward to the active backend; their docstrings are in ``reference.py``.
"""
from __future__ import annotations

import importlib
import os
from contextlib import contextmanager

from .names import KERNEL_NAMES

__all__ = ["BACKENDS", "use", "current", "using", "backend"] + list(KERNEL_NAMES)

#: backend name -> module implementing it (imported on first use: numba is slow to import)
BACKENDS = {
    "reference": "minicnn.kernels.reference",
    "numpy": "minicnn.kernels.numpy_impl",
    "numba": "minicnn.kernels.numba_impl",
}

_active_name = "numba"
_active = None  # the module, loaded lazily by backend()


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"kernels.use: unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    return name


def backend(name=None):
    """The module implementing backend ``name`` (default: the active one)."""
    global _active
    if name is None:
        if _active is None:
            _active = importlib.import_module(BACKENDS[_active_name])
        return _active
    return importlib.import_module(BACKENDS[_check(name)])


def use(name: str) -> None:
    """Make ``name`` ("reference" | "numpy" | "numba") the active backend."""
    global _active_name, _active
    module = backend(name)  # import first, so a failed import leaves the switch unchanged
    _active_name, _active = name, module


def current() -> str:
    """Name of the active backend."""
    return _active_name


@contextmanager
def using(name: str):
    """``with kernels.using("reference"): ...`` runs the block with that backend."""
    previous = _active_name
    use(name)
    try:
        yield
    finally:
        use(previous)


# The dispatching functions: same signatures as in reference.py.


def im2col(x, kernel_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> cols: (N*OH*OW, KH*KW*C). See ``reference.im2col``."""
    return backend().im2col(x, kernel_hw, strides_hw, pads, out_hw, out=out)


def col2im(cols, x_shape, kernel_hw, strides_hw, pads, out_hw, out=None):
    """cols: (N*OH*OW, KH*KW*C) -> dx: (N, H, W, C). See ``reference.col2im``."""
    return backend().col2im(cols, x_shape, kernel_hw, strides_hw, pads, out_hw, out=out)


def maxpool_forward(x, pool_hw, strides_hw, pads, out_hw, out=None):
    """x: (N, H, W, C) -> (y, argmax): (N, OH, OW, C). See ``reference.maxpool_forward``."""
    return backend().maxpool_forward(x, pool_hw, strides_hw, pads, out_hw, out=out)


def maxpool_backward(dy, argmax, x_shape, pool_hw, strides_hw, pads, out=None):
    """dy, argmax: (N, OH, OW, C) -> dx: (N, H, W, C). See ``reference.maxpool_backward``."""
    return backend().maxpool_backward(dy, argmax, x_shape, pool_hw, strides_hw, pads, out=out)


def avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad):
    """x: (N, H, W, C) -> y: (N, OH, OW, C). See ``reference.avgpool_forward``."""
    return backend().avgpool_forward(x, pool_hw, strides_hw, pads, out_hw, count_pad)


def avgpool_backward(dy, x_shape, pool_hw, strides_hw, pads, count_pad):
    """dy: (N, OH, OW, C) -> dx: (N, H, W, C). See ``reference.avgpool_backward``."""
    return backend().avgpool_backward(dy, x_shape, pool_hw, strides_hw, pads, count_pad)


def relu_forward(x, out=None):
    """x: any shape -> max(x, 0). See ``reference.relu_forward``."""
    return backend().relu_forward(x, out=out)


def relu_backward(dy, y, out=None):
    """dy, y (the forward output): same shape -> dx. See ``reference.relu_backward``."""
    return backend().relu_backward(dy, y, out=out)


def batchnorm_stats(x2d):
    """x2d: (M, C) -> per-channel mean, biased variance (C,). See ``reference.batchnorm_stats``."""
    return backend().batchnorm_stats(x2d)


def batchnorm_apply(x2d, mean, inv_std, gamma, beta):
    """x2d: (M, C) -> (x - mean) * inv_std * gamma + beta. See ``reference.batchnorm_apply``."""
    return backend().batchnorm_apply(x2d, mean, inv_std, gamma, beta)


def batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats):
    """-> dx2d, dgamma, dbeta. See ``reference.batchnorm_backward``."""
    return backend().batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats)


_env = os.environ.get("MINICNN_KERNELS")
if _env:
    _active_name = _check(_env.strip().lower())
