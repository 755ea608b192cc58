"""Gradient checking, public so students can check their own layers.

The idea: for a function ``y = f(x)`` and a random upstream gradient ``g``,
the scalar ``L = sum(y * g)`` has ``dL/dx = backward(g)``. We estimate
``dL/dx`` numerically with central differences in float64,

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h),

and compare with the analytic gradient via a relative error.

Kinks: ReLU at 0 and max-pooling ties are not differentiable. When an input
is within ``h`` of a kink the numerical estimate is meaningless. Such
elements are *detected* (the one-sided slopes on each side disagree) and
*reported* in ``GradCheckResult.kinks`` instead of failing the check.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

__all__ = [
    "numerical_gradient",
    "relative_error",
    "GradCheckResult",
    "check_gradient",
    "check_layer_gradients",
]


def relative_error(a, b, eps: float = 1e-12) -> float:
    """``max |a - b| / max(|a| + |b|)`` over all elements (0 when both are 0).

    A scale-free error: about 1e-7 or less means agreement in float64.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    if scale < eps:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6,
                       entries: Optional[np.ndarray] = None) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` w.r.t. array ``x``.

    ``x`` is perturbed **in place** (and restored), so ``f`` must read it.
    x: any shape, float64 recommended. Returns an array shaped like x.
    entries: flat indices to estimate (default: all); the others stay 0
    (large arrays are checked on a sample: each entry costs two calls of f).
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)  # a view: writing to it changes x
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be contiguous so it can be perturbed in place")
    g = grad.reshape(-1)
    for i in (range(flat.size) if entries is None else entries):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        g[i] = (plus - minus) / (2 * h)
    return grad


def _kink_mask(f: Callable[[], float], x: np.ndarray, suspects: np.ndarray, h: float,
               floor: float) -> np.ndarray:
    """Among ``suspects`` (flat indices), those where the one-sided slopes differ.

    A smooth function has equal left and right slopes up to O(h); at a kink
    they jump (for ReLU from 0 to 1 times the upstream gradient).
    """
    flat = x.reshape(-1)
    base = f()
    is_kink = np.zeros(suspects.size, dtype=bool)
    for j, i in enumerate(suspects):
        old = flat[i]
        flat[i] = old + h
        right = (f() - base) / h
        flat[i] = old - h
        left = (base - f()) / h
        flat[i] = old
        # floor: slopes far below the gradient's overall size are noise.
        scale = max(abs(left), abs(right), floor)
        is_kink[j] = abs(right - left) / scale > 1e-2
    return is_kink


@dataclass
class GradCheckResult:
    """Outcome of a gradient check: one relative error per checked array."""

    errors: Dict[str, float] = field(default_factory=dict)
    kinks: Dict[str, List[int]] = field(default_factory=dict)
    tolerance: float = 1e-6

    @property
    def ok(self) -> bool:
        return all(err <= self.tolerance for err in self.errors.values())

    def __repr__(self) -> str:
        parts = [f"{k}: {v:.2e}" for k, v in self.errors.items()]
        kinks = {k: len(v) for k, v in self.kinks.items() if v}
        tail = f", kinks skipped {kinks}" if kinks else ""
        return f"GradCheckResult({'ok' if self.ok else 'FAILED'}; {', '.join(parts)}{tail})"


def _compare(name, analytic, numeric, loss, array, h, tolerance, result):
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient of {name!r}: analytic shape {analytic.shape} != input shape {numeric.shape}")
    # The error is measured against the gradient's overall size (as in
    # relative_error), so only elements that spoil that measure are suspects.
    overall = float(np.max(np.abs(analytic)) + np.max(np.abs(numeric))) if numeric.size else 0.0
    bad = (np.abs(analytic - numeric) > tolerance * overall).reshape(-1)
    kinks: List[int] = []
    keep = np.ones(numeric.size, dtype=bool)
    if bad.any():
        suspects = np.flatnonzero(bad)
        is_kink = _kink_mask(loss, array, suspects, h, floor=1e-3 * overall)
        kinks = suspects[is_kink].tolist()
        keep[kinks] = False
    result.kinks[name] = kinks
    result.errors[name] = relative_error(analytic.reshape(-1)[keep], numeric.reshape(-1)[keep])


def check_gradient(
    forward: Callable[..., np.ndarray],
    backward: Callable[[np.ndarray], Dict[str, np.ndarray]],
    inputs: Dict[str, np.ndarray],
    wrt: Optional[List[str]] = None,
    seed: int = 0,
    h: float = 1e-5,
    tolerance: float = 1e-6,
) -> GradCheckResult:
    """Check ``backward`` against central differences of ``forward``.

    forward(**inputs) -> y: any array. It is called many times.
    backward(dy) -> {name: gradient}: called once, right after ``forward``
        has run on the unperturbed inputs.
    inputs: arrays, converted to float64 copies (the originals are not touched).
    wrt: which inputs to check (default: all that ``backward`` returns).
    """
    rng = np.random.default_rng(seed)
    arrays = {k: np.array(v, dtype=np.float64, copy=True) for k, v in inputs.items()}
    y = np.asarray(forward(**arrays))
    upstream = rng.standard_normal(y.shape)
    analytic = backward(upstream)
    names = list(analytic) if wrt is None else list(wrt)
    result = GradCheckResult(tolerance=tolerance)

    def loss():
        return float(np.sum(np.asarray(forward(**arrays), dtype=np.float64) * upstream))

    for name in names:
        numeric = numerical_gradient(loss, arrays[name], h)
        _compare(name, analytic[name], numeric, loss, arrays[name], h, tolerance, result)
    return result


def check_layer_gradients(layer, x: np.ndarray, seed: int = 0, h: float = 1e-5,
                          tolerance: float = 1e-6, training: bool = True) -> GradCheckResult:
    """Check a layer's ``backward``: the input gradient and every trainable parameter.

    The scalar is ``sum(forward(x) * upstream) + regularization penalty``.

    The layer is built for ``x`` and its parameters are converted to float64.
    x: the layer's input, e.g. (N, H, W, C). Gradients are checked with the
    same ``training`` flag as the forward pass (BatchNorm uses batch
    statistics when training=True).
    """
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64, copy=True)
    if not layer.built:
        layer.build(x.shape)
    for p in layer.params.values():
        p.value = np.array(p.value, dtype=np.float64, copy=True)
    state = {k: p.value.copy() for k, p in layer.params.items() if not p.trainable}

    def restore_state():
        # BatchNorm's moving statistics change on every training forward;
        # restore them so each evaluation sees the same layer.
        for k, v in state.items():
            layer.params[k].value[...] = v

    y = layer.forward(x, training=training)
    upstream = rng.standard_normal(y.shape)
    for p in layer.params.values():
        p.grad = None
    dx = layer.backward(upstream)
    analytic = {"x": dx}
    analytic.update({k: p.grad for k, p in layer.params.items() if p.trainable})
    restore_state()
    result = GradCheckResult(tolerance=tolerance)

    def loss():
        out = layer.forward(x, training=training)
        restore_state()
        # A kernel_regularizer's penalty is part of the loss its gradient belongs to.
        penalty = layer.regularization_loss() if hasattr(layer, "regularization_loss") else 0.0
        return float(np.sum(np.asarray(out, dtype=np.float64) * upstream)) + penalty

    targets = {"x": x}
    targets.update({k: p.value for k, p in layer.params.items() if p.trainable})
    for name, array in targets.items():
        numeric = numerical_gradient(loss, array, h)
        _compare(name, analytic[name], numeric, loss, array, h, tolerance, result)
    return result
