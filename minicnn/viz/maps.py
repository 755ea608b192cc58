"""Feature maps: the activations of a layer, of several layers, and heatmaps
(saliency, CAM, Grad-CAM) laid over the input image.

Heatmaps must be at the input's resolution: bring a layer's small map there
first with ``minicnn.viz.upsample`` (or ``minicnn.inspect.upsample_to_input``).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from .figures import finish, new_figure, panel_grid, show_image
from .imageops import to_display

__all__ = ["activation_maps", "all_activation_maps", "overlay_heatmap"]


def _one_image_maps(maps, owner: str, name: str = "maps") -> np.ndarray:
    """(H, W, F) or (1, H, W, F) -> (H, W, F); anything else is an error."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"{owner}: {name} must be (H, W, F) or (1, H, W, F) (the activations of "
                         f"one image), got shape {maps.shape}")
    return maps


def _show_map(ax, m: np.ndarray, title: Optional[str], cmap: str) -> None:
    """One feature map with its own colour scale; a constant map (a filter the ReLU
    silenced, "dead" here) says so in red instead of showing one flat colour."""
    if m.max() > m.min():
        show_image(ax, m, title, cmap=cmap)
        return
    note = f"all {m.flat[0]:.3g}"
    show_image(ax, m, note if title is None else f"{title}: {note}", cmap=cmap, title_color="red")


def activation_maps(maps, max_maps: Optional[int] = None, ncols: int = 8,
                    title: Optional[str] = None, cmap: str = "viridis", path=None):
    """Show the F feature maps of one layer for one input image (PW09, Figure 2).

    maps: (H, W, F) or (1, H, W, F), e.g. the output of a Conv2D, ReLU or
        MaxPool2D layer for one image.
    max_maps: show only the first maps (all by default).
    Each panel has its own colour scale: what matters is *where* a filter
    responds, and a shared scale would leave weak filters uniformly dark.
    A constant map (e.g. all 0 after a ReLU) is labelled "all 0" in red.
    """
    maps = _one_image_maps(maps, "activation_maps")
    F = maps.shape[-1]
    n = F if max_maps is None else min(F, max_maps)
    fig, axes = panel_grid(n, ncols, panel_size=1.5, title=title)
    for f, ax in enumerate(axes):
        _show_map(ax, maps[..., f], f"filter {f}", cmap)
    return finish(fig, path)


