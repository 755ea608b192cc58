"""Where a max pool sends its gradient, window by window, ties included.

A max pool passes each window's largest value on, so its gradient goes back
to that one cell: ``dx[cell] += dy[window]``, and every other cell of the
window gets nothing from it.

Ties: when several cells share the maximum, the max is not differentiable
there, and any split of dy among them is a valid choice. The engine's rule
(``minicnn.ops.pool``, the same in every kernel backend) is: **the first
maximum in row-major window order** (left to right along the window's first
row, then the next row) takes the whole gradient; the other tied cells get 0.
The trace says so at every tie, then runs the engine's
``maxpool2d_backward`` on the same numbers to show the same routing.
"""
from __future__ import annotations

from typing import List

import numpy as np

from ..ops.pool import maxpool2d_backward, maxpool2d_forward
from ..ops.shapes import as_pair
from .gradient_terms import GradEntry, Term, grid_markdown, grid_text
from .trace import _num

__all__ = ["MaxPoolBackwardTrace", "maxpool_backward_trace", "TIE_RULE"]

TIE_RULE = ("ties: the first maximum in row-major window order (left to right, then top to bottom) "
            "takes the whole gradient and the other tied cells get 0 (the engine's rule, "
            "minicnn.ops.pool, in every kernel backend)")


def maxpool_backward_trace(x, pool_size=2, stride=None, dy=None) -> "MaxPoolBackwardTrace":
    """Trace a max pool's backward pass ("valid" windows).

    x: (H, W) or (H, W, C); pool_size: int or (PH, PW), default 2 (a 2x2
    pool); stride: int or pair, default the pool size (Keras);
    dy: (OH, OW) or (OH, OW, C), default all ones.
    Returns a :class:`MaxPoolBackwardTrace` (``.dx`` shaped like x).
    """
    return MaxPoolBackwardTrace(x, pool_size, stride, dy)


