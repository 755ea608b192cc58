"""Repeated runs summarised: mean ± sample standard deviation (ddof = 1)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def mean_std(values: Sequence[float]):
    """-> (mean, std with ddof=1, or None for a single value)."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if a.size == 0:
        return None, None
    return float(a.mean()), (float(a.std(ddof=1)) if a.size > 1 else None)


def fmt_mean_std(values: Sequence[float], percent: bool = True, digits: int = 1) -> str:
    """'63.2 ± 0.8 %' (or '63.2 %' for one run); values are fractions when percent."""
    m, s = mean_std(values)
    if m is None:
        return "-"
    k = 100.0 if percent else 1.0
    unit = " %" if percent else ""
    if s is None:
        return f"{m * k:.{digits}f}{unit}"
    return f"{m * k:.{digits}f} ± {s * k:.{digits}f}{unit}"


def curve_band(histories: Sequence[dict], key: str):
    """Per-epoch mean and std (ddof=1; zeros for one run) of ``key`` over runs -> (mean, std) arrays,
    or None when a run lacks the key."""
    if not histories or any(key not in h for h in histories):
        return None
    n = min(len(h[key]) for h in histories)
    a = np.array([h[key][:n] for h in histories], dtype=np.float64)
    std = a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(n)
    return a.mean(axis=0), std


def best_of(groups: dict, key: str = "best_val_accuracy") -> Optional[str]:
    """The name of the group with the highest mean ``key``."""
    scored = {name: mean_std([r[key] for r in g.results])[0] for name, g in groups.items()}
    scored = {k: v for k, v in scored.items() if v is not None}
    return max(scored, key=scored.get) if scored else None
