"""Small argument checks shared by transforms, augmenters and preprocessing.

Every check raises ``ValueError("<Owner>: <arg> must be <rule>, got <value>")``
so a student sees at once which class, which argument and which value.
"""
from __future__ import annotations

import numbers

import numpy as np


def fail(owner: str, arg: str, rule: str, value) -> None:
    raise ValueError(f"{owner}: {arg} must be {rule}, got {value!r}")


def is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)


def is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def probability(owner: str, arg: str, p) -> float:
    """A probability in [0, 1]."""
    if not is_number(p) or not 0.0 <= p <= 1.0:
        fail(owner, arg, "a number in [0, 1]", p)
    return float(p)


def number(owner: str, arg: str, v) -> float:
    """Any finite real number (not a bool)."""
    if not is_number(v):
        fail(owner, arg, "a number", v)
    return float(v)


def flag(owner: str, arg: str, v) -> bool:
    """True or False (a stray string such as "yes" is a mistake, not True)."""
    if not isinstance(v, (bool, np.bool_)):
        fail(owner, arg, "True or False", v)
    return bool(v)


def seed(owner: str, v):
    """A seed for ``np.random.default_rng``: None, an int >= 0, a SeedSequence or a Generator."""
    ok = (v is None or isinstance(v, (np.random.SeedSequence, np.random.Generator))
          or (is_int(v) and v >= 0))
    if not ok:
        fail(owner, "seed", "None, an int >= 0, a SeedSequence or a Generator", v)
    return v


def non_negative(owner: str, arg: str, v) -> float:
    if not is_number(v) or v < 0:
        fail(owner, arg, "a number >= 0", v)
    return float(v)


def symmetric_range(owner: str, arg: str, v, low=None, high=None, center=0.0):
    """``d`` -> ``(center - d, center + d)``; a pair ``(lo, hi)`` is kept as is.

    ``low``/``high`` bound the resulting interval (inclusive).
    """
    if is_number(v):
        if v < 0:
            fail(owner, arg, "a number >= 0 or a pair (lo, hi)", v)
        lo, hi = center - float(v), center + float(v)
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(is_number(t) for t in v):
        lo, hi = float(v[0]), float(v[1])
        if lo > hi:
            fail(owner, arg, "a pair (lo, hi) with lo <= hi", v)
    else:
        fail(owner, arg, "a number >= 0 or a pair (lo, hi)", v)
    if low is not None and lo < low:
        fail(owner, arg, f"a range inside [{low}, {high if high is not None else 'inf'}]", v)
    if high is not None and hi > high:
        fail(owner, arg, f"a range inside [{low if low is not None else '-inf'}, {high}]", v)
    return lo, hi


def choice(owner: str, arg: str, v, options) -> str:
    if v not in options:
        fail(owner, arg, "one of " + ", ".join(repr(o) for o in options), v)
    return v


def image_batch(owner: str, x) -> tuple[np.ndarray, bool]:
    """Return ``(batch, was_single)``: an (H, W, C) image becomes a (1, H, W, C) batch."""
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None], True
    if x.ndim == 4:
        return x, False
    raise ValueError(
        f"{owner}: expected an image (H, W, C) or a batch (N, H, W, C), got shape {x.shape}"
    )
