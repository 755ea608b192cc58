"""The output-size formula of a convolution, printed with the numbers substituted.

    out = (n + 2P - K) / S + 1   (floor when the division is not exact)

with TensorFlow's "same" padding spelled out (total padding, and the extra
row / column after when it is odd). Sizes and padding amounts come from
:mod:`minicnn.ops.shapes`, the one place where the engine computes them.
"""
from __future__ import annotations

import numpy as np

from ..ops.shapes import check_padding, conv_output_size, pad_amounts

__all__ = ["output_size_explained"]


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