def all_activation_maps(layers: Dict[str, np.ndarray], filter_index: Optional[int] = None,
                        max_maps: int = 8, cmap: str = "viridis", title: Optional[str] = None,
                        path=None):
    """Feature maps of several layers for one input image.

    layers: dict layer name -> (H, W, F) or (1, H, W, F) activations, in the
        order of the network (only spatial layers: not Flatten or Dense).
    filter_index: None -> one row per layer showing its first ``max_maps``
        maps; an int -> one panel per layer showing that filter's map, to
        follow one filter through the network (tiny VGG, question 10).
    """
    if not layers:
        raise ValueError("all_activation_maps: layers is empty")
    checked = {name: _one_image_maps(a, "all_activation_maps", f"layers[{name!r}]")
               for name, a in layers.items()}
    if filter_index is not None:
        for name, a in checked.items():
            if not 0 <= filter_index < a.shape[-1]:
                raise ValueError(f"all_activation_maps: filter_index {filter_index} out of range for "
                                 f"layer {name!r} with {a.shape[-1]} filters (shape {a.shape})")
        fig, axes = panel_grid(len(checked), len(checked), panel_size=2.0,
                               title=title or f"filter {filter_index} through the layers")
        for ax, (name, a) in zip(axes, checked.items()):
            h, w = a.shape[:2]
            _show_map(ax, a[..., filter_index], f"{name}\n{h}x{w}", cmap)
        return finish(fig, path)

    nrows = len(checked)
    ncols = min(max_maps, max(a.shape[-1] for a in checked.values()))
    fig = new_figure(1.4 * ncols + 0.6, 1.4 * nrows + (0.4 if title else 0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for r, (name, a) in enumerate(checked.items()):
        n = min(max_maps, a.shape[-1])
        for f in range(ncols):
            ax = axes[r, f]
            if f >= n:  # this layer has fewer maps than the widest one
                fig.delaxes(ax)
                continue
            _show_map(ax, a[..., f], f"filter {f}" if r == 0 else None, cmap)
            if f == 0:
                ax.set_ylabel(f"{name}\n{a.shape[0]}x{a.shape[1]}x{a.shape[2]}", fontsize=8)
    if title:
        fig.suptitle(title)
    return finish(fig, path)


def overlay_heatmap(images, heatmaps, alpha: float = 0.4, cmap: Optional[str] = None,
                    titles: Optional[Sequence[str]] = None, show_input: bool = True, ncols: int = 6,
                    signed: bool = False, title: Optional[str] = None, path=None):
    """Lay heatmaps (saliency, CAM, Grad-CAM) over their input images.

    images: (N, H, W, C) or (N, H, W), or one image (H, W, C) / (H, W) when
        heatmaps is (H, W).
    heatmaps: (N, H, W) or (H, W), *at the input's resolution*: bring a
        layer's map there first with ``upsample(map, (H, W))``.
    alpha: opacity of the heatmap (0 = only the image, 1 = only the heatmap).
    titles: (N,) strings, shown above each image (e.g. "true / predicted").
    show_input: each image's column shows the input above its overlay; False
        shows only the overlays.
    ncols: images per row (more wrap into further rows).
    signed: False (saliency, CAM after its ReLU): each heatmap is min-max
        scaled to [0, 1] on its own before colouring (as pytorch-grad-cam
        does), colour map "jet". True (a CAM *before* its ReLU, whose sign
        means evidence for / against the class): each map is divided by its
        largest |value|, so 0 stays the centre of a diverging colour map
        ("RdBu_r": red = for, blue = against).
    cmap: overrides the colour map.
    The colour bar says how the maps were scaled. A constant map (e.g. a
    Grad-CAM that is 0 everywhere) is not drawn: its panel says
    "map = <value> everywhere" instead of showing a uniform colour.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    images = np.asarray(images)
    if heatmaps.ndim == 2:  # one image
        heatmaps, images = heatmaps[None], images[None]
    if heatmaps.ndim != 3:
        raise ValueError(f"overlay_heatmap: heatmaps must be (N, H, W) or (H, W), got shape {heatmaps.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"overlay_heatmap: images must be (N, H, W, C) with C = 1 or 3, got shape "
                         f"{images.shape} (for heatmaps of shape {heatmaps.shape})")
    if images.shape[:3] != heatmaps.shape:
        raise ValueError(f"overlay_heatmap: heatmaps {heatmaps.shape} must match the images' (N, H, W) "
                         f"= {images.shape[:3]}; upsample a layer's maps to the input size first")
    if not 0 <= alpha <= 1:
        raise ValueError(f"overlay_heatmap: alpha must be in [0, 1], got {alpha}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"overlay_heatmap: {len(titles)} titles for {len(images)} images")
    cmap = cmap or ("RdBu_r" if signed else "jet")
    N = len(images)
    cols = max(1, min(ncols, N))
    blocks = -(-N // cols)
    per_image = 2 if show_input else 1  # rows per block: input above overlay
    fig = new_figure(1.9 * cols + 0.9, 1.9 * per_image * blocks + 0.2 * blocks + (0.4 if title else 0))
    grid = fig.subplots(per_image * blocks, cols, squeeze=False)
    drawn = None
    for k in range(blocks * cols):
        b, j = divmod(k, cols)
        rows = [grid[b * per_image + r, j] for r in range(per_image)]
        if k >= N:
            for ax in rows:
                fig.delaxes(ax)
            continue
        img = to_display(images[k])
        name = None if titles is None else str(titles[k])
        if show_input:
            show_image(rows[0], img, name)
        ax = rows[-1]
        lo, hi = heatmaps[k].min(), heatmaps[k].max()
        if hi > lo:
            show_image(ax, img, "overlay" if show_input else name)
            if signed:  # -> [-1, 1] with 0 kept at 0
                scaled, vmin = heatmaps[k] / max(abs(lo), abs(hi)), -1
            else:       # -> [0, 1]
                scaled, vmin = (heatmaps[k] - lo) / (hi - lo), 0
            drawn = ax.imshow(scaled, cmap=cmap, alpha=alpha, vmin=vmin, vmax=1, interpolation="bilinear")
        else:  # nothing to locate: say so rather than tint the image uniformly
            show_image(ax, img, f"map = {lo:.3g} everywhere", title_color="red")
        if j == 0 and show_input:
            rows[0].set_ylabel("input", fontsize=8)
            ax.set_ylabel("heatmap", fontsize=8)
    if drawn is not None:
        panels = [a for a in grid.ravel() if a in fig.axes]  # the grid cells still in the figure
        if signed:
            cbar = fig.colorbar(drawn, ax=panels, shrink=0.6, ticks=[-1, 0, 1])
            cbar.ax.set_yticklabels(["-max|map|", "0", "+max|map|"])
            cbar.set_label("each map divided by its largest |value|", fontsize=8)
        else:
            cbar = fig.colorbar(drawn, ax=panels, shrink=0.6, ticks=[0, 1])
            cbar.ax.set_yticklabels(["min", "max"])
            cbar.set_label("each map scaled to its own range", fontsize=8)
    if title:
        fig.suptitle(title)
    return finish(fig, path)
