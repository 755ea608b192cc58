"""Creating, laying out and saving figures: the plumbing shared by every plot.

Figures are made with ``matplotlib.figure.Figure`` directly, not with
``pyplot``: no global "current figure", no GUI backend, nothing to close, so
the functions run the same in a notebook, a test or a headless server. In a
notebook, a returned figure is displayed by writing it as the last expression
of a cell.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from matplotlib.figure import Figure

__all__ = ["new_figure", "panel_grid", "show_image", "finish"]


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches with constrained layout.

    Constrained layout keeps titles and colorbars from overlapping.
    """
    return Figure(figsize=(width, height), layout="constrained")


def panel_grid(n: int, ncols: int, panel_size: float = 1.6, title: Optional[str] = None,
               extra_height: float = 0.0) -> Tuple[Figure, List]:
    """A figure with ``n`` square panels on a grid of ``ncols`` columns.

    Returns (figure, list of the n axes in reading order). Grid cells beyond
    ``n`` are removed, so ``fig.axes`` holds exactly the panels.
    """
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = new_figure(panel_size * ncols, panel_size * nrows + extra_height + (0.4 if title else 0))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    if title:
        fig.suptitle(title)
    return fig, list(axes[:n])


def show_image(ax, image, title: Optional[str] = None, cmap: Optional[str] = None,
               vmin=None, vmax=None, title_color=None):
    """``imshow`` without ticks; one-channel images in gray unless ``cmap`` says otherwise.

    image: (H, W) or (H, W, 3), already displayable (see ``imageops.to_display``).
    """
    image = np.asarray(image)
    if image.ndim == 2 and cmap is None:
        cmap = "gray"
        if image.dtype == np.uint8 and vmin is None:
            vmin, vmax = 0, 255  # keep 0 black and 255 white, not the image's own range
    im = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8, **({"color": title_color} if title_color else {}))
    return im


def finish(fig: Figure, path=None, dpi: int = 100) -> Figure:
    """Save ``fig`` as a PNG at ``path`` (if given) and return it.

    The PNG is written to a temporary name in the same folder and then renamed,
    so a reader never sees a half-written file (a rename is atomic).
    """
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fig.savefig(tmp, format="png", dpi=dpi)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return fig
