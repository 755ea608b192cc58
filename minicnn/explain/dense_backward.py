"""The backward pass of a Dense layer, every product written out.

Forward: ``y[n, u] = sum_d x[n, d] * W[d, u] + b[u]`` (x: (N, D), W: (D, U),
Keras' layout). The chain rule gives, entry by entry:

- ``dW[d, u] = sum_n x[n, d] * dy[n, u]``, i.e. ``dW = x^T . dy``: row d of
  x^T is column d of x, so each weight collects, over the batch, its input
  value times its output's gradient;
- ``dx[n, d] = sum_u dy[n, u] * W[d, u]``, i.e. ``dx = dy . W^T``;
- ``db[u] = sum_n dy[n, u]``.

Then ``minicnn.ops.dense.dense_backward`` runs on the same numbers.
"""
from __future__ import annotations

from typing import List

import numpy as np

from ..ops.dense import dense_backward, dense_forward
from .gradient_terms import GradEntry, Term, grid_markdown, grid_text

__all__ = ["DenseBackwardTrace", "dense_backward_trace", "DENSE_EXAMPLE"]

#: The 2x3 case of the course: a batch of 2 inputs of 3 features, 2 units.
DENSE_EXAMPLE = {"x": [[1, 2, 3], [4, 5, 6]], "w": [[1, -1], [0, 2], [-2, 1]], "b": [0.5, -1]}


def dense_backward_trace(x, w, b=None, dy=None) -> "DenseBackwardTrace":
    """Trace dW = x^T dy, dx = dy W^T and db = sum_n dy.

    x: (N, D) (or (D,) for one sample); w: (D, U); b: (U,) or None (zeros);
    dy: (N, U), default all ones. ``dense_backward_trace(**DENSE_EXAMPLE)``
    is the 2x3 case.
    """
    return DenseBackwardTrace(x, w, b, dy)


class DenseBackwardTrace:
    """``.dw_entries``, ``.dx_entries``, ``.db_entries``; ``.dw``, ``.dx``, ``.db``; ``.engine``, ``.agrees``."""

    def __init__(self, x, w, b, dy):
        owner = "dense_backward_trace"
        x = np.asarray(x, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0] or x.size == 0:
            raise ValueError(f"{owner}: x must be (N, D) and w (D, U) with the same D, "
                             f"got x.shape={x.shape}, w.shape={w.shape}")
        N, D = x.shape
        U = w.shape[1]
        b = np.zeros(U) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if b.shape != (U,):
            raise ValueError(f"{owner}: b must have shape ({U},) (one bias per unit), got {b.shape}")
        self.dy_given = dy is not None
        dy = np.ones((N, U)) if dy is None else np.asarray(dy, dtype=np.float64)
        if dy.shape != (N, U):
            raise ValueError(f"{owner}: dy must have the output's shape (N, U) = ({N}, {U}), got {dy.shape}")
        self.x, self.w, self.b, self.dy = x, w, b, dy

        def entry(name, terms):
            return GradEntry(name, terms, float(sum(t.value for t in terms)))

        self.dw_entries: List[GradEntry] = [
            entry(f"dW[{d},{u}]", [Term(f"x[{n},{d}]", x[n, d], f"dy[{n},{u}]", dy[n, u]) for n in range(N)])
            for d in range(D) for u in range(U)]
        self.dx_entries: List[GradEntry] = [
            entry(f"dx[{n},{d}]", [Term(f"dy[{n},{u}]", dy[n, u], f"W[{d},{u}]", w[d, u]) for u in range(U)])
            for n in range(N) for d in range(D)]
        self.db_entries: List[GradEntry] = [
            entry(f"db[{u}]", [Term(f"dy[{n},{u}]", dy[n, u]) for n in range(N)]) for u in range(U)]
        self.dw = np.array([e.value for e in self.dw_entries]).reshape(D, U)
        self.dx = np.array([e.value for e in self.dx_entries]).reshape(N, D)
        self.db = np.array([e.value for e in self.db_entries])

        _y, cache = dense_forward(x, w, b)
        dx_e, dw_e, db_e = dense_backward(dy, cache)
        self.engine = {"dw": dw_e, "dx": dx_e, "db": db_e}
        self.max_difference = float(max(np.max(np.abs(dw_e - self.dw)), np.max(np.abs(dx_e - self.dx)),
                                        np.max(np.abs(db_e - self.db))))
        scale = max(1.0, float(np.max(np.abs(self.dw))), float(np.max(np.abs(self.dx))))
        self.agrees = self.max_difference <= 1e-12 * scale

    _RULES = {
        "dw": "dW = x^T . dy: dW[d, u] = sum over the batch n of x[n, d] * dy[n, u]",
        "dx": "dx = dy . W^T: dx[n, d] = sum over the units u of dy[n, u] * W[d, u]",
        "db": "db[u] = sum over the batch n of dy[n, u]",
    }

    def _sections(self):
        return (("dw", self.dw_entries, self.dw), ("dx", self.dx_entries, self.dx),
                ("db", self.db_entries, self.db[None, :]))

    def _header(self):
        N, D = self.x.shape
        dy = "dy: as given" if self.dy_given else "dy: all ones (the default)"
        return [f"Dense: y[n, u] = sum_d x[n, d] * W[d, u] + b[u]; x: {N}x{D} (N x D), "
                f"W: {D}x{self.w.shape[1]} (D x U); {dy}"]

    def _verdict(self):
        return (f"largest difference {self.max_difference:.3g} -> they agree" if self.agrees else
                f"largest difference {self.max_difference:.3g} -> they DISAGREE")

    def to_text(self) -> str:
        L = ["Dense backward trace"] + ["  " + h for h in self._header()] + [""]
        for title, plane in (("x", self.x), ("x^T", self.x.T), ("W", self.w), ("dy", self.dy)):
            L += grid_text(title, plane)
        for key, entries, result in self._sections():
            L += ["", self._RULES[key]]
            for e in entries:
                L += ["  " + line for line in e.lines()]
            L += grid_text(key.replace("dw", "dW"), result)
        L += ["", "The engine (minicnn.ops.dense.dense_backward, float64) on the same numbers:"]
        for key in ("dw", "dx", "db"):
            L += ["  " + line for line in grid_text(key.replace("dw", "dW"), np.atleast_2d(self.engine[key]))]
        L.append("  " + self._verdict())
        return "\n".join(L)

    def to_markdown(self) -> str:
        md = ["## Dense backward trace", ""] + [f"- {h}" for h in self._header()] + ["", "### Inputs", ""]
        for title, plane in (("x", self.x), ("x^T", self.x.T), ("W", self.w), ("dy", self.dy)):
            md += grid_markdown(title, plane)
        for key, entries, result in self._sections():
            md += [f"### {key.replace('dw', 'dW')}", "", f"`{self._RULES[key]}`", "", "```text"]
            for e in entries:
                md += e.lines()
            md += ["```", ""] + grid_markdown(key.replace("dw", "dW"), result)
        md += ["### The engine on the same numbers", ""]
        for key in ("dw", "dx", "db"):
            md += grid_markdown(key.replace("dw", "dW"), np.atleast_2d(self.engine[key]))
        md += [f"Result: {self._verdict()}.", ""]
        return "\n".join(md)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"DenseBackwardTrace(x.shape={self.x.shape}, w.shape={self.w.shape}, agrees={self.agrees})"
