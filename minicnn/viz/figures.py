"""Creating, laying out and saving figures: the plumbing shared by every plot.

Figures are made with ``matplotlib.figure.Figure`` directly, not with
``pyplot``: no global "current figure", no GUI backend, nothing to close, so
the functions run the same in a notebook, a test or a headless server. In a
notebook, a returned figure is displayed by writing it as the last expression
of a cell.

A figure is often copied out of its report, so it must explain itself: its
title (``set_title``) and a note under the panels (``add_note``, e.g. how the
colours were scaled) are part of the figure. Both are wrapped to the figure's
width and make the figure taller by the lines they need, so a long title on a
one-panel figure is neither cut nor squeezes the panels.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

__all__ = ["new_figure", "panel_grid", "show_image", "set_title", "add_note", "wrap_text", "text_width",
           "label_colorbar", "relative_colorbar", "finish"]

TITLE_SIZE = 12  # points: matplotlib's default suptitle size ("large")
NOTE_SIZE = 8
LINE_SPACING = 1.35  # a line of text takes about 1.35 x its font size
_measure = TextToPath()


def text_width(text: str, fontsize: float) -> float:
    """Width in inches of one line of ``text`` in matplotlib's default font."""
    width, _, _ = _measure.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)
    return width / 72  # points -> inches


def wrap_text(text: str, width: float, fontsize: float) -> str:
    """Break ``text`` at spaces so that each line is at most ``width`` inches wide.

    Existing line breaks are kept; a single word longer than the width stays whole.
    """
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, fontsize) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def _add_lines(fig: Figure, text: str, fontsize: float) -> str:
    """Wrap ``text`` to the figure's width and make the figure taller by its height."""
    text = wrap_text(text, fig.get_figwidth() - 0.3, fontsize)
    lines = text.count("\n") + 1
    fig.set_figheight(fig.get_figheight() + lines * fontsize * LINE_SPACING / 72 + 0.1)
    return text


def set_title(fig: Figure, title: Optional[str]) -> None:
    """The figure's title (``suptitle``), wrapped to its width; the figure grows to hold it."""
    if title:
        fig.suptitle(_add_lines(fig, title, TITLE_SIZE), fontsize=TITLE_SIZE)


def add_note(fig: Figure, note: Optional[str]) -> None:
    """A small note under the panels (how colours were scaled, what was left out),
    wrapped to the figure's width; the figure grows to hold it."""
    if note:
        fig.supxlabel(_add_lines(fig, note, NOTE_SIZE), fontsize=NOTE_SIZE, color="0.25")


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches with constrained layout.

    Constrained layout keeps titles and colorbars from overlapping.
    """
    return Figure(figsize=(width, height), layout="constrained")


def panel_grid(n: int, ncols: int, panel_size: float = 1.6, title: Optional[str] = None,
               extra_height: float = 0.0, extra_width: float = 0.0) -> Tuple[Figure, List]:
    """A figure with ``n`` square panels on a grid of ``ncols`` columns.

    Returns (figure, list of the n axes in reading order). Grid cells beyond
    ``n`` are removed, so ``fig.axes`` holds exactly the panels.
    extra_width: room for a colour bar. A one-panel figure is at least 3
    inches wide, so its title and note keep a readable width.
    """
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = new_figure(max(3.0, panel_size * ncols + extra_width), panel_size * nrows + extra_height)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    set_title(fig, title)
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


def label_colorbar(fig: Figure, cbar, label: str, fontsize: float = 8) -> None:
    """Write ``label`` along a vertical colour bar, wrapped so that it is no longer
    than the figure is high (a long label on a one-row figure would be cut)."""
    cbar.set_label(wrap_text(label, 0.9 * fig.get_figheight(), fontsize), fontsize=fontsize)


def relative_colorbar(fig: Figure, axes, cmap: str, label: str, low: str = "min", high: str = "max"):
    """A colour bar for panels that are each scaled on their own: its ends say
    ``low`` and ``high`` (e.g. "min" / "max" of each panel) instead of values,
    which would be true for one panel only."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(norm=Normalize(0, 1), cmap=cmap)
    cbar = fig.colorbar(mappable, ax=axes, shrink=0.8, ticks=[0, 1])
    cbar.ax.set_yticklabels([low, high], fontsize=8)
    label_colorbar(fig, cbar, label)
    return cbar
