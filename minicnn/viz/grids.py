"""Grids of images: dataset samples, conv filters, dense weights, generated images.

Every function takes plain arrays (channels last, like the rest of minicnn),
returns a ``matplotlib.figure.Figure`` and saves it as a PNG when ``path`` is
given.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .figures import add_note, finish, new_figure, panel_grid, set_title, show_image
from .imageops import normalize_to_uint8, to_display
from .labels import class_name, true_and_predicted

__all__ = ["image_grid", "filter_grid", "dense_weight_images", "activation_maximization_grid"]


def _class_index(y) -> np.ndarray:
    """Labels as integers: (N,) ints as they are, (N, K) one-hot / probabilities -> argmax."""
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 else y.astype(int)


def _check_images(images, owner: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:  # (N, H, W): gray images without a channel axis
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{owner}: images must be (N, H, W, C) with C = 1 or 3, or (N, H, W); "
                         f"got shape {images.shape}")
    return images


def image_grid(images, labels=None, class_names: Optional[Sequence[str]] = None, ncols: int = 8,
               predictions=None, title: Optional[str] = None, max_images: Optional[int] = None,
               path=None):
    """Show images with their labels (and predictions) on a grid.

    images: (N, H, W, C) with C = 1 or 3, or (N, H, W); uint8 (0..255) or float.
    labels: (N,) class indices or (N, K) one-hot; shown as panel titles.
    class_names: names indexed by class (e.g. CIFAR-10's "airplane", ...).
    predictions: (N,) indices or (N, K) scores; the title becomes
        "true cat / pred dog", green when right and red when wrong (a note
        under the panels says so).
    max_images: show only the first ones.
    """
    images = _check_images(images, "image_grid")
    n = len(images) if max_images is None else min(max_images, len(images))
    if n == 0:
        raise ValueError("image_grid: no images to show (got shape "
                         f"{images.shape})")
    y = _class_index(labels) if labels is not None else None
    p = _class_index(predictions) if predictions is not None else None
    for what, v in (("labels", y), ("predictions", p)):
        if v is not None and len(v) < n:
            raise ValueError(f"image_grid: {len(v)} {what} for {n} images (images.shape={images.shape})")
        if v is not None and class_names is not None and (v[:n].min() < 0 or v[:n].max() >= len(class_names)):
            raise ValueError(f"image_grid: {what} hold classes {v[:n].min()}..{v[:n].max()} but class_names "
                             f"has {len(class_names)} names")
    fig, axes = panel_grid(n, ncols, title=title)
    both = true_and_predicted(y[:n], p[:n], class_names) if y is not None and p is not None else None
    for k, ax in enumerate(axes):
        text, color = None, None
        if both is not None:
            text, color = both[k], ("green" if y[k] == p[k] else "red")
        elif y is not None:
            text = class_name(y[k], class_names)
        elif p is not None:
            text = "pred " + class_name(p[k], class_names)
        show_image(ax, to_display(images[k]), text, title_color=color)
    if both is not None:
        add_note(fig, f"green: predicted right, red: wrong ({int(np.sum(y[:n] != p[:n]))} of {n} wrong)")
    return finish(fig, path)


def filter_grid(kernel, mode: str = "per_channel", max_filters: Optional[int] = None,
                channel_names: Optional[Sequence[str]] = None, ncols: int = 8,
                title: Optional[str] = None, path=None):
    """Show the filters of a conv layer.

    kernel: (KH, KW, C_in, F), as stored by ``Conv2D`` (and Keras).
    mode:
      "per_channel": one grayscale panel per (filter, input channel): a column
          is one filter, its rows are the input channels (labelled R, G, B for
          three channels). Each panel is min-max normalised to 0..255 on its
          own (PW08's per-channel normalisation), so every 3x3 plane uses the
          full gray range. Filters wrap after ``ncols`` columns into further
          blocks of C rows (tiny VGG q. 11: 32 filters x 3 channels).
      "rgb": needs C_in == 3; each filter is one colour image, normalised with
          one min and max per filter so the balance between its R, G and B
          planes is kept (how the ResNet50 first-layer filters are shown).
    max_filters: show only the first filters.
    ncols: filters per row.
    title: default "conv filters KHxKW: F of F"; a note under the panels
        says how the grays were scaled.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"filter_grid: kernel must be (KH, KW, C_in, F), got shape {kernel.shape}")
    KH, KW, C, F = kernel.shape
    nf = F if max_filters is None else min(F, max_filters)
    if title is None:
        title = f"conv filters {KH}x{KW} on {C} input channel{'s' * (C > 1)}: {nf} of {F}"
    if mode == "rgb":
        if C != 3:
            raise ValueError(f"filter_grid: mode='rgb' needs C_in == 3 input channels, "
                             f"got kernel shape {kernel.shape}")
        fig, axes = panel_grid(nf, ncols, panel_size=1.0, title=title)
        for f, ax in enumerate(axes):
            show_image(ax, normalize_to_uint8(kernel[..., f]), f"f{f}")
        add_note(fig, "each filter scaled on its own, one range for its R, G and B weights: "
                      "black = its smallest weight, white = its largest")
        return finish(fig, path)
    if mode != "per_channel":
        raise ValueError(f"filter_grid: mode must be 'per_channel' or 'rgb', got {mode!r}")
    names = list(channel_names) if channel_names is not None else (
        ["R", "G", "B"] if C == 3 else [f"in {c}" for c in range(C)])
    if len(names) != C:
        raise ValueError(f"filter_grid: {len(names)} channel names for C_in = {C} channels")
    cols = max(1, min(ncols, nf))
    blocks = -(-nf // cols)  # filters f = b*cols + j sit in block b, column j
    fig = new_figure(max(3.0, 0.9 * cols + 0.5), 0.9 * C * blocks + 0.3 * blocks)
    grid = fig.subplots(blocks * C, cols, squeeze=False)
    for b in range(blocks):
        for c in range(C):
            for j in range(cols):
                ax, f = grid[b * C + c, j], b * cols + j
                if f >= nf:
                    fig.delaxes(ax)
                    continue
                show_image(ax, normalize_to_uint8(kernel[:, :, c, f]), f"f{f}" if c == 0 else None)
                if j == 0 and C > 1:  # one channel needs no row label
                    ax.set_ylabel(names[c], fontsize=8)
    set_title(fig, title)
    add_note(fig, "panel fk: filter k" + (" (one row per input channel)" if C > 1 else "")
             + "; each panel scaled on its own: black = its smallest weight, white = its largest")
    return finish(fig, path)


def dense_weight_images(kernel, image_shape=(32, 32, 3), class_names: Optional[Sequence[str]] = None,
                        ncols: int = 5, title: Optional[str] = None, path=None):
    """Show the weights of a 1-layer dense network as images (PW08, Figure 4).

    kernel: (H*W*C, units), the Dense kernel after ``Flatten`` of (H, W, C)
        images (C order, as NumPy's reshape: channels vary fastest).
    image_shape: (H, W, C) of the input images.
    Each unit's weights become one (H, W, C) image, min-max normalised to
    0..255 *per channel*: the R, G and B weights have different ranges, and a
    global normalisation would tint the image with the widest channel.
    title: default "Dense weights of each unit as an image".
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape)
    size = int(np.prod(shape))
    if kernel.ndim != 2 or kernel.shape[0] != size:
        raise ValueError(f"dense_weight_images: kernel must be (H*W*C, units) = ({size}, units) "
                         f"for image_shape {shape}, got shape {kernel.shape}")
    units = kernel.shape[1]
    fig, axes = panel_grid(units, ncols, panel_size=1.6,
                           title="Dense weights of each unit as an image" if title is None else title)
    for u, ax in enumerate(axes):
        img = kernel[:, u].reshape(shape)
        img = normalize_to_uint8(img, axis=-1) if img.ndim == 3 else normalize_to_uint8(img)
        show_image(ax, to_display(img), class_name(u, class_names))
    add_note(fig, "each image scaled on its own" + (", each colour channel separately" if len(shape) == 3
                                                    and shape[-1] > 1 else "")
             + ": dark = smallest weight, bright = largest")
    return finish(fig, path)


def activation_maximization_grid(images, titles: Optional[Sequence[str]] = None, ncols: int = 5,
                                 title: Optional[str] = None, path=None):
    """Show images generated by activation maximization, one per class or filter.

    images: (N, H, W, C) or (N, H, W) floats of any range (gradient ascent does
        not keep pixels in [0, 1]); each image is min-max scaled on its own.
    titles: (N,) strings, e.g. the class each image maximises ("class 3").
    title: default "activation maximization: a generated input per target".
    A note under the panels says how the pixels were scaled.
    """
    images = _check_images(images, "activation_maximization_grid")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"activation_maximization_grid: {len(titles)} titles for "
                         f"{len(images)} images (shape {images.shape})")
    if title is None:
        title = "activation maximization: a generated input per target"
    fig, axes = panel_grid(len(images), ncols, panel_size=2.0, title=title)
    for k, ax in enumerate(axes):
        img = images[k]
        img = img if img.dtype == np.uint8 else normalize_to_uint8(img)
        show_image(ax, to_display(img), None if titles is None else str(titles[k]))
    if images.dtype != np.uint8:
        gray = images.shape[-1] == 1
        add_note(fig, "each image scaled on its own" + ("" if gray else ", one range for its three channels")
                 + ": black = its lowest pixel value, white = its highest")
    return finish(fig, path)
