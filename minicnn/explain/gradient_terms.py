"""One gradient entry written out as a sum of products, the way it is derived by hand.

    dW[0,1] = x[0,1]*dy[0,0] + x[0,2]*dy[0,1] + ...      (which numbers meet)
            = 2*1 + 3*1 + ... = 5                         (their values, and the sum)

Shared by the backward traces (convolution, max pool, Dense).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .trace import _factor, _grid_rows, _md_table, _num

__all__ = ["Term", "GradEntry", "grid_text", "grid_markdown"]


@dataclass
class Term:
    """One product ``a * b`` of a sum (``b_label=None``: a single value ``a``)."""

    a_label: str
    a: float
    b_label: Optional[str] = None
    b: float = 1.0

    @property
    def value(self) -> float:
        return self.a * self.b if self.b_label is not None else self.a

    def symbolic(self) -> str:
        return self.a_label if self.b_label is None else f"{self.a_label}*{self.b_label}"

    def numeric(self) -> str:
        return _factor(self.a) if self.b_label is None else f"{_factor(self.a)}*{_factor(self.b)}"


@dataclass
class GradEntry:
    """``name = sum of terms = value``; ``note`` says why a sum is empty, when it is."""

    name: str
    terms: List[Term] = field(default_factory=list)
    value: float = 0.0
    note: str = ""

    def lines(self) -> List[str]:
        """Two lines: the symbols, then the numbers and the value (one line for an empty sum)."""
        if not self.terms:
            return [f"{self.name} = 0  ({self.note or 'empty sum'})"]
        if len(self.terms) == 1 and self.terms[0].b_label is None:  # nothing to multiply
            return [f"{self.name} = {self.terms[0].symbolic()} = {_num(self.value)}"]
        pad = " " * len(self.name)
        symbols = " + ".join(t.symbolic() for t in self.terms)
        numbers = " + ".join(t.numeric() for t in self.terms)
        tail = f"  ({self.note})" if self.note else ""
        return [f"{self.name} = {symbols}{tail}", f"{pad} = {numbers} = {_num(self.value)}"]


def grid_text(title: str, plane) -> List[str]:
    """``title:`` then the plane's rows, right-aligned."""
    return [title + ":"] + ["  " + row for row in _grid_rows(np.asarray(plane))]


def grid_markdown(title: str, plane) -> List[str]:
    """``**title**`` then a markdown table of the plane."""
    return [f"**{title}**", ""] + _md_table(np.asarray(plane)) + [""]
