"""Output sizes and padding amounts: the one place where they are computed.

Every conv and pooling op goes through these functions, so the formula a
student learns in class,

    out = (n + pad_total - k) // stride + 1,

is written exactly once.

``padding`` may be

- ``"valid"``: no padding;
- ``"same"``: TensorFlow's rule. The output has ``ceil(n / stride)`` elements
  and the total padding ``max((out - 1) * stride + k - n, 0)`` is split with
  the extra element at the bottom / right when it is odd;
- an int ``p`` or a pair ``(ph, pw)``: symmetric padding, PyTorch's rule.
"""
from __future__ import annotations

import numbers
from typing import Tuple, Union

Padding = Union[str, int, Tuple[int, int]]


def as_pair(value, name: str, owner: str = "", minimum: int = 1) -> Tuple[int, int]:
    """Turn ``3`` or ``(3, 2)`` into a pair of ints, checking each is >= minimum.

    ``owner`` names the layer or op in the error message.
    """
    where = f"{owner}: " if owner else ""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{where}{name} must be an int or a pair of ints, got {value!r}")
    if pair[0] < minimum or pair[1] < minimum:
        raise ValueError(f"{where}{name} must be >= {minimum}, got {value!r}")
    return pair


def check_padding(padding, owner: str = "") -> Padding:
    """Validate a padding argument and return it in canonical form."""
    where = f"{owner}: " if owner else ""
    if isinstance(padding, str):
        p = padding.lower()
        if p not in ("valid", "same"):
            raise ValueError(
                f"{where}padding must be 'valid', 'same', an int or a pair of ints, got {padding!r}"
            )
        return p
    return as_pair(padding, "padding", owner, minimum=0)


def pad_amounts(n: int, k: int, stride: int, padding) -> Tuple[int, int]:
    """Padding ``(before, after)`` along one axis of size ``n``.

    >>> pad_amounts(5, 3, 2, "same")   # out = 3, total = (3-1)*2 + 3 - 5 = 2
    (1, 1)
    >>> pad_amounts(4, 2, 2, "same")   # out = 2, total = 0
    (0, 0)
    >>> pad_amounts(4, 3, 1, "same")   # total 2
    (1, 1)
    >>> pad_amounts(4, 2, 1, "same")   # total 1: the extra goes after
    (0, 1)
    """
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        out = -(-n // stride)  # ceil(n / stride)
        total = max((out - 1) * stride + k - n, 0)
        return (total // 2, total - total // 2)
    p = int(padding)
    return (p, p)


def conv_output_size(n: int, k: int, stride: int, pad_before: int, pad_after: int) -> int:
    """``out = (n + pad_total - k) // stride + 1`` (the one formula)."""
    return (n + pad_before + pad_after - k) // stride + 1


def resolve_padding_2d(input_hw, kernel_hw, strides_hw, padding):
    """Padding ``(top, bottom, left, right)`` and output ``(OH, OW)`` for a 2-D window op.

    input_hw: (H, W); kernel_hw: (KH, KW); strides_hw: (SH, SW);
    padding: "valid" | "same" | int | (ph, pw).
    Raises ValueError when the window does not fit (output size < 1).
    """
    H, W = input_hw
    KH, KW = kernel_hw
    SH, SW = strides_hw
    if isinstance(padding, str):
        ph = pw = padding
    else:
        ph, pw = as_pair(padding, "padding", minimum=0)
    top, bottom = pad_amounts(H, KH, SH, ph)
    left, right = pad_amounts(W, KW, SW, pw)
    OH = conv_output_size(H, KH, SH, top, bottom)
    OW = conv_output_size(W, KW, SW, left, right)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"window {KH}x{KW} with strides {SH}x{SW} and padding {padding!r} does not fit "
            f"an input of {H}x{W} (output would be {OH}x{OW})"
        )
    return (top, bottom, left, right), (OH, OW)
