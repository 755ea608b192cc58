"""Panel labels that say what they are: "true 3 / pred 5", not "3 / 5".

A figure copied out of its report loses the heading that explained "0 / 0";
these helpers put the words in the label itself.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

__all__ = ["class_name", "true_and_predicted"]

ONE_LINE = 22  # longer labels go on two lines, so they stay above their own panel


def class_name(k: int, class_names: Optional[Sequence[str]] = None) -> str:
    """``class_names[k]``, or the index itself when there are no names (or too few)."""
    k = int(k)
    return str(class_names[k]) if class_names is not None and 0 <= k < len(class_names) else str(k)


def true_and_predicted(true, predicted, class_names: Optional[Sequence[str]] = None) -> List[str]:
    """One label per image: "true 3 / pred 5" ("true cat\\npred dog" when that is long).

    true, predicted: (N,) class indices.
    """
    true, predicted = np.asarray(true).reshape(-1), np.asarray(predicted).reshape(-1)
    if len(true) != len(predicted):
        raise ValueError(f"true_and_predicted: {len(true)} true labels for {len(predicted)} predictions")
    labels = []
    for t, p in zip(true, predicted):
        a, b = f"true {class_name(t, class_names)}", f"pred {class_name(p, class_names)}"
        labels.append(f"{a} / {b}" if len(a) + len(b) + 3 <= ONE_LINE else f"{a}\n{b}")
    return labels
