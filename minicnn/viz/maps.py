"""Feature maps: the activations of a layer, of several layers, and heatmaps
(saliency, CAM, Grad-CAM) laid over the input image.

Colour scales: a feature map's values have no fixed range, so every figure
says how it coloured them, on the figure itself (a figure is often copied out
of its report): ``scale="panel"`` gives each map its own range (the colour bar
then reads "min" .. "max"), ``scale="layer"`` one range per layer (the colour
bar shows the values), so weak and strong channels can be compared.

A heatmap smaller than its image (a Grad-CAM map of a pooled layer) is
upsampled to the image by ``overlay_heatmap`` itself, bilinearly, as
``minicnn.inspect.upsample_to_input`` does, and the figure says so.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .figures import (add_note, finish, label_colorbar, new_figure, panel_grid, relative_colorbar, set_title,
                      show_image)
from .imageops import to_display, upsample

__all__ = ["activation_maps", "all_activation_maps", "overlay_heatmap"]

SCALES = ("panel", "layer")


def _check_scale(scale: str, owner: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"{owner}: scale must be 'panel' (each map its own range) or 'layer' (one range per "
                         f"layer), got {scale!r}")


def _one_image_maps(maps, owner: str, name: str = "maps") -> np.ndarray:
    """(H, W, F) or (1, H, W, F) -> (H, W, F); anything else is an error."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"{owner}: {name} must be (H, W, F) or (1, H, W, F) (the activations of "
                         f"one image), got shape {maps.shape}")
    return maps


def _show_map(ax, m: np.ndarray, title: Optional[str], cmap: str, vmin=None, vmax=None):
    """One feature map, on its own colour scale (vmin = vmax = None) or on the one given.

    A constant map (a filter the ReLU silenced, "dead" here) says so in red: on
    its own scale it would be one flat colour that looks like a pattern-less
    map, not like "all 0".
    """
    if m.max() > m.min():
        return show_image(ax, m, title, cmap=cmap, vmin=vmin, vmax=vmax)
    note = f"all {m.flat[0]:.3g}"
    return show_image(ax, m, note if title is None else f"{title}: {note}", cmap=cmap, vmin=vmin, vmax=vmax,
                      title_color="red")


