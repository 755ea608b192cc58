"""First-layer filters seen as colour images (tiny VGG question 12: ResNet50's 64 filters).

A first-layer filter of an RGB network has one 2-D plane per input colour,
so it *is* a small colour image: the pattern of colours the filter responds
to most. To show it, the whole filter (all three planes together) is scaled
to 0..1 with one minimum and one maximum, which keeps the balance between
its colours; scaling each plane on its own (``filter_grid``'s per-channel
mode) would show every plane at full contrast and lose that balance.

Keras' ResNet50 weights take BGR input (see ``minicnn.applications``): their
input channel 0 is blue. ``channel_order="bgr"`` flips the planes back so
that red is shown as red.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .figures import add_note, finish, panel_grid, show_image

__all__ = ["filters_as_rgb", "rgb_filters"]


def filters_as_rgb(kernel, channel_order: str = "rgb") -> np.ndarray:
    """Each filter of a first conv layer as an RGB image in [0, 1].

    kernel: (KH, KW, 3, F), as stored by ``Conv2D`` (and Keras).
    channel_order: the order of the kernel's input channels, "rgb" or "bgr".
    Returns (F, KH, KW, 3), float64, filter ``f`` scaled by its own minimum
    and maximum over all its KH*KW*3 values (a constant filter becomes 0).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"filters_as_rgb: kernel must be (KH, KW, 3, F), the first layer of an RGB "
                         f"network, got shape {kernel.shape}")
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"filters_as_rgb: channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    images = np.moveaxis(kernel, -1, 0)  # (F, KH, KW, 3): one image per filter
    if channel_order == "bgr":
        images = images[..., ::-1]
    lo = images.min(axis=(1, 2, 3), keepdims=True)
    hi = images.max(axis=(1, 2, 3), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant filter: (images - lo) is 0 anyway
    return (images - lo) / span


def rgb_filters(kernel, channel_order: str = "rgb", ncols: int = 8, max_filters: Optional[int] = None,
                title: Optional[str] = None, path=None):
    """A grid of the first-layer filters, each shown as one colour image.

    kernel: (KH, KW, 3, F), e.g. ``ResNet50(...).get_layer("conv1_conv").params["kernel"].value``
    (7x7x3x64: an 8x8 grid). channel_order: "bgr" for Keras' ImageNet ResNet50.
    max_filters: show only the first ones. title: default "first-layer filters KHxKW as
    colour images: F of F"; a note under the panels says how they were scaled.
    Returns the figure; saves a PNG at ``path``.
    """
    images = filters_as_rgb(kernel, channel_order)
    n = len(images) if max_filters is None else min(max_filters, len(images))
    if n < 1:
        raise ValueError(f"rgb_filters: no filters to show (kernel shape {np.shape(kernel)}, "
                         f"max_filters={max_filters})")
    _, kh, kw, _ = images.shape
    if title is None:
        title = f"first-layer filters {kh}x{kw} as colour images: {n} of {len(images)}"
    fig, axes = panel_grid(n, ncols, panel_size=0.9, title=title)
    for f, ax in enumerate(axes):
        show_image(ax, images[f], f"f{f}")
    add_note(fig, "each filter scaled on its own, one range for its R, G and B weights: black = its "
                  "smallest weight, white = its largest" + (" (kernel in BGR order, shown as RGB)"
                                                            if channel_order == "bgr" else ""))
    return finish(fig, path)
