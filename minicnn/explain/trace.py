"""The step-by-step computation: one :class:`Step` per output value, rendered
as text or markdown so that each line is one line of the hand computation.

``mode="cross-correlation"`` (the default) slides the kernel as it is, like
CNN libraries; ``mode="convolution"`` flips it first (rotates it by 180
degrees), the mathematical convolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..ops.shapes import as_pair, check_padding, conv_output_size, pad_amounts
from .formula import _check_padding_1d, _explain_axis

__all__ = ["MODES", "Step", "ConvTrace", "conv1d_trace", "conv2d_trace"]

MODES = ("cross-correlation", "convolution")


# ----------------------------------------------------------------------------
# Number formatting: the trace must read like hand work, so 2.0 prints as "2".
# ----------------------------------------------------------------------------
def _num(v) -> str:
    """``2.0 -> "2"``, ``-0.5 -> "-0.5"``, ``1/3 -> "0.3333"``."""
    v = float(v)
    if v == 0:
        return "0"  # also turns -0.0 into "0"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def _factor(v) -> str:
    """A number used as a factor: negatives in parentheses, ``2*(-1)``."""
    s = _num(v)
    return f"({s})" if s.startswith("-") else s


# ----------------------------------------------------------------------------
# The trace objects
# ----------------------------------------------------------------------------
@dataclass
class Step:
    """One output value: ``value = sum(window * kernel) + bias``.

    f: filter index; i, j: output row and column (i = 0 for 1-D traces);
    rows, cols: the window's first and last row / column in the *padded* input;
    window, kernel, products: (KH, KW, C) arrays (``kernel`` already flipped in
    convolution mode); channel_sums: (C,) sums of ``products`` per channel;
    total: ``products.sum()``; bias; value = total + bias.
    """

    f: int
    i: int
    j: int
    rows: Tuple[int, int]
    cols: Tuple[int, int]
    window: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    total: float
    bias: float
    value: float

    def expression(self) -> str:
        """``2*1 + 1*1 + ... + bias 1 = 7`` (channels grouped in parentheses when C > 1)."""
        C = self.window.shape[-1]
        groups = []
        for c in range(C):
            terms = [f"{_factor(a)}*{_factor(b)}"
                     for a, b in zip(self.window[..., c].ravel(), self.kernel[..., c].ravel())]
            groups.append(" + ".join(terms))
        if C == 1:
            return f"{groups[0]} + bias {_num(self.bias)} = {_num(self.value)}"
        sums = " + ".join(_factor(s) for s in self.channel_sums)
        return (" + ".join(f"({g})" for g in groups)
                + f" + bias {_num(self.bias)} = {sums} + {_factor(self.bias)} = {_num(self.value)}")


class ConvTrace:
    """The result of :func:`conv2d_trace` or :func:`conv1d_trace`.

    Attributes
    ----------
    output: (OH, OW, F) for 2-D traces; (OW,) for a 1-D trace with one
        filter, (OW, F) with several.
    steps: list of :class:`Step`, filter by filter, then row by row.
    x_padded: (H + top + bottom, W + left + right, C) the input after padding.
    kernel: (KH, KW, C, F) the kernel *as slid* (flipped in convolution mode).
    pads: (top, bottom, left, right); strides: (SH, SW).
    """

    def __init__(self, *, x, x_padded, w, kernel, b, strides, padding, pads, mode,
                 output, steps, channel_names, ndim, single_filter, filter_names=None):
        self.x = x
        self.x_padded = x_padded
        self.w = w
        self.kernel = kernel
        self.b = b
        self.strides = strides
        self.padding = padding
        self.pads = pads
        self.mode = mode
        self.output = output
        self.steps: List[Step] = steps
        self.channel_names = list(channel_names)
        self.ndim = ndim
        self._single_filter = single_filter
        self.filter_names = None if filter_names is None else list(filter_names)

    def _filter_title(self, f: int) -> str:
        """"filter 0", or "filter 0 (Filter1)" when the filters were given names (the course's)."""
        named = self.filter_names is not None and str(self.filter_names[f]) != str(f)
        return f"filter {f} ({self.filter_names[f]})" if named else f"filter {f}"

    # -- helpers shared by the text and markdown renderings --
    def _label(self, s: Step) -> str:
        F = self.kernel.shape[3]
        where = f"[{s.j}]" if self.ndim == 1 else f"[{s.i},{s.j}]"
        return f"out{where}" if F == 1 and self.ndim == 1 else f"out[f={s.f}]{where}"

    def _window_text(self, s: Step) -> str:
        if self.ndim == 1:
            return f"window = padded x[{s.cols[0]}..{s.cols[1]}]"
        return (f"window = padded x rows {s.rows[0]}..{s.rows[1]}, "
                f"cols {s.cols[0]}..{s.cols[1]}")

    def _formulas(self) -> List[str]:
        H, W = self.x.shape[:2]
        KH, KW = self.kernel.shape[:2]
        top, bottom, left, right = self.pads
        label = self.padding if isinstance(self.padding, str) else "int"
        def block(title, text):  # continuation lines indented under the title
            return [title] + ["  " + line for line in text.splitlines()]

        if self.ndim == 1:
            return block("output length:", _explain_axis(W, KW, self.strides[1], left, right, label))
        return (block("output height (n = H, K = KH, S = SH):",
                      _explain_axis(H, KH, self.strides[0], top, bottom, label))
                + block("output width (n = W, K = KW, S = SW):",
                        _explain_axis(W, KW, self.strides[1], left, right, label)))

    def _header(self) -> List[str]:
        KH, KW, C, F = self.kernel.shape
        if self.mode == "convolution":
            mode = ("convolution: the kernel is flipped (rotated 180 degrees) before it slides, "
                    "k[u, v] = w[KH-1-u, KW-1-v]")
        else:
            mode = "cross-correlation: the kernel slides over the input as it is (what CNN libraries do)"
        if self.ndim == 1:
            shapes = f"x: length {self.x.shape[1]}, kernel: length {KW}"
            if C > 1:
                shapes += f", {C} channels"
            if F > 1:
                shapes += f", {F} filters"
        else:
            H, W = self.x.shape[:2]
            shapes = f"x: {H}x{W}x{C} (H x W x C), w: {KH}x{KW}x{C}x{F} (KH x KW x C x F)"
            if C > 1:
                shapes += f", channels in order {', '.join(self.channel_names)}"
        top, bottom, left, right = self.pads
        pad = (f"padding {self.padding!r} -> left {left}, right {right}" if self.ndim == 1 else
               f"padding {self.padding!r} -> top {top}, bottom {bottom}, left {left}, right {right}")
        stride = (f"stride S = {self.strides[1]}" if self.ndim == 1
                  else f"strides S = {self.strides[0]} (rows), {self.strides[1]} (cols)")
        return [mode, shapes, f"bias b = [{', '.join(_num(v) for v in self.b)}]", stride, pad]

    def _output_planes(self):
        """Yield (title, 2-D array) for each filter's output map."""
        out = self.output
        if self.ndim == 1:
            out2 = out.reshape(1, out.shape[0], -1)
        else:
            out2 = out
        for f in range(out2.shape[-1]):
            yield f"output, {self._filter_title(f)}", out2[..., f]

    def _input_planes(self):
        KH, KW, C, F = self.kernel.shape
        chan = (lambda name: "") if C == 1 else (lambda name: f", channel {name}")
        for c, name in enumerate(self.channel_names):
            yield f"padded input{chan(name)}", self.x_padded[..., c]
        slid = " (flipped)" if self.mode == "convolution" else ""
        for f in range(F):
            for c, name in enumerate(self.channel_names):
                yield f"kernel{slid}, {self._filter_title(f)}{chan(name)}", self.kernel[:, :, c, f]

    # -- renderings --
    def to_text(self) -> str:
        """Plain text, one line per output value, to compare with hand work."""
        lines = ["Convolution trace"] + ["  " + h for h in self._header()] + [""]
        lines += self._formulas() + [""]
        for title, plane in self._input_planes():
            lines.append(title + ":")
            lines += ["  " + row for row in _grid_rows(plane)]
        lines.append("")
        for s in self.steps:
            lines.append(f"{self._label(s)}: {self._window_text(s)}")
            lines.append(f"  {self._label(s)} = {s.expression()}")
        lines.append("")
        for title, plane in self._output_planes():
            lines.append(title + ":")
            lines += ["  " + row for row in _grid_rows(plane)]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Markdown: headings, tables for the planes, one list item per output value."""
        md = ["## Convolution trace", ""] + [f"- {h}" for h in self._header()] + [""]
        md += ["### Output size", "", "```"] + self._formulas() + ["```", ""]
        md += ["### Inputs", ""]
        for title, plane in self._input_planes():
            md += [f"**{title}**", ""] + _md_table(plane) + [""]
        md += ["### Step by step", ""]
        for s in self.steps:
            md.append(f"- `{self._label(s)}` ({self._window_text(s)}): "
                      f"`{self._label(s)} = {s.expression()}`")
        md += ["", "### Output", ""]
        for title, plane in self._output_planes():
            md += [f"**{title}**", ""] + _md_table(plane) + [""]
        return "\n".join(md)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        stride = self.strides[1] if self.ndim == 1 else self.strides
        return (f"ConvTrace(mode={self.mode!r}, stride={stride}, padding={self.padding!r}, "
                f"output.shape={self.output.shape}, steps={len(self.steps)})")


def _grid_rows(plane: np.ndarray) -> List[str]:
    cells = [[_num(v) for v in row] for row in np.atleast_2d(plane)]
    width = max(len(c) for row in cells for c in row)
    return [" ".join(c.rjust(width) for c in row) for row in cells]


def _md_table(plane: np.ndarray) -> List[str]:
    """A markdown table with "row i" / "col j" labels (markdown needs a header row)."""
    plane = np.atleast_2d(plane)
    ncols = plane.shape[1]
    head = "| | " + " | ".join(f"col {j}" for j in range(ncols)) + " |"
    sep = "|---|" + "---:|" * ncols
    return [head, sep] + [f"| **row {i}** | " + " | ".join(_num(v) for v in row) + " |"
                          for i, row in enumerate(plane)]


# ----------------------------------------------------------------------------
# The tracers
# ----------------------------------------------------------------------------
def _check_mode(mode, owner):
    if mode not in MODES:
        raise ValueError(f"{owner}: mode must be one of {MODES}, got {mode!r}")
    return mode


def _bias_vector(b, F: int, owner: str) -> np.ndarray:
    """``None`` -> zeros(F); a scalar -> the same bias for every filter; else (F,)."""
    if b is None:
        return np.zeros(F)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 0:
        return np.full(F, float(b))
    if b.shape != (F,):
        raise ValueError(f"{owner}: b must have shape ({F},) (one bias per filter), got b.shape={b.shape}")
    return b


def conv2d_trace(x, w, b=None, stride=1, padding=0, mode: str = "cross-correlation",
                 channel_names: Optional[Sequence[str]] = None,
                 filter_names: Optional[Sequence[str]] = None) -> ConvTrace:
    """Trace a 2-D convolution of one image, output value by output value.

    x: (H, W, C) one image, or (H, W) for one channel.
    w: (KH, KW, C, F) F filters; (KH, KW, C) or (KH, KW) for one filter.
    b: (F,) biases, a scalar, or None (zeros).
    stride: int or (SH, SW), >= 1.
    padding: "valid", "same" (TensorFlow's rule), int or (ph, pw) (symmetric).
    mode: "cross-correlation" (default, what CNN libraries do) or "convolution"
        (kernel flipped).
    channel_names: names printed for the channels, e.g. ("R", "G", "B").
    filter_names: names printed next to the filter numbers, e.g. ("Filter1",
        "Filter2") as in PW08's figure (the output is still indexed f = 0, 1).

    Returns a :class:`ConvTrace` whose ``.output`` is (OH, OW, F).
    """
    owner = "conv2d_trace"
    _check_mode(mode, owner)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    _check_not_empty(x, w, owner)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{owner}: x must be (H, W, C) or (H, W), got x.shape={x.shape}")
    if w.ndim == 2:
        w = w[:, :, None, None]
    elif w.ndim == 3:
        w = w[..., None]
    if w.ndim != 4:
        raise ValueError(f"{owner}: w must be (KH, KW, C, F), (KH, KW, C) or (KH, KW), "
                         f"got w.shape={w.shape}")
    return _trace(x, w, b, stride, padding, mode, channel_names, owner, ndim=2,
                  single_filter=False, filter_names=filter_names)


def conv1d_trace(x, w, b=0, stride: int = 1, padding=0, mode: str = "cross-correlation",
                 channel_names: Optional[Sequence[str]] = None) -> ConvTrace:
    """Trace a 1-D convolution, output value by output value.

    x: (n,) a signal, or (n, C) with C channels.
    w: (k,) one kernel, (k, C) one filter over C channels, or (k, C, F) F filters.
    b: a scalar (default 0) or (F,) biases.
    stride: int >= 1; padding: int P (P zeros on each side), "valid" or "same".
    mode: "cross-correlation" (default) or "convolution" (kernel reversed).

    Returns a :class:`ConvTrace` whose ``.output`` is (OW,) with one filter,
    (OW, F) with several. Internally this is a 2-D trace of height 1.
    """
    owner = "conv1d_trace"
    _check_mode(mode, owner)
    # checked here, so that the message shows the 1-D stride (not the internal pair (1, S))
    if not _is_int(stride):
        raise ValueError(f"{owner}: stride must be one int for a 1-D trace, got {stride!r}")
    if stride < 1:
        raise ValueError(f"{owner}: stride must be >= 1, got {stride!r}")
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    _check_not_empty(x, w, owner)
    if x.ndim == 1 and w.ndim >= 2 and w.shape[1] != 1:
        raise ValueError(
            f"{owner}: 2-D kernel on 1-D input: x is a 1-D signal of {x.shape[0]} values but w has "
            f"{w.shape[0]} rows of {w.shape[1]} (w.shape={w.shape}); give w as one row of numbers "
            f"for a 1-D convolution, or x as rows (an image) for a 2-D one")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{owner}: x must be (n,) or (n, C), got x.shape={x.shape}")
    single = w.ndim in (1, 2)
    if w.ndim == 1:
        w = w[:, None, None]
    elif w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3:
        raise ValueError(f"{owner}: w must be (k,), (k, C) or (k, C, F), got w.shape={w.shape}")
    padding = _check_padding_1d(padding, owner)
    # A 1-D signal is an image of height 1; the kernel has height 1 too.
    pad2 = padding if isinstance(padding, str) else (0, padding)
    return _trace(x[None], w[None], b, (1, stride), pad2, mode,
                  channel_names, owner, ndim=1, single_filter=single, padding_label=padding)


def _check_not_empty(x, w, owner):
    for name, a in (("x", x), ("w", w)):
        if a.size == 0:
            raise ValueError(f"{owner}: the input {name} is empty (shape {a.shape}); give it some numbers")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _trace(x, w, b, stride, padding, mode, channel_names, owner, ndim, single_filter,
           padding_label=None, filter_names=None) -> ConvTrace:
    H, W, C = x.shape
    KH, KW, Cw, F = w.shape
    if Cw != C:
        raise ValueError(
            f"{owner}: x has {C} channel(s) but w expects {Cw}: x.shape={x.shape if ndim == 2 else x.shape[1:]}, "
            f"w.shape={w.shape if ndim == 2 else w.shape[1:]} (channels are the last axis of x and "
            f"the third axis of w)"
        )
    SH, SW = as_pair(stride, "stride", owner, minimum=1)
    if padding_label is None:
        padding_label = padding  # shown as the student gave it (0, not (0, 0))
    padding = check_padding(padding, owner)
    top, bottom = pad_amounts(H, KH, SH, padding if isinstance(padding, str) else padding[0])
    left, right = pad_amounts(W, KW, SW, padding if isinstance(padding, str) else padding[1])
    if ndim == 1 and KW > W + left + right:
        raise ValueError(
            f"{owner}: the kernel (length {KW}) is longer than the padded input "
            f"(length {W} + padding {left} + {right} = {W + left + right}): it fits nowhere"
        )
    if KH > H + top + bottom or KW > W + left + right:
        raise ValueError(
            f"{owner}: kernel w ({KH}x{KW}) is larger than the padded input x "
            f"({H + top + bottom}x{W + left + right} = {H}x{W} plus padding {padding!r}); "
            f"x.shape={x.shape}, w.shape={w.shape}"
        )
    OH = conv_output_size(H, KH, SH, top, bottom)
    OW = conv_output_size(W, KW, SW, left, right)
    bias = _bias_vector(b, F, owner)
    if channel_names is None:
        channel_names = [str(c) for c in range(C)]
    elif len(channel_names) != C:
        raise ValueError(f"{owner}: {len(channel_names)} channel names for {C} channels")
    if filter_names is not None and len(filter_names) != F:
        raise ValueError(f"{owner}: {len(filter_names)} filter names for {F} filters (w.shape={w.shape})")

    # Convolution = cross-correlation with the kernel rotated by 180 degrees.
    kernel = w[::-1, ::-1] if mode == "convolution" else w
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))

    out = np.zeros((OH, OW, F))
    steps = []
    for f in range(F):
        for i in range(OH):
            for j in range(OW):
                r0, c0 = i * SH, j * SW  # top-left corner of the window in the padded input
                window = xp[r0:r0 + KH, c0:c0 + KW, :]
                products = window * kernel[:, :, :, f]
                channel_sums = products.reshape(-1, C).sum(axis=0)
                total = float(channel_sums.sum())
                value = total + float(bias[f])
                out[i, j, f] = value
                steps.append(Step(f, i, j, (r0, r0 + KH - 1), (c0, c0 + KW - 1), window.copy(),
                                  kernel[:, :, :, f].copy(), products, channel_sums, total,
                                  float(bias[f]), value))
    if ndim == 1:
        output = out[0, :, 0] if single_filter else out[0]
    else:
        output = out
    return ConvTrace(x=x, x_padded=xp, w=w, kernel=np.ascontiguousarray(kernel), b=bias,
                     strides=(SH, SW), padding=padding_label,
                     pads=(top, bottom, left, right), mode=mode, output=output, steps=steps,
                     channel_names=channel_names, ndim=ndim, single_filter=single_filter,
                     filter_names=filter_names)