class MaxPoolBackwardTrace:
    """Window lines (``.windows``), dx entries (``.dx_entries``), ``.dx``, ``.engine_dx``, ``.agrees``."""

    def __init__(self, x, pool_size, stride, dy):
        owner = "maxpool_backward_trace"
        x = np.asarray(x, dtype=np.float64)
        self._two_d = x.ndim == 2
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3 or x.size == 0:
            raise ValueError(f"{owner}: x must be a non-empty (H, W) or (H, W, C) array, got x.shape={x.shape}")
        self.x = x
        self.pool = as_pair(pool_size, "pool_size", owner)
        self.strides = self.pool if stride is None else as_pair(stride, "stride", owner)
        H, W, C = x.shape
        (PH, PW), (SH, SW) = self.pool, self.strides
        if PH > H or PW > W:
            raise ValueError(f"{owner}: a {PH}x{PW} pool does not fit a {H}x{W} input")
        OH, OW = (H - PH) // SH + 1, (W - PW) // SW + 1
        self.dy_given = dy is not None
        if dy is None:
            dy = np.ones((OH, OW, C))
        dy = np.asarray(dy, dtype=np.float64)
        if dy.shape == (OH, OW) and C == 1:
            dy = dy[:, :, None]
        if dy.shape != (OH, OW, C):
            want = f"({OH}, {OW})" if C == 1 else f"({OH}, {OW}, {C})"
            raise ValueError(f"{owner}: dy must have the output's shape {want}, got dy.shape={dy.shape}")
        self.dy = dy

        self.windows: List[str] = []
        routed = {}  # (r, s, c) -> terms routed to that cell
        y = np.zeros((OH, OW, C))
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    r0, s0 = i * SH, j * SW
                    win = x[r0:r0 + PH, s0:s0 + PW, c]
                    best = win.max()
                    y[i, j, c] = best
                    cells = [(r0 + a, s0 + b) for a in range(PH) for b in range(PW)]  # row-major
                    tied = [cell for cell, v in zip(cells, win.ravel()) if v == best]
                    winner = tied[0]
                    g = self._l("dy", (i, j), c)
                    routed.setdefault((*winner, c), []).append(Term(g, float(dy[i, j, c])))
                    values = ", ".join(_num(v) for v in win.ravel())
                    line = (f"{self._l('y', (i, j), c)} = max({values}) = {_num(best)}, "
                            f"window rows {r0}..{r0 + PH - 1}, cols {s0}..{s0 + PW - 1}: ")
                    if len(tied) == 1:
                        line += f"dx{self._idx(winner, c)} += {g} = {_num(dy[i, j, c])}"
                    else:
                        others = ", ".join(self._l("x", cell, c) for cell in tied[1:])
                        line += (f"a tie between {', '.join(self._l('x', cell, c) for cell in tied)}; "
                                 f"the first in row-major order, {self._l('x', winner, c)}, takes "
                                 f"{g} = {_num(dy[i, j, c])} and {others} get{'s' if len(tied) == 2 else ''} 0")
                    self.windows.append(line)
        self.y = y
        self.dx_entries: List[GradEntry] = []
        dx = np.zeros_like(x)
        for (r, s, c) in sorted(routed, key=lambda k: (k[2], k[0], k[1])):
            terms = routed[(r, s, c)]
            value = float(sum(t.value for t in terms))
            dx[r, s, c] = value
            self.dx_entries.append(GradEntry("dx" + self._idx((r, s), c), terms, value))
        self._dx3 = dx

        y_e, cache = maxpool2d_forward(x[None], self.pool, self.strides, "valid")
        self._engine3 = maxpool2d_backward(dy[None], cache)[0]
        self.max_difference = float(max(np.max(np.abs(self._engine3 - dx)), np.max(np.abs(y_e[0] - y))))
        self.agrees = self.max_difference == 0.0  # routing copies numbers: exact

    def _idx(self, pos, c) -> str:
        return "[" + ",".join(str(p) for p in (*pos, *((c,) if self.x.shape[2] > 1 else ()))) + "]"

    def _l(self, name, pos, c) -> str:
        return name + self._idx(pos, c)

    def _shape(self, a3):
        return a3[:, :, 0] if self._two_d else a3

    @property
    def dx(self):
        return self._shape(self._dx3)

    @property
    def engine_dx(self):
        return self._shape(self._engine3)

    def _planes(self, which):
        C = self.x.shape[2]
        chan = (lambda c: "") if C == 1 else (lambda c: f", channel {c}")
        arr = {"x": self.x, "dy": self.dy, "dx": self._dx3, "engine": self._engine3}[which]
        title = {"x": "x", "dy": "dy", "dx": "dx", "engine": "dx from maxpool2d_backward"}[which]
        return [(f"{title}{chan(c)}", arr[..., c]) for c in range(C)]

    def _header(self):
        (PH, PW), (SH, SW) = self.pool, self.strides
        dy = "dy: as given" if self.dy_given else "dy: all ones (the default)"
        return [f"max pool {PH}x{PW}, strides {SH}, {SW}, padding \"valid\"; x: {'x'.join(map(str, self.x.shape))} "
                f"(H x W x C); {dy}",
                "each window's dy goes to the cell holding its maximum: dx[cell] += dy[window]; "
                "every other cell of the window gets 0 from it",
                TIE_RULE]

    def _verdict(self):
        return ("the same dx -> they agree" if self.agrees else
                f"largest difference {self.max_difference:.3g} -> they DISAGREE")

    def to_text(self) -> str:
        L = ["Max-pool backward trace"] + ["  " + h for h in self._header()] + [""]
        for title, plane in self._planes("x") + self._planes("dy"):
            L += grid_text(title, plane)
        L += ["", "window by window:"] + ["  " + w for w in self.windows]
        L += ["", "dx, the sum of what each cell received (all other cells: 0):"]
        for e in self.dx_entries:
            L += ["  " + line for line in e.lines()]
        for title, plane in self._planes("dx"):
            L += grid_text(title, plane)
        L += ["", "The engine (minicnn.ops.pool.maxpool2d_backward, float64) on the same numbers:"]
        for title, plane in self._planes("engine"):
            L += ["  " + line for line in grid_text(title, plane)]
        L.append("  " + self._verdict())
        return "\n".join(L)

    def to_markdown(self) -> str:
        md = ["## Max-pool backward trace", ""] + [f"- {h}" for h in self._header()] + ["", "### Inputs", ""]
        for title, plane in self._planes("x") + self._planes("dy"):
            md += grid_markdown(title, plane)
        md += ["### Window by window", ""] + [f"- `{w}`" for w in self.windows] + [""]
        md += ["### dx", "", "Each cell's sum of what it received (all other cells: 0):", "", "```text"]
        for e in self.dx_entries:
            md += e.lines()
        md += ["```", ""]
        for title, plane in self._planes("dx"):
            md += grid_markdown(title, plane)
        md += ["### The engine on the same numbers", ""]
        for title, plane in self._planes("engine"):
            md += grid_markdown(title, plane)
        md += [f"Result: {self._verdict()}.", ""]
        return "\n".join(md)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"MaxPoolBackwardTrace(pool={self.pool}, strides={self.strides}, agrees={self.agrees})"
