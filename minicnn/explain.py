"""Convolutions traced step by step, to check hand work against.

A student who computed a convolution on paper wants to see, for every output
value, *which* input window was used, the products of that window with the
kernel, their sum and the bias, written the way they wrote it::

    out[f=0][0,1] = (1*1 + 0*1 + 2*0 + 1*0) + (2*1 + ...) + ... + bias 1 = 1 + 4 + 2 + 1 = 8

This module does exactly that, and nothing faster: it loops over output
positions in plain Python so that each line of the trace is one line of the
hand computation.

- ``conv1d_trace(x, w, ...)`` for a 1-D signal, ``conv2d_trace(x, w, ...)`` for
  one image (several channels, several filters). Both return a
  :class:`ConvTrace` with ``.output`` and ``.steps`` (one :class:`Step` per
  output value) that prints as text (``str(trace)``) or markdown
  (``trace.to_markdown()``).
- ``output_size_explained(n, k, stride, padding)``: the output-size formula
  with the numbers substituted.
- ``add_trace_conv_arguments`` / ``run_trace_conv``: the ``minicnn trace-conv``
  command (inputs from a small JSON file or from the command line).

Conventions (see DESIGN.md): channels last, kernels ``(KH, KW, C, F)``,
padding ``"valid"``, ``"same"`` (TensorFlow's rule) or a symmetric int / pair.
Sizes and padding amounts come from :mod:`minicnn.ops.shapes`, the one place
where they are computed.

``mode="cross-correlation"`` (the default) is what CNN libraries compute: the
kernel is slid over the input as it is. ``mode="convolution"`` is the
mathematical convolution: the kernel is first flipped (rotated by 180
degrees), which the trace shows.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .ops.shapes import as_pair, check_padding, conv_output_size, pad_amounts

__all__ = [
    "Step",
    "ConvTrace",
    "conv1d_trace",
    "conv2d_trace",
    "output_size_explained",
    "load_trace_json",
    "load_trace_text",
    "load_trace_file",
    "trace_from_spec",
    "add_trace_conv_arguments",
    "run_trace_conv",
    "EXAMPLES_DIR",
]

MODES = ("cross-correlation", "convolution")

#: Folder of ready-made examples (``minicnn trace-conv --example pw08_2d``).
EXAMPLES_DIR = Path(__file__).with_name("explain_examples")


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
# The output-size formula, explained
# ----------------------------------------------------------------------------
def _explain_axis(n: int, k: int, stride: int, pad_before: int, pad_after: int,
                  padding_label: str) -> str:
    """Formula text for one axis, given the padding already resolved."""
    span = n + pad_before + pad_after - k
    out = conv_output_size(n, k, stride, pad_before, pad_after)
    if pad_before == pad_after:
        pad_sym, pad_num = "2P", f"2*{pad_before}"
    else:  # "same" with an odd total: TensorFlow puts the extra row/column after
        pad_sym, pad_num = "P_before + P_after", f"{pad_before} + {pad_after}"
    lines = []
    if padding_label == "same":
        ceil_out = -(-n // stride)
        total = pad_before + pad_after
        lines.append(
            f'padding "same" (TensorFlow): out = ceil(n / S) = ceil({n} / {stride}) = {ceil_out}; '
            f"total padding = max((out - 1)*S + K - n, 0) = max(({ceil_out} - 1)*{stride} + {k} - {n}, 0) "
            f"= {total} -> {pad_before} before, {pad_after} after"
            + (" (the extra one after, TensorFlow's rule)" if pad_before != pad_after else "")
        )
    elif padding_label == "valid":
        lines.append('padding "valid": P = 0')
    if span % stride == 0:
        lines.append(
            f"out = (n + {pad_sym} - K) / S + 1 = ({n} + {pad_num} - {k}) / {stride} + 1 = {out}"
        )
    else:
        dropped = span % stride
        lines.append(
            f"out = floor((n + {pad_sym} - K) / S) + 1 = floor(({n} + {pad_num} - {k}) / {stride}) + 1 "
            f"= floor({span / stride:g}) + 1 = {out}"
        )
        lines.append(
            f"  (n + {pad_sym} - K) = {span} is not divisible by S = {stride}: the window cannot take "
            f"another full step, so the last {dropped} position(s) of the padded input are never the "
            f"start of a window and are dropped (floor)"
        )
    return "\n".join(lines)


def output_size_explained(n: int, k: int, stride: int = 1, padding=0) -> str:
    """The output-size formula with the numbers substituted, as text.

    n: input size along one axis; k: kernel size; stride: S >= 1;
    padding: P (int, symmetric), ``"valid"`` (P = 0) or ``"same"`` (TensorFlow).

    >>> print(output_size_explained(5, 3, 2, 1))
    out = (n + 2P - K) / S + 1 = (5 + 2*1 - 3) / 2 + 1 = 3
    """
    n, k = int(n), int(k)
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"output_size_explained: stride must be an int >= 1, got {stride!r}")
    padding = _check_padding_1d(padding, "output_size_explained")
    before, after = pad_amounts(n, k, int(stride), padding)
    if k > n + before + after:
        raise ValueError(
            f"output_size_explained: kernel size k={k} is larger than the padded input "
            f"n + padding = {n} + {before + after} = {n + before + after}"
        )
    label = padding if isinstance(padding, str) else "int"
    return _explain_axis(n, k, int(stride), before, after, label)


def _check_padding_1d(padding, owner: str):
    if isinstance(padding, str):
        return check_padding(padding, owner)
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"{owner}: padding must be 'valid', 'same' or an int >= 0, got {padding!r}")
    return int(padding)


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
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
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
    if isinstance(stride, (tuple, list)):
        raise ValueError(f"{owner}: stride must be one int >= 1 for a 1-D trace, got {stride!r}")
    padding = _check_padding_1d(padding, owner)
    # A 1-D signal is an image of height 1; the kernel has height 1 too.
    pad2 = padding if isinstance(padding, str) else (0, padding)
    return _trace(x[None], w[None], b, (1, stride) if _is_int(stride) else stride, pad2, mode,
                  channel_names, owner, ndim=1, single_filter=single, padding_label=padding)


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


# ----------------------------------------------------------------------------
# Inputs from JSON (the way the course draws them) and the command line
# ----------------------------------------------------------------------------
def _stack_channels(planes: dict, what: str) -> Tuple[np.ndarray, List[str]]:
    """``{"R": plane, "G": plane, ...}`` -> (H, W, C) array and the channel names, in order."""
    names = list(planes)
    arrays = [np.asarray(planes[n], dtype=np.float64) for n in names]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"trace-conv: the channels of {what} have different shapes: "
                         + ", ".join(f"{n}: {a.shape}" for n, a in zip(names, arrays)))
    return np.stack(arrays, axis=-1), names


def _filters_from_spec(w, channel_names: Optional[List[str]]) -> Tuple[np.ndarray, Optional[List[str]]]:
    """Filters given per filter and per channel -> (KH, KW, C, F).

    Accepted: a nested list already (KH, KW, C, F) (or smaller, see conv2d_trace);
    a dict ``{"filter1": {"R": plane, ...}, ...}``; a list of such per-channel dicts.
    Channels are matched by name to the input's channels when both are named.
    Returns (w, filter names): the names are the dict's keys, else None.
    """
    filter_names = None
    if isinstance(w, dict):
        filter_names = [str(k) for k in w]
        w = list(w.values())
    if isinstance(w, list) and w and isinstance(w[0], dict):
        filters = []
        for k, fdict in enumerate(w):
            if channel_names is not None and set(fdict) == set(channel_names):
                fdict = {n: fdict[n] for n in channel_names}  # same order as x's channels
            filters.append(_stack_channels(fdict, f"filter {k}")[0])
        shapes = {f.shape for f in filters}
        if len(shapes) != 1:
            raise ValueError(f"trace-conv: filters have different shapes: {[f.shape for f in filters]}")
        return np.stack(filters, axis=-1), filter_names
    return np.asarray(w, dtype=np.float64), None


def trace_from_spec(spec: dict, **overrides) -> ConvTrace:
    """Run the right tracer on a dict like the JSON files.

    spec keys: "x" (list: 1-D if flat, else (H, W) or (H, W, C); or a dict
    channel name -> (H, W) plane), "w", "b", "stride", "padding", "mode".
    ``overrides`` (stride, padding, mode) win over the spec when not None.
    """
    spec = dict(spec)
    for key, value in overrides.items():
        if value is not None:
            spec[key] = value
    if "x" not in spec or "w" not in spec:
        raise ValueError("trace-conv: the input needs both 'x' and 'w'")
    x, names = spec["x"], None
    if isinstance(x, dict):
        x, names = _stack_channels(x, "x")
    else:
        x = np.asarray(x, dtype=np.float64)
    w, filter_names = _filters_from_spec(spec["w"], names)
    stride = spec.get("stride", 1)
    padding = spec.get("padding", 0)
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(stride, list):
        stride = tuple(stride)
    mode = spec.get("mode", "cross-correlation")
    if x.ndim == 1:
        return conv1d_trace(x, w, spec.get("b", 0), stride, padding, mode)
    return conv2d_trace(x, w, spec.get("b"), stride, padding, mode, channel_names=names,
                        filter_names=filter_names)


def load_trace_json(path) -> dict:
    """Read a trace-conv JSON file (see :func:`trace_from_spec` for the keys)."""
    with open(path, encoding="utf-8") as fh:
        try:
            spec = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"trace-conv: {path} is not valid JSON: {err}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"trace-conv: {path} must hold a JSON object with 'x' and 'w'")
    return spec


def load_trace_text(path) -> dict:
    """Read a trace-conv *text* file: one ``key: value`` per line, numbers as on the command line.

    ::

        # PW08-like case; rows separated by ';'
        x.R: 2 1 0 2; 2 0 1 2; 0 2 1 2; 0 0 1 0
        x.G: 0 2 2 1; 0 2 2 1; 2 0 2 0; 1 1 0 2
        w.Filter1.R: 1 1; 0 0
        w.Filter1.G: 1 0; 0 1
        b: 1
        stride: 1
        padding: 0

    A dotted key fills a nested dict (``x.R`` -> ``spec["x"]["R"]``), which is
    the per-channel / per-filter form of the JSON files; ``x: 1 2 3 4 5`` and
    ``w: 1 0 -1`` give one plane (or a 1-D signal). Lines starting with ``#``
    and blank lines are skipped. Returns the spec dict.
    """
    spec: dict = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise ValueError(f"trace-conv: {path}, line {lineno}: expected 'key: numbers', got {line!r}")
            head = key.split(".")[0]
            if head in ("stride", "padding", "mode"):
                spec[head] = value  # parsed like the command-line options
                continue
            if head not in ("x", "w", "b"):
                raise ValueError(f"trace-conv: {path}, line {lineno}: unknown key {key!r} "
                                 f"(x, w, b, stride, padding, mode; x.R, w.Filter1.R for planes)")
            numbers = _parse_numbers(value, key)
            node = spec
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"trace-conv: {path}, line {lineno}: {key!r} mixes a plane and named planes")
            node[parts[-1]] = numbers
    if "b" in spec and isinstance(spec["b"], list) and len(spec["b"]) == 1:
        spec["b"] = spec["b"][0]
    for key, parse in (("stride", _parse_stride), ("padding", _parse_padding)):
        if key in spec:
            spec[key] = parse(spec[key])
    return spec


def load_trace_file(path) -> dict:
    """A JSON file (``.json``, or text starting with ``{``) or a ``key: value`` text file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json") or text.lstrip().startswith("{"):
        return load_trace_json(path)
    return load_trace_text(path)


def _parse_numbers(text: str, what: str):
    """``"1 2 3"`` -> [1, 2, 3]; ``"1 2; 3 4"`` -> [[1, 2], [3, 4]] (rows split by ';')."""
    try:
        rows = [[float(v) for v in row.replace(",", " ").split()] for row in text.split(";")]
    except ValueError:
        raise ValueError(f"trace-conv: {what} must be numbers, rows separated by ';', got {text!r}")
    if len(rows) == 1:
        return rows[0]
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"trace-conv: the rows of {what} have different lengths: {text!r}")
    return rows


def _parse_padding(text: Optional[str]):
    if text is None:
        return None
    if text in ("valid", "same"):
        return text
    parts = text.replace(",", " ").split()
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"trace-conv: --padding must be valid, same, an int or 'ph,pw', got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _parse_stride(text: Optional[str]):
    if text is None:
        return None
    try:
        values = [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"trace-conv: --stride must be an int or 'sh,sw', got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def add_trace_conv_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``minicnn trace-conv``."""
    parser.description = (
        "Trace a convolution step by step. Give the input and the filters in a JSON file "
        '({"x": ..., "w": ..., "b": ..., "stride": 1, "padding": 0}; "x" may be given per channel, '
        '{"R": [[...]], "G": ..., "B": ...}), use a bundled example, or give them inline: '
        '--x "1 2 3 4 5" --w "1 0 -1" (1-D), --x "1 2; 3 4" (2-D, rows split by ;).'
    )
    parser.epilog = (
        "examples:\n"
        "  minicnn trace-conv --x \"1 2 3 4 5\" --w \"1 0 -1\" --stride 2 --padding 1\n"
        "      1-D, S = 2, P = 1 (PW08 ex. 1a: try S = 1, 2, 4 and P = 0, 1)\n"
        "  minicnn trace-conv --x \"1 2 0; 3 4 1; 1 1 1\" --w \"1 0; 0 -1\" --b 1 --padding same\n"
        "      2-D, one channel, TensorFlow's \"same\" padding\n"
        "  minicnn trace-conv --example pw08_2d --stride 2 --format markdown\n"
        "      PW08 ex. 1b (4x4x3 input, two 2x2x3 filters); the filters' B planes are missing\n"
        "      from our copy of the text and set to 0: the note printed first says so\n"
        "  minicnn trace-conv my_case.json --mode convolution\n"
        "      true convolution: the kernel is flipped before it slides\n"
        "  minicnn trace-conv my_case.txt\n"
        "      a text file: lines such as 'x.R: 2 1 0 2; 2 0 1 2; ...', 'w.Filter1.R: 1 1; 0 0', 'b: 1 -1'\n"
        "every output value is printed as window * kernel products + bias, with the output-size\n"
        "formula (numbers substituted) first. Exit code 2 on bad input."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    src = parser.add_mutually_exclusive_group()
    src.add_argument("json", nargs="?", default=None, metavar="FILE",
                     help="JSON file, or a text file of 'key: numbers' lines (x: 1 2; 3 4 / x.R: ... / "
                          "w.Filter1.R: ... / b: 1 / stride: 2 / padding: 1)")
    src.add_argument("--example", default=None,
                     help="a bundled example: " + ", ".join(
                         sorted(p.stem for p in EXAMPLES_DIR.glob("*.json"))) if EXAMPLES_DIR.exists()
                     else "a bundled example")
    parser.add_argument("--x", default=None, help='input numbers, e.g. "1 2 3 4 5" or "1 2; 3 4"')
    parser.add_argument("--w", default=None, help='kernel numbers, e.g. "1 0 -1" or "1 0; 0 1"')
    parser.add_argument("--b", default=None, help="bias(es), e.g. 1 or \"1 -1\"")
    parser.add_argument("--stride", default=None, help="stride S (int, or 'sh,sw'); default 1")
    parser.add_argument("--padding", default=None,
                        help="padding: valid, same (TensorFlow), an int P, or 'ph,pw'; default 0")
    parser.add_argument("--mode", default=None, choices=MODES,
                        help="cross-correlation (default, as CNN libraries) or convolution (kernel flipped)")
    parser.add_argument("--format", default="text", choices=("text", "markdown"), dest="format",
                        help="plain text (default) or markdown (tables, for a report)")


def run_trace_conv(args) -> int:
    """Run ``minicnn trace-conv``; prints the trace and returns the exit code (2 on bad input)."""
    try:
        if args.example is not None:
            path = EXAMPLES_DIR / f"{args.example}.json"
            if not path.exists():
                raise ValueError(f"trace-conv: no bundled example {args.example!r} in {EXAMPLES_DIR}")
            spec = load_trace_json(path)
        elif args.json is not None:
            spec = load_trace_file(args.json)
        else:
            spec = {}
        if args.x is not None:
            spec["x"] = _parse_numbers(args.x, "--x")
        if args.w is not None:
            spec["w"] = _parse_numbers(args.w, "--w")
        if args.b is not None:
            b = _parse_numbers(args.b, "--b")
            spec["b"] = b[0] if len(b) == 1 else b
        if "x" not in spec or "w" not in spec:
            raise ValueError("trace-conv: give a JSON file, --example NAME, or both --x and --w")
        trace = trace_from_spec(spec, stride=_parse_stride(args.stride),
                                padding=_parse_padding(args.padding), mode=args.mode)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = trace.to_markdown() if args.format == "markdown" else trace.to_text()
    note = spec.get("note")
    if note:
        text = (f"> Note: {note}\n\n" if args.format == "markdown" else f"Note: {note}\n\n") + text
    print(text)
    return 0
