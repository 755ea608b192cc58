"""Plots of results: confusion matrix, t-SNE embedding, filter statistics per class."""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib
import numpy as np
from matplotlib import colors

from matplotlib.ticker import MaxNLocator

from .figures import finish, new_figure, set_title, show_image, text_width, wrap_text

__all__ = ["confusion_matrix_figure", "tsne_scatter", "filter_statistics_figure"]


def _names(k: int, class_names, owner: str):
    if class_names is None:
        return [str(i) for i in range(k)]
    if len(class_names) != k:
        raise ValueError(f"{owner}: {len(class_names)} class names for {k} classes")
    return [str(n) for n in class_names]


def confusion_matrix_figure(cm, class_names: Optional[Sequence[str]] = None, normalize: bool = False,
                            title: Optional[str] = None, path=None):
    """Show a confusion matrix with its numbers written in the cells.

    cm: (K, K) counts, rows = true class, columns = predicted class (the
        layout of ``sklearn.metrics.confusion_matrix``).
    normalize: divide each row by its total, so a cell reads "fraction of
        the true class predicted as ...", and the diagonal is the per-class
        recall (useful when classes have different sizes).
    The numbers in the cells are as large as the cells allow (at most 12 pt),
    so they stay readable in the saved PNG.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion_matrix_figure: cm must be square (K, K), got shape {cm.shape}")
    K = cm.shape[0]
    names = _names(K, class_names, "confusion_matrix_figure")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = cm / np.where(totals > 0, totals, 1)  # a class never seen keeps a row of zeros
    size = max(4.0, 0.55 * K + 2)
    fig = new_figure(size + 1, size)
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, shrink=0.8).set_label(
        "fraction of the true class" if normalize else "number of images", fontsize=9)
    texts = [[f"{cm[i, j]:.2f}" if normalize else f"{int(round(cm[i, j]))}" for j in range(K)] for i in range(K)]
    # The widest number fills at most 80 % of a cell; the axes take about (size - 1.6) inches for K cells.
    cell = (size - 1.6) / K
    widest = max((t for row in texts for t in row), key=lambda t: text_width(t, 10))
    fontsize = float(np.clip(10 * 0.8 * cell / text_width(widest, 10), 6, 12))
    ax.set_xticks(range(K), names, rotation=45 if max(map(len, names)) > 2 else 0,
                  ha="right" if max(map(len, names)) > 2 else "center", fontsize=10)
    ax.set_yticks(range(K), names, fontsize=10)
    ax.set_xlabel("predicted class", fontsize=11)
    ax.set_ylabel("true class", fontsize=11)
    threshold = cm.max() / 2  # white text on dark cells, black on light ones
    for i in range(K):
        for j in range(K):
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=fontsize,
                    color="white" if cm[i, j] > threshold else "black")
    set_title(fig, title or ("confusion matrix (rows normalised)" if normalize else "confusion matrix"))
    return finish(fig, path)


def tsne_scatter(points, labels, class_names: Optional[Sequence[str]] = None,
                 title: Optional[str] = None, point_size: float = 4.0, path=None):
    """Scatter plot of a 2-D embedding (t-SNE of fc1 features), one colour per class.

    points: (N, 2), e.g. ``sklearn.manifold.TSNE(2).fit_transform(features)``.
    labels: (N,) class indices (or (N, K) one-hot).
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"tsne_scatter: points must be (N, 2), got shape {points.shape}")
    if labels.shape != (len(points),):
        raise ValueError(f"tsne_scatter: labels must be (N,) = ({len(points)},), got shape {labels.shape}")
    classes = np.unique(labels)
    K = int(classes.max()) + 1 if class_names is None else len(class_names)
    names = _names(K, class_names, "tsne_scatter")
    # tab10 / tab20 give well separated colours for up to 10 / 20 classes.
    cmap = colors.ListedColormap([f"C{i}" for i in range(10)]) if K <= 10 else \
        matplotlib.colormaps["tab20"]
    fig = new_figure(7, 5.6)
    ax = fig.subplots()
    for k in classes:
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=point_size, color=cmap(int(k) % cmap.N),
                   label=names[int(k)])
    # outside the axes: a legend inside would hide the points of some cluster
    ax.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    set_title(fig, title or "t-SNE embedding (the axes have no units: only neighbourhoods mean something)")
    return finish(fig, path)


