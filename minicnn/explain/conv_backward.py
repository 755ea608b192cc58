"""The backward pass of a small convolution, every term written out.

Given the forward pass (cross-correlation, as the engine computes it)

    y[i, j, f] = sum_{u, v, c} x_pad[i*SH + u, j*SW + v, c] * w[u, v, c, f] + b[f]

and an upstream gradient ``dy = dL/dy`` (default: all ones, i.e. L is the sum
of all outputs), the chain rule gives three sums, which this module prints
term by term:

- ``dW[u, v, c, f] = sum_{i, j} x_pad[i*SH + u, j*SW + v, c] * dy[i, j, f]``:
  each kernel weight collects, from every window, the input value it
  multiplied times that window's dy;
- ``dx[r, s, c] = sum_f sum_{i, j} w[u, v, c, f] * dy[i, j, f]`` over the
  windows (i, j) that cover input cell (r, s), with ``(u, v)`` the kernel cell
  lying on it; with stride 1 this is a "full" convolution of dy with the
  kernel rotated by 180 degrees (with stride S, of dy with S - 1 zeros
  inserted between its entries), which the trace also computes and compares;
- ``db[f] = sum_{i, j} dy[i, j, f]``.

Then it runs the engine's ``minicnn.ops.conv.conv2d_backward`` (float64) on
the same numbers and shows that it gives the same dW, dx and db.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.shapes import check_padding
from .gradient_terms import GradEntry, Term, grid_markdown, grid_text
from .trace import ConvTrace, _num, conv1d_trace, conv2d_trace

__all__ = ["ConvBackwardTrace", "conv2d_backward_trace", "conv1d_backward_trace"]


def conv2d_backward_trace(x, w, b=None, stride=1, padding=0, dy=None,
                          channel_names: Optional[Sequence[str]] = None,
                          filter_names: Optional[Sequence[str]] = None) -> "ConvBackwardTrace":
    """Trace dW, dx and db of a 2-D convolution of one image.

    x: (H, W, C) or (H, W); w: (KH, KW, C, F), (KH, KW, C) or (KH, KW);
    b: (F,), a scalar or None; stride: int or (SH, SW); padding: "valid",
    "same", int or (ph, pw) -- as for :func:`minicnn.explain.conv2d_trace`.
    dy: the upstream gradient, (OH, OW, F) (or (OH, OW) with one filter);
    None means all ones.

    Returns a :class:`ConvBackwardTrace`: ``.dw`` (KH, KW, C, F), ``.dx``
    (H, W, C), ``.db`` (F,), ``.engine`` (the same from ``conv2d_backward``),
    ``.to_text()``, ``.to_markdown()``.
    """
    if isinstance(padding, list):
        padding = tuple(padding)
    forward = conv2d_trace(x, w, b, stride, padding, channel_names=channel_names,
                           filter_names=filter_names)
    return ConvBackwardTrace(forward, dy, check_padding(padding, "conv2d_backward_trace"),
                             "conv2d_backward_trace")


def conv1d_backward_trace(x, w, b=0, stride: int = 1, padding=0, dy=None) -> "ConvBackwardTrace":
    """Trace dW, dx and db of a 1-D convolution.

    x: (n,) or (n, C); w: (k,), (k, C) or (k, C, F); b: scalar or (F,);
    stride: int >= 1; padding: int P, "valid" or "same".
    dy: (OW,) with one filter, (OW, F) with several; None means all ones.

    Returns a :class:`ConvBackwardTrace` whose ``.dx`` has the shape of x
    ((n,) or (n, C)), ``.dw`` the shape of w as given ((k,), (k, C) or
    (k, C, F)), and ``.db`` is (F,).
    """
    forward = conv1d_trace(x, w, b, stride, padding)
    padding = forward.padding  # checked: "valid", "same" or an int
    engine_padding = padding if isinstance(padding, str) else (0, padding)
    return ConvBackwardTrace(forward, dy, engine_padding, "conv1d_backward_trace")


class ConvBackwardTrace:
    """dW, dx and db of a traced convolution, each entry a written-out sum.

    Attributes
    ----------
    forward: the :class:`ConvTrace` of the forward pass (padding, kernel, ...).
    dy: (OH, OW, F) the upstream gradient used (OH = 1 for 1-D).
    dw_entries, dx_entries, db_entries: lists of :class:`GradEntry`.
    dw, dx, db: the gradients (shapes: see the two tracer functions).
    full_convolution: (H, W, C) dx recomputed as a full convolution of the
        (dilated) dy with the rotated kernel; ``full_convolution_agrees``.
    engine: {"dw", "dx", "db"} from ``minicnn.ops.conv.conv2d_backward``, in
        the same shapes; ``max_difference`` from the trace; ``agrees``.
    """

    def __init__(self, forward: ConvTrace, dy, engine_padding, owner: str):
        if forward.mode != "cross-correlation":
            raise ValueError(f"{owner}: the backward trace follows the engine, which computes a "
                             f"cross-correlation; mode {forward.mode!r} is not supported "
                             f"(drop --mode convolution)")
        self.forward = forward
        self.ndim = forward.ndim
        self._x = forward.x                    # (H, W, C); H = 1 for 1-D
        self._xp = forward.x_padded            # the padded input
        self._w = forward.w                    # (KH, KW, C, F)
        self.H, self.W, self.C = self._x.shape
        self.KH, self.KW, _, self.F = self._w.shape
        self.SH, self.SW = forward.strides
        self.top, self.bottom, self.left, self.right = forward.pads
        self.OH = (self._xp.shape[0] - self.KH) // self.SH + 1
        self.OW = (self._xp.shape[1] - self.KW) // self.SW + 1
        self.dy_given = dy is not None
        self.dy = self._check_dy(dy, owner)

        self.dw_entries = self._dw_entries()
        self.dx_entries = self._dx_entries()
        self.db_entries = self._db_entries()
        self._dw4 = np.array([e.value for e in self.dw_entries]).reshape(self._w.shape)
        self._dx3 = np.array([e.value for e in self.dx_entries]).reshape(self._x.shape)
        self._db1 = np.array([e.value for e in self.db_entries])

        self._full = self._full_convolution()
        self.full_convolution = self._full["dx"]
        self.full_convolution_agrees = bool(np.allclose(self.full_convolution, self._dx3,
                                                        rtol=1e-12, atol=1e-12))
        self._engine_run(engine_padding)

    # ------------------------------------------------------------- the inputs
    def _check_dy(self, dy, owner) -> np.ndarray:
        OH, OW, F = self.OH, self.OW, self.F
        if dy is None:
            return np.ones((OH, OW, F))
        dy = np.asarray(dy, dtype=np.float64)
        if self.ndim == 1:
            accepted = {(OW,): (1, OW, 1)} if F == 1 else {}
            accepted[(OW, F)] = (1, OW, F)
            expected = f"(OW,) = ({OW},)" if F == 1 else f"(OW, F) = ({OW}, {F})"
        else:
            accepted = {(OH, OW, F): (OH, OW, F)}
            if F == 1:
                accepted[(OH, OW)] = (OH, OW, 1)
            expected = f"(OH, OW) = ({OH}, {OW})" if F == 1 else f"(OH, OW, F) = ({OH}, {OW}, {F})"
        if dy.shape not in accepted:
            raise ValueError(f"{owner}: dy must have the shape of the output, {expected} "
                             f"(one value per output), got dy.shape={dy.shape}")
        return dy.reshape(accepted[dy.shape])

    # ------------------------------------------------------------- the labels
    def _idx(self, *parts) -> str:
        return "[" + ",".join(str(p) for p in parts) + "]"

    def _x_label(self, R, S, c, prefix="x") -> str:
        """Label of padded cell (R, S): ``x[r,s]`` in the student's (unpadded) indices, or ``pad``."""
        r, s = R - self.top, S - self.left
        if not (0 <= r < self.H and 0 <= s < self.W):
            return "pad"
        pos = (s,) if self.ndim == 1 else (r, s)
        return prefix + self._idx(*pos, *((c,) if self.C > 1 else ()))

    def _w_label(self, u, v, c, f, prefix="w") -> str:
        pos = (v,) if self.ndim == 1 else (u, v)
        return prefix + self._idx(*pos, *((c, f) if self.C > 1 or self.F > 1 else ()))

    def _dy_label(self, i, j, f) -> str:
        pos = (j,) if self.ndim == 1 else (i, j)
        return "dy" + self._idx(*pos, *((f,) if self.F > 1 else ()))

    def _db_label(self, f) -> str:
        return "db" if self.F == 1 else f"db[{f}]"

    # ------------------------------------------------------------- the sums
    def _dw_entries(self) -> List[GradEntry]:
        """dW[u, v, c, f] = sum over windows (i, j) of x_pad[i*SH + u, j*SW + v, c] * dy[i, j, f]."""
        entries = []
        for u in range(self.KH):
            for v in range(self.KW):
                for c in range(self.C):
                    for f in range(self.F):
                        terms = []
                        for i in range(self.OH):
                            for j in range(self.OW):
                                R, S = i * self.SH + u, j * self.SW + v
                                terms.append(Term(self._x_label(R, S, c), float(self._xp[R, S, c]),
                                                  self._dy_label(i, j, f), float(self.dy[i, j, f])))
                        entries.append(GradEntry(self._w_label(u, v, c, f, "dW"), terms,
                                                 float(sum(t.value for t in terms))))
        return entries

    def _dx_entries(self) -> List[GradEntry]:
        """dx[r, s, c] = sum over f and the windows covering (r, s) of w[u, v, c, f] * dy[i, j, f]."""
        entries = []
        for r in range(self.H):
            for s in range(self.W):
                for c in range(self.C):
                    R, S = r + self.top, s + self.left  # the cell in padded coordinates
                    terms = []
                    for f in range(self.F):
                        for i in range(self.OH):
                            u = R - i * self.SH  # kernel row lying on this cell in window row i
                            if not 0 <= u < self.KH:
                                continue
                            for j in range(self.OW):
                                v = S - j * self.SW
                                if not 0 <= v < self.KW:
                                    continue
                                terms.append(Term(self._w_label(u, v, c, f), float(self._w[u, v, c, f]),
                                                  self._dy_label(i, j, f), float(self.dy[i, j, f])))
                    note = "" if terms else "no window covers this cell: the stride skips it"
                    entries.append(GradEntry(self._x_label(R, S, c, "dx"), terms,
                                             float(sum(t.value for t in terms)), note))
        return entries

    def _db_entries(self) -> List[GradEntry]:
        """db[f] = the sum of dy over all outputs of filter f."""
        entries = []
        for f in range(self.F):
            terms = [Term(self._dy_label(i, j, f), float(self.dy[i, j, f]))
                     for i in range(self.OH) for j in range(self.OW)]
            entries.append(GradEntry(self._db_label(f), terms, float(sum(t.value for t in terms))))
        return entries

    def _full_convolution(self) -> dict:
        """dx again, as a full convolution of the (dilated) dy with the rotated kernel.

        Dilate dy (S - 1 zeros between entries; nothing to do when S = 1), pad
        it with K - 1 zeros on every side, and slide the kernel rotated by 180
        degrees over it, with w's channels and filters swapped: this is the
        gradient of the *padded* input. Rows / columns that no window reached
        (dropped by the floor in the output size) get 0; cropping the padding
        off gives dx.
        """
        SH, SW, KH, KW = self.SH, self.SW, self.KH, self.KW
        dilated = np.zeros(((self.OH - 1) * SH + 1, (self.OW - 1) * SW + 1, self.F))
        dilated[::SH, ::SW] = self.dy
        # mode="convolution" rotates the kernel; (KH, KW, F, C): filters become channels
        full = conv2d_trace(dilated, self._w.transpose(0, 1, 3, 2), None, 1, (KH - 1, KW - 1),
                            mode="convolution")
        dxp = np.zeros(self._xp.shape)
        fh, fw = full.output.shape[:2]
        dxp[:fh, :fw] = full.output
        dx = dxp[self.top:self.top + self.H, self.left:self.left + self.W]
        return {"trace": full, "dy_padded": full.x_padded, "rotated": full.kernel,
                "dx_padded": dxp, "dx": dx}

    def _engine_run(self, engine_padding) -> None:
        """The engine's conv2d_backward on the same numbers (float64, a batch of one)."""
        x4 = self._x[None]
        bias = np.asarray(self.forward.b, dtype=np.float64)
        _y, cache = conv2d_forward(x4, self._w, bias, (self.SH, self.SW), engine_padding)
        dx, dw, db = conv2d_backward(self.dy[None], cache)
        self._engine4 = {"dx": dx[0], "dw": dw, "db": db}
        self.engine = {"dx": self._shape_x(dx[0]), "dw": self._shape_w(dw), "db": db}
        self.max_difference = float(max(np.max(np.abs(dx[0] - self._dx3)),
                                        np.max(np.abs(dw - self._dw4)),
                                        np.max(np.abs(db - self._db1))))
        scale = max(1.0, float(np.max(np.abs(self._dw4))), float(np.max(np.abs(self._dx3))),
                    float(np.max(np.abs(self._db1))))
        self.agrees = self.max_difference <= 1e-9 * scale

    # ------------------------------------------------------------- user shapes
    def _shape_x(self, a3):
        if self.ndim == 2:
            return a3
        return a3[0, :, 0] if self.C == 1 else a3[0]

    def _shape_w(self, a4):
        if self.ndim == 2:
            return a4
        if self.forward._single_filter:
            return a4[0, :, 0, 0] if self.C == 1 else a4[0, :, :, 0]
        return a4[0]

    @property
    def dx(self):
        return self._shape_x(self._dx3)

    @property
    def dw(self):
        return self._shape_w(self._dw4)

    @property
    def db(self):
        return self._db1

    # ------------------------------------------------------------- rendering
    def _rules(self) -> dict:
        one = self.C == 1 and self.F == 1
        if self.ndim == 1:
            c, f = ("", "") if one else (", c", ", f")
            cf = "" if self.F == 1 else ", f"
            return {
                "dw": f"dW[v{c}{f}] = sum over the windows j of x_pad[j*S + v{c}] * dy[j{cf}]: "
                      f"the input value under kernel cell v in window j, times that window's dy",
                "dx": f"dx[s{c}] = sum over {'f and ' if self.F > 1 else ''}the windows j that cover x[s] of "
                      f"w[v{c}{f}] * dy[j{cf}], where v = s + {self.left} - j*{self.SW} is the kernel cell "
                      f"lying on x[s] (left padding {self.left}, stride {self.SW})",
                "db": f"db{'[f]' if self.F > 1 else ''} = sum over the windows j of dy[j{cf}]",
            }
        c, f = ("", "") if one else (", c", ", f")
        cf = "" if self.F == 1 else ", f"
        return {
            "dw": f"dW[u, v{c}{f}] = sum over the windows (i, j) of x_pad[i*SH + u, j*SW + v{c}] * dy[i, j{cf}]: "
                  f"the input value under kernel cell (u, v) in window (i, j), times that window's dy",
            "dx": f"dx[r, s{c}] = sum over {'f and ' if self.F > 1 else ''}the windows (i, j) that cover "
                  f"x[r, s] of w[u, v{c}{f}] * dy[i, j{cf}], where (u, v) = (r + {self.top} - i*{self.SH}, "
                  f"s + {self.left} - j*{self.SW}) is the kernel cell lying on x[r, s] "
                  f"(padding top {self.top}, left {self.left}; strides {self.SH}, {self.SW})",
            "db": f"db{'[f]' if self.F > 1 else ''} = sum over the windows (i, j) of dy[i, j{cf}]",
        }

    def _header(self) -> List[str]:
        fwd = self.forward._header()[1:]  # shapes, bias, stride, padding (not the mode line)
        if self.ndim == 1:
            formula = "forward: y[j] = sum_v x_pad[j*S + v] * w[v] + b"
        else:
            formula = "forward: y[i, j, f] = sum_{u, v, c} x_pad[i*SH + u, j*SW + v, c] * w[u, v, c, f] + b[f]"
        dy = ("dy = dL/dy: as given" if self.dy_given
              else "dy = dL/dy: all ones (the default; L is the sum of all outputs)")
        return ["cross-correlation, as the engine computes it; " + formula] + fwd + [dy]

    def _planes(self):
        """(title, plane) for the padded input, the kernel and dy."""
        chan = (lambda c: "") if self.C == 1 else (lambda c: f", channel {self.forward.channel_names[c]}")
        filt = (lambda f: "") if self.F == 1 else (lambda f: f", {self.forward._filter_title(f)}")
        out = [(f"padded input{chan(c)}", self._xp[..., c]) for c in range(self.C)]
        out += [(f"kernel w{filt(f)}{chan(c)}", self._w[:, :, c, f])
                for f in range(self.F) for c in range(self.C)]
        out += [(f"dy{filt(f)}", self.dy[..., f]) for f in range(self.F)]
        return out

    def _result_planes(self, which, dw4, dx3, db1):
        chan = (lambda c: "") if self.C == 1 else (lambda c: f", channel {self.forward.channel_names[c]}")
        filt = (lambda f: "") if self.F == 1 else (lambda f: f", {self.forward._filter_title(f)}")
        if which == "dw":
            return [(f"dW{filt(f)}{chan(c)}", dw4[:, :, c, f]) for f in range(self.F) for c in range(self.C)]
        if which == "dx":
            return [(f"dx{chan(c)}", dx3[..., c]) for c in range(self.C)]
        return [("db (one per filter)" if self.F > 1 else "db", db1[None, :])]

    def _full_lines(self) -> List[str]:
        KH, KW, SH, SW = self.KH, self.KW, self.SH, self.SW
        k = (f"K - 1 = {KW - 1} zero(s)" if self.ndim == 1
             else f"KH - 1 = {KH - 1} row(s) and KW - 1 = {KW - 1} column(s) of zeros")
        lines = []
        if (SH, SW) == (1, 1):
            lines.append('With stride 1, dx is a "full" convolution of dy with the kernel rotated by 180 '
                         f"degrees: pad dy with {k} on every side, slide the rotated kernel over it "
                         "(channels and filters of w swapped), and crop the input padding off.")
        else:
            s = (f"S - 1 = {SW - 1} zero(s)" if self.ndim == 1
                 else f"SH - 1 = {SH - 1} zero row(s) / SW - 1 = {SW - 1} zero column(s)")
            lines.append('With stride 1, dx is a "full" convolution of dy with the kernel rotated by 180 '
                         f"degrees. With this stride, dy is first dilated ({s} between its entries), "
                         f"then padded with {k} on every side; the rotated kernel slides over it "
                         "(channels and filters of w swapped), and the input padding is cropped off.")
        return lines

    def _full_planes(self):
        full = self._full
        filt = (lambda f: "") if self.F == 1 else (lambda f: f", {self.forward._filter_title(f)}")
        chan = (lambda c: "") if self.C == 1 else (lambda c: f", channel {self.forward.channel_names[c]}")
        dil = "dilated and padded" if (self.SH, self.SW) != (1, 1) else "padded"
        out = [(f"dy {dil}{filt(f)}", full["dy_padded"][..., f]) for f in range(self.F)]
        out += [(f"kernel rotated 180 degrees{filt(f)}{chan(c)}", full["rotated"][:, :, f, c])
                for f in range(self.F) for c in range(self.C)]
        out += [(f"full convolution = gradient of the padded input{chan(c)}", full["dx_padded"][..., c])
                for c in range(self.C)]
        if self.ndim == 1:
            crop = f"crop: keep positions {self.left}..{self.left + self.W - 1}"
        else:
            crop = (f"crop: keep rows {self.top}..{self.top + self.H - 1}, "
                    f"cols {self.left}..{self.left + self.W - 1}")
        out += [(f"{crop}{chan(c)}", full["dx"][..., c]) for c in range(self.C)]
        return out

    def _verdicts(self):
        full = ("the same as dx above" if self.full_convolution_agrees
                else "DIFFERENT from dx above: please report this")
        engine = (f"largest difference from the trace: {self.max_difference:.3g} -> they agree"
                  if self.agrees else
                  f"largest difference from the trace: {self.max_difference:.3g} -> they DISAGREE")
        return full, engine

    def to_text(self) -> str:
        """Plain text: every entry of dW, dx, db as a sum of products, then the checks."""
        rules = self._rules()
        L = ["Convolution backward trace"] + ["  " + h for h in self._header()] + [""]
        for title, plane in self._planes():
            L += grid_text(title, plane)
        for key, entries in (("dw", self.dw_entries), ("dx", self.dx_entries), ("db", self.db_entries)):
            L += ["", rules[key]]
            for e in entries:
                L += ["  " + line for line in e.lines()]
            for title, plane in self._result_planes(key, self._dw4, self._dx3, self._db1):
                L += grid_text(title, plane)
        full_verdict, engine_verdict = self._verdicts()
        L += ["", 'dx as a "full" convolution'] + ["  " + line for line in self._full_lines()]
        for title, plane in self._full_planes():
            L += ["  " + line for line in grid_text(title, plane)]
        L += [f"  -> {full_verdict}", ""]
        L.append("The engine (minicnn.ops.conv.conv2d_backward, float64) on the same numbers:")
        e = self._engine4
        for key in ("dw", "dx", "db"):
            for title, plane in self._result_planes(key, e["dw"], e["dx"], e["db"]):
                L += ["  " + line for line in grid_text(title, plane)]
        L.append(f"  {engine_verdict}")
        return "\n".join(L)

    def to_markdown(self) -> str:
        """Markdown for a report: tables for the planes, each sum in a code block."""
        rules = self._rules()
        md = ["## Convolution backward trace", ""] + [f"- {h}" for h in self._header()] + [""]
        md += ["### Inputs", ""]
        for title, plane in self._planes():
            md += grid_markdown(title, plane)
        names = {"dw": "dW, the kernel's gradient", "dx": "dx, the input's gradient", "db": "db, the bias's gradient"}
        for key, entries in (("dw", self.dw_entries), ("dx", self.dx_entries), ("db", self.db_entries)):
            md += [f"### {names[key]}", "", f"`{rules[key]}`", "", "```text"]
            for e in entries:
                md += e.lines()
            md += ["```", ""]
            for title, plane in self._result_planes(key, self._dw4, self._dx3, self._db1):
                md += grid_markdown(title, plane)
        full_verdict, engine_verdict = self._verdicts()
        md += ['### dx as a "full" convolution', ""] + self._full_lines() + [""]
        for title, plane in self._full_planes():
            md += grid_markdown(title, plane)
        md += [f"Result: {full_verdict}.", "", "### The engine on the same numbers", "",
               "`minicnn.ops.conv.conv2d_backward` (float64):", ""]
        e = self._engine4
        for key in ("dw", "dx", "db"):
            for title, plane in self._result_planes(key, e["dw"], e["dx"], e["db"]):
                md += grid_markdown(title, plane)
        md += [f"Result: {engine_verdict}.", ""]
        return "\n".join(md)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (f"ConvBackwardTrace(ndim={self.ndim}, dw.shape={self.dw.shape}, dx.shape={self.dx.shape}, "
                f"db={[_num(v) for v in self.db]}, agrees={self.agrees})")
