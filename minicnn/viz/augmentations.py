"""What does each augmentation do? One row per transformation, applied to one image.

    fig = show_augmentations(x_train[0], {
        "flip": transforms.RandomHorizontalFlip(),
        "rotate 20": transforms.RandomRotation(20),
        "crop pad 4": transforms.RandomCrop(32, padding=4),
    }, n=6, seed=0)
    fig.savefig("augmentations.png")

    fig = show_augmentations(x_train[0], ImageAugmenter(rotation_range=20, zoom_range=0.2))

Given an ``ImageAugmenter``, each of its active knobs gets its own row (an
augmenter with only that knob), and a last row shows them all together.
Column 0 is the original image, then ``n`` random draws.

The figure is a ``matplotlib.figure.Figure`` drawn with the Agg backend (no
pyplot, no display needed).
"""
from __future__ import annotations

import copy

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..data.augment import ImageAugmenter
from .imageops import to_display

__all__ = ["show_augmentations"]


def _knob_rows(aug: ImageAugmenter) -> dict:
    """One single-knob augmenter per knob that differs from the default, plus "all"."""
    config = aug.get_config()
    defaults = ImageAugmenter().get_config()
    shared = {k: config[k] for k in ("fill_mode", "cval", "interpolation", "value_range")}
    knobs = ("rotation_range", "width_shift_range", "height_shift_range", "zoom_range",
             "shear_range", "horizontal_flip", "vertical_flip", "brightness_range")
    rows = {}
    for k in knobs:
        if config[k] != defaults[k]:
            rows[f"{k}={config[k]}"] = ImageAugmenter(**{k: config[k]}, **shared)
    rows["all together"] = copy.deepcopy(aug)
    return rows


def _show(ax, img):
    img = to_display(img)  # uint8, or float in [0, 1]; one channel squeezed to (H, W)
    if img.ndim == 2:
        vmax = 255 if img.dtype == np.uint8 else 1.0
        ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def show_augmentations(image, transforms, n: int = 6, seed=0, panel_size: float = 1.3,
                       path=None) -> Figure:
    """A grid: one row per transformation, the original then ``n`` augmented copies.

    image:      (H, W, C) uint8 or float (C = 1 or 3).
    transforms: dict name -> callable taking a batch (N, H, W, C), or an
                ``ImageAugmenter`` (one row per active knob, then all together).
    n:          random draws per row.  seed: each row's transform is copied and
                reseeded with it (your objects are left untouched), so the figure
                is reproducible.  path: also save the figure there (PNG).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"show_augmentations: image must be (H, W, 1) or (H, W, 3), got {image.shape}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"show_augmentations: n must be an int >= 1, got {n!r}")
    if isinstance(transforms, ImageAugmenter):
        rows = _knob_rows(transforms)
    elif isinstance(transforms, dict) and transforms and all(callable(t) for t in transforms.values()):
        rows = dict(transforms)
    else:
        raise TypeError("show_augmentations: transforms must be a non-empty dict name -> callable "
                        f"or an ImageAugmenter, got {type(transforms).__name__}")

    fig = Figure(figsize=(panel_size * (n + 1), panel_size * len(rows) + 0.3), layout="constrained")
    FigureCanvasAgg(fig)  # Agg: renders without a display
    axes = fig.subplots(len(rows), n + 1, squeeze=False)
    batch = np.repeat(image[None], n, axis=0)
    for r, (name, t) in enumerate(rows.items()):
        t = copy.deepcopy(t)
        if hasattr(t, "reseed"):
            t.reseed(seed)
        if getattr(t, "supports_batches", True) or isinstance(t, ImageAugmenter):
            out = np.asarray(t(batch))
        else:  # a per-image callable
            out = np.stack([np.asarray(t(img)) for img in batch])
        _show(axes[r, 0], image)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
        for c in range(n):
            _show(axes[r, c + 1], out[c])
    axes[0, 0].set_title("original", fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