def filter_statistics_figure(mean_activation, mode_maps, class_names: Optional[Sequence[str]] = None,
                             normalize: str = "none", title: Optional[str] = None, path=None):
    """Filter activation statistics per class (PW11, exercise 1).

    mean_activation: (K classes, F filters), the average output of each filter
        over the images of each class -> one heatmap (which filters each class
        uses).
    mode_maps: (K, H, W) integers in 0..F-1: for each class and pixel, the
        filter most often the strongest there (the mode of the argmax over the
        class's images) -> one panel per class, one colour per filter that
        appears (the colour bar lists their indices).
    normalize: "none" shows the averages as they are; "filter" divides each
        filter's column by its largest |value| over the classes, so that what
        differs *between classes* shows even when some filters are always
        much stronger than others.
    """
    mean_activation = np.asarray(mean_activation, dtype=np.float64)
    mode_maps = np.asarray(mode_maps)
    if mean_activation.ndim != 2:
        raise ValueError(f"filter_statistics_figure: mean_activation must be (K classes, F filters), "
                         f"got shape {mean_activation.shape}")
    K, F = mean_activation.shape
    if mode_maps.ndim != 3 or mode_maps.shape[0] != K:
        raise ValueError(f"filter_statistics_figure: mode_maps must be (K, H, W) with K = {K}, "
                         f"got shape {mode_maps.shape}")
    if mode_maps.min() < 0 or mode_maps.max() >= F:
        raise ValueError(f"filter_statistics_figure: mode_maps must hold filter indices 0..{F - 1}, "
                         f"got values {mode_maps.min()}..{mode_maps.max()}")
    names = _names(K, class_names, "filter_statistics_figure")

    ncols = min(K, 5)
    nrows = -(-K // ncols)
    fig = new_figure(2.2 * ncols + 1, 2.6 + 2.2 * nrows)
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.6, 2.2 * nrows])

    ax = top.subplots()
    if normalize not in ("none", "filter"):
        raise ValueError(f"filter_statistics_figure: normalize must be 'none' or 'filter', got {normalize!r}")
    shown, label = mean_activation, "mean activation"
    if normalize == "filter":
        peak = np.abs(mean_activation).max(axis=0, keepdims=True)
        shown = mean_activation / np.where(peak > 0, peak, 1)  # a filter never active stays 0
        label = "mean activation / filter's max"
    im = ax.imshow(shown, aspect="auto", cmap="viridis")
    top.colorbar(im, ax=ax, label=label)
    ax.set_yticks(range(K), names, fontsize=8)
    ax.set_xlabel("filter")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # filters are numbered, there is no filter 0.5
    ax.set_ylabel("class")
    heading = "mean activation of each filter per class" + (
        " (each filter scaled to its max over the classes)" if normalize == "filter" else "")
    ax.set_title(wrap_text(heading, fig.get_figwidth() - 1.5, 12))

    # One discrete colour per filter that wins somewhere, the same in every class panel.
    # Only those filters get a colour: 32 filters in tab20 would repeat colours, but
    # rarely more than a dozen filters ever win a pixel.
    used = np.unique(mode_maps)
    palette = np.concatenate([matplotlib.colormaps[name](np.arange(20)) for name in ("tab20", "tab20b", "tab20c")])
    if len(used) > len(palette):
        palette = matplotlib.colormaps["turbo"](np.linspace(0, 1, len(used)))
    filter_colors = colors.ListedColormap(palette[:len(used)])
    slot = np.searchsorted(used, mode_maps)  # filter index -> its colour's position
    axes = bottom.subplots(nrows, ncols, squeeze=False).ravel()
    for k, ax in enumerate(axes):
        if k >= K:
            bottom.delaxes(ax)
            continue
        im = show_image(ax, slot[k], f"class {names[k]}", cmap=filter_colors, vmin=-0.5, vmax=len(used) - 0.5)
    cbar = bottom.colorbar(im, ax=list(axes[:K]), label="most active filter (mode)", shrink=0.8,
                           ticks=range(len(used)) if len(used) <= 40 else None)
    if len(used) <= 40:
        cbar.ax.set_yticklabels([str(f) for f in used], fontsize=7)
    bottom.suptitle("per pixel, the filter most often the strongest over the class's images", fontsize=9)
    set_title(fig, title or "which filters each class uses")
    return finish(fig, path)