def _layer_range(maps: np.ndarray) -> Tuple[float, float]:
    """(vmin, vmax) over all channels of a layer; a constant layer gets a range of width 1."""
    lo, hi = float(maps.min()), float(maps.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


PANEL_SCALE_LABEL = "each panel scaled on its own:\nits min .. its max"
LAYER_SCALE_LABEL = "activation\n(one scale for the layer)"


def activation_maps(maps, max_maps: Optional[int] = None, ncols: int = 8,
                    title: Optional[str] = None, cmap: str = "viridis", scale: str = "panel", path=None):
    """Show the F feature maps of one layer for one input image (PW09, Figure 2).

    maps: (H, W, F) or (1, H, W, F), e.g. the output of a Conv2D, ReLU or
        MaxPool2D layer for one image.
    max_maps: show only the first maps (all by default).
    scale: "panel" (default): each panel has its own colour scale: what
        matters is *where* a filter responds, and a shared scale would leave
        weak filters uniformly dark; the colour bar says "its min .. its max".
        "layer": one colour scale for all F maps of the layer (also those not
        shown), with its values on the colour bar: which filters respond
        most strongly.
    A constant map (e.g. all 0 after a ReLU) is labelled "all 0" in red.
    """
    _check_scale(scale, "activation_maps")
    maps = _one_image_maps(maps, "activation_maps")
    H, W, F = maps.shape
    n = F if max_maps is None else min(F, max_maps)
    if title is None:
        title = f"feature maps of one layer ({H}x{W}): {n} of {F}"
    fig, axes = panel_grid(n, ncols, panel_size=1.5, title=title, extra_width=1.0)
    vmin, vmax = _layer_range(maps) if scale == "layer" else (None, None)
    for f, ax in enumerate(axes):
        im = _show_map(ax, maps[..., f], f"filter {f}", cmap, vmin, vmax)
    if scale == "layer":
        label_colorbar(fig, fig.colorbar(im, ax=axes, shrink=0.8), LAYER_SCALE_LABEL)
    else:
        relative_colorbar(fig, axes, cmap, PANEL_SCALE_LABEL)
    return finish(fig, path)


def _image_layers(layers: Dict[str, np.ndarray], image_index: int, owner: str
                  ) -> Tuple[Dict[str, np.ndarray], List[str], int]:
    """Split {name: activations} into the image-shaped ones, as (H, W, F) arrays of
    one image, and descriptions of the others (Flatten, Dense: "flatten (128,)").

    Accepted per layer: (H, W, F) for one image, (N, H, W, F) for a batch (image
    ``image_index`` is shown), or anything of 1 or 2 dimensions ((units,) or (N,
    units)), which is skipped. Returns (maps, skipped, batch size or 0).
    """
    maps, skipped, batch = {}, [], 0
    for name, a in layers.items():
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 4:
            if not -a.shape[0] <= image_index < a.shape[0]:
                raise ValueError(f"{owner}: image_index {image_index} out of range for layers[{name!r}] of "
                                 f"shape {a.shape} ({a.shape[0]} images)")
            batch = max(batch, a.shape[0])
            maps[name] = a[image_index]
        elif a.ndim == 3:
            maps[name] = a
        elif a.ndim in (1, 2):
            skipped.append(f"{name} {a.shape[1:] if a.ndim == 2 else a.shape}")
        else:
            raise ValueError(f"{owner}: layers[{name!r}] must be (H, W, F) for one image or (N, H, W, F) "
                             f"(or a Flatten/Dense output, which is skipped), got shape {a.shape}")
    if not maps:
        raise ValueError(f"{owner}: no layer has an image-shaped output (H, W, F) or (N, H, W, F); "
                         f"got {', '.join(skipped) or 'no layers'}")
    return maps, skipped, batch


def all_activation_maps(layers: Dict[str, np.ndarray], filter_index: Optional[int] = None,
                        max_maps: int = 8, cmap: str = "viridis", title: Optional[str] = None,
                        scale: str = "panel", image_index: int = 0, path=None):
    """Feature maps of several layers for one input image.

    layers: dict layer name -> activations, in the order of the network, as
        ``minicnn.inspect.activations(model, x)`` returns them: (N, H, W, F)
        arrays (image ``image_index`` is shown) or (H, W, F) for one image.
        Layers without an image-shaped output (Flatten, Dense: (N, units)) are
        skipped, and a note under the panels names them.
    filter_index: None -> one row per layer showing its first ``max_maps``
        channels; an int k -> one panel per layer showing its channel k, to
        follow a channel through the network (tiny VGG, question 10). ReLU
        and pooling keep their input's channels, but every conv layer makes
        new ones: channel k after two conv layers comes from a different
        filter, and the figure says so.
    scale: "panel" (each map its own colour range) or "layer" (one range per
        layer, over all its channels, with the values on a colour bar).
    """
    owner = "all_activation_maps"
    _check_scale(scale, owner)
    if not layers:
        raise ValueError(f"{owner}: layers is empty")
    checked, skipped, batch = _image_layers(layers, image_index, owner)
    which = f"image {image_index} of {batch}" if batch > 1 else "one image"
    notes = []
    if skipped:
        notes.append("not shown (no image-shaped output): " + ", ".join(skipped))

    if filter_index is not None:
        for name, a in checked.items():
            if not 0 <= filter_index < a.shape[-1]:
                raise ValueError(f"{owner}: filter_index {filter_index} out of range for "
                                 f"layer {name!r} with {a.shape[-1]} channels (shape {a.shape})")
        k = filter_index
        fig, axes = panel_grid(len(checked), len(checked), panel_size=2.0, extra_width=0.6 * (scale == "layer"),
                               title=title or f"channel {k} of each layer's output ({which})")
        for ax, (name, a) in zip(axes, checked.items()):
            h, w = a.shape[:2]
            vmin, vmax = _layer_range(a) if scale == "layer" else (None, None)
            im = _show_map(ax, a[..., k], f"{name}\n{h}x{w}", cmap, vmin, vmax)
            if scale == "layer":
                fig.colorbar(im, ax=ax, shrink=0.8)
        notes.insert(0, f"ReLU and pooling keep their input's channels, but each conv layer computes new ones: "
                        f"channel {k} of two conv layers comes from two different filters")
        if scale == "layer":
            notes.insert(1, "colour bars: activation, one scale per layer (over all its channels)")
        else:
            relative_colorbar(fig, axes, cmap, PANEL_SCALE_LABEL)
        add_note(fig, "\n".join(notes))
        return finish(fig, path)

    nrows = len(checked)
    ncols = min(max_maps, max(a.shape[-1] for a in checked.values()))
    fig = new_figure(1.4 * ncols + 1.2, 1.4 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    kept = []
    for r, (name, a) in enumerate(checked.items()):
        n = min(max_maps, a.shape[-1])
        vmin, vmax = _layer_range(a) if scale == "layer" else (None, None)
        for f in range(ncols):
            ax = axes[r, f]
            if f >= n:  # this layer has fewer maps than the widest one
                fig.delaxes(ax)
                continue
            kept.append(ax)
            im = _show_map(ax, a[..., f], f"channel {f}" if r == 0 else None, cmap, vmin, vmax)
            if f == 0:
                ax.set_ylabel(f"{name}\n{a.shape[0]}x{a.shape[1]}x{a.shape[2]}", fontsize=8)
        if scale == "layer":  # one colour bar per row: each layer has its own range
            fig.colorbar(im, ax=list(axes[r, :n]), shrink=0.9, aspect=10).ax.tick_params(labelsize=7)
    if scale == "layer":
        notes.insert(0, "colour bars: activation, one scale per layer (row), over all its channels")
    else:
        relative_colorbar(fig, kept, cmap, PANEL_SCALE_LABEL)
    set_title(fig, title or f"activations of each layer for {which}: first {ncols} channels")
    add_note(fig, "\n".join(notes))
    return finish(fig, path)


def _matching_heatmaps(images: np.ndarray, heatmaps: np.ndarray) -> Tuple[np.ndarray, Optional[str]]:
    """Heatmaps (N, h, w) at the images' (N, H, W): smaller maps are upsampled bilinearly.

    Returns (heatmaps, a note saying what was upsampled, or None).
    """
    N, H, W = images.shape[:3]
    if len(heatmaps) != N:
        raise ValueError(f"overlay_heatmap: {len(heatmaps)} heatmaps {heatmaps.shape} for {N} images "
                         f"{images.shape}; give one map per image")
    h, w = heatmaps.shape[1:]
    if (h, w) == (H, W):
        return heatmaps, None
    if h > H or w > W:
        raise ValueError(f"overlay_heatmap: heatmaps {heatmaps.shape} are larger than the images' (N, H, W) "
                         f"= {images.shape[:3]}; resize them first with "
                         f"minicnn.inspect.upsample_to_input(maps, ({H}, {W}))")
    # a layer's map (e.g. Grad-CAM of a pooled layer) is smaller than the image: bring it to the image's
    # size, as inspect.upsample_to_input does, so the same call works with or without that step
    return np.stack([upsample(m, (H, W)) for m in heatmaps]), f"maps upsampled from {h}x{w} to {H}x{W} (bilinear)"


def overlay_heatmap(images, heatmaps, alpha: float = 0.4, cmap: Optional[str] = None,
                    titles: Optional[Sequence[str]] = None, show_input: bool = True, ncols: int = 6,
                    signed: bool = False, title: Optional[str] = None, colorbar_label: Optional[str] = None,
                    note: Optional[str] = None, path=None):
    """Lay heatmaps (saliency, CAM, Grad-CAM) over their input images.

    images: (N, H, W, C) or (N, H, W), or one image (H, W, C) / (H, W) when
        heatmaps is (H, W).
    heatmaps: (N, h, w) or (h, w). Maps smaller than the images (a layer's
        Grad-CAM map) are upsampled bilinearly to (H, W), as
        ``minicnn.inspect.upsample_to_input`` does, and a note says so.
    alpha: opacity of the heatmap (0 = only the image, 1 = only the heatmap).
    titles: (N,) strings, shown above each image (e.g. "true 3 / pred 5",
        see ``minicnn.viz.labels.true_and_predicted``).
    show_input: each image's column shows the input above its overlay; False
        shows only the overlays.
    ncols: images per row (more wrap into further rows).
    signed: False (saliency, CAM after its ReLU): each heatmap is min-max
        scaled to [0, 1] on its own before colouring (as pytorch-grad-cam
        does), colour map "jet". True (a CAM *before* its ReLU, whose sign
        means evidence for / against the class): each map is divided by its
        largest |value|, so 0 stays the centre of a diverging colour map
        ("RdBu_r": red > 0, blue < 0, white = 0).
    cmap: overrides the colour map.
    title: the figure's title (default "heatmaps over their input images").
    colorbar_label: what the colours mean (e.g. "|d score / d pixel|");
        the colour bar always adds how the maps were scaled.
    note: a line under the panels (e.g. how the maps were computed).
    A constant map (e.g. a Grad-CAM that is 0 everywhere) is not drawn: its
    panel says "map = <value> everywhere" instead of showing a uniform colour.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    images = np.asarray(images)
    if heatmaps.ndim == 2:  # one image
        heatmaps = heatmaps[None]
        images = images if images.ndim == 4 else images[None]
    if heatmaps.ndim != 3:
        raise ValueError(f"overlay_heatmap: heatmaps must be (N, h, w) or (h, w), got shape {heatmaps.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"overlay_heatmap: images must be (N, H, W, C) with C = 1 or 3, got shape "
                         f"{images.shape} (for heatmaps of shape {heatmaps.shape})")
    heatmaps, upsampled = _matching_heatmaps(images, heatmaps)
    if not 0 <= alpha <= 1:
        raise ValueError(f"overlay_heatmap: alpha must be in [0, 1], got {alpha}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"overlay_heatmap: {len(titles)} titles for {len(images)} images")
    cmap = cmap or ("RdBu_r" if signed else "jet")
    N = len(images)
    cols = max(1, min(ncols, N))
    blocks = -(-N // cols)
    per_image = 2 if show_input else 1  # rows per block: input above overlay
    two_line_titles = titles is not None and any("\n" in str(t) for t in titles)
    fig = new_figure(max(3.5, 1.9 * cols + 1.3),
                     (1.9 * per_image + 0.2 + 0.15 * two_line_titles) * blocks)
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
        what = f"{colorbar_label}\n" if colorbar_label else ""
        if signed:
            cbar = fig.colorbar(drawn, ax=panels, shrink=0.7, ticks=[-1, 0, 1])
            cbar.ax.set_yticklabels(["-max|map|", "0", "+max|map|"], fontsize=8)
            label_colorbar(fig, cbar, (what or "red > 0, blue < 0\n") + "(each map divided by its largest "
                                                                       "|value|; white = 0)")
        else:
            cbar = fig.colorbar(drawn, ax=panels, shrink=0.7, ticks=[0, 1])
            cbar.ax.set_yticklabels(["min", "max"], fontsize=8)
            label_colorbar(fig, cbar, what + ("(each map scaled from its own min to its max)" if what else
                                              "each map scaled from its own min to its max"))
    set_title(fig, "heatmaps over their input images" if title is None else title)
    add_note(fig, "\n".join(t for t in (note, upsampled) if t))
    return finish(fig, path)
