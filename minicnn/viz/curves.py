"""Learning curves: loss and accuracy per epoch, training vs validation.

Accepted inputs (``History`` is what ``model.fit`` returns; its ``.history``
is a dict ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``):

- one run: a ``History`` or its dict -> one line per split;
- several runs of the same configuration: a list of them -> the mean with a
  band of +/- one standard deviation (how much the curve depends on the seed);
- several configurations: a dict label -> run(s) -> one colour per label
  (Exercise sheet 08 compares four training set-ups on one plot).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from matplotlib.ticker import MaxNLocator

from .figures import finish, new_figure, set_title

__all__ = ["learning_curves"]

SPLITS = ("both", "train", "val", "separate", "all")
# Line style and legend name of each split; test curves exist when a run logged "test_<metric>"
# per epoch (the lab runner's test_each_epoch).
STYLE = {"train": ("-", "train"), "val": ("--", "validation"), "test": (":", "test")}


def _as_dict(run, owner: str) -> Dict[str, list]:
    """A History object or a metrics dict -> the metrics dict."""
    h = getattr(run, "history", run)
    if not isinstance(h, dict):
        raise ValueError(f"{owner}: expected a History or a dict of per-epoch lists, got {type(run).__name__}")
    return h


def _is_metrics_dict(obj) -> bool:
    """True for {"loss": [0.9, 0.5], ...}; False for {"adam": history, ...}."""
    if not isinstance(obj, dict) or not obj:
        return False
    return all(isinstance(v, (list, tuple, np.ndarray))
               and all(isinstance(e, (int, float, np.number)) for e in v) for v in obj.values())


def _configs(history_or_histories, labels, owner: str) -> Dict[str, List[Dict[str, list]]]:
    """Normalise every accepted input to: label -> list of runs (metric dicts)."""
    obj = history_or_histories
    if hasattr(obj, "history") or _is_metrics_dict(obj):
        runs = {labels if isinstance(labels, str) else "": [_as_dict(obj, owner)]}
    elif isinstance(obj, (list, tuple)):
        if not obj:
            raise ValueError(f"{owner}: empty list of histories")
        runs = {labels if isinstance(labels, str) else "": [_as_dict(r, owner) for r in obj]}
    elif isinstance(obj, dict):
        keys = list(labels) if labels is not None and not isinstance(labels, str) else list(obj)
        runs = {}
        for key in keys:
            value = obj[key]
            many = isinstance(value, (list, tuple)) and not _is_metrics_dict(value)
            runs[str(key)] = [_as_dict(r, owner) for r in (value if many else [value])]
    else:
        raise ValueError(f"{owner}: expected a History, a dict of metrics, a list of runs or a dict "
                         f"label -> run(s); got {type(obj).__name__}")
    return runs


def _stack(runs: List[Dict[str, list]], key: str) -> Optional[np.ndarray]:
    """(runs, epochs) array of one metric, cut to the shortest run; None if absent."""
    series = [np.asarray(r[key], dtype=np.float64) for r in runs if key in r and len(r[key])]
    if not series:
        return None
    if len(series) != len(runs):
        raise ValueError(f"learning_curves: {key!r} is missing from some runs of the same configuration")
    epochs = min(len(s) for s in series)
    return np.stack([s[:epochs] for s in series])


def learning_curves(history_or_histories, metrics: Sequence[str] = ("loss", "accuracy"),
                    labels: Optional[Union[str, Sequence[str]]] = None, split: str = "both",
                    title: Optional[str] = None, path=None):
    """Plot metrics per epoch, training vs validation.

    history_or_histories: a History / dict of lists (one run), a list of them
        (runs of one configuration: mean +/- std band), or a dict label ->
        run or list of runs (one colour per label).
    metrics: names without the "val_" prefix, one subplot each.
    labels: a name for a single configuration (str), or for a dict input the
        labels to plot, in order.
    split: "both" (train solid, validation dashed, same axes), "train" or
        "val" (only one split), "separate" (one row of subplots per split:
        the "two plots, for training and test sets" of Exercise sheet 08),
        "all" (train, validation and, where the history has ``test_<metric>``,
        test dotted, same axes).
    Epochs are numbered from 1.
    """
    owner = "learning_curves"
    if split not in SPLITS:
        raise ValueError(f"{owner}: split must be one of {SPLITS}, got {split!r}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    configs = _configs(history_or_histories, labels, owner)
    rows = {"both": [("train", "val")], "train": [("train",)], "val": [("val",)],
            "separate": [("train",), ("val",)], "all": [("train", "val", "test")]}[split]
    fig = new_figure(4.5 * len(metrics), 3.2 * len(rows))
    axes = fig.subplots(len(rows), len(metrics), squeeze=False)
    drawn = 0
    for r, row_splits in enumerate(rows):
        for m, metric in enumerate(metrics):
            ax = axes[r, m]
            for color_index, (label, runs) in enumerate(configs.items()):
                color = f"C{color_index % 10}"
                for which in row_splits:
                    key = metric if which == "train" else f"{which}_{metric}"
                    values = _stack(runs, key)
                    if values is None:
                        continue
                    drawn += 1
                    mean = values.mean(axis=0)
                    epochs = np.arange(1, len(mean) + 1)
                    style, split_label = STYLE[which]
                    name = " ".join(p for p in (label, split_label) if p)
                    if len(runs) > 1:
                        name += f" (mean of {len(runs)} runs)"
                    ax.plot(epochs, mean, style, color=color, label=name)
                    if len(runs) > 1:  # the band shows the spread between seeds
                        std = values.std(axis=0)
                        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
            split_name = {("train",): "training ", ("val",): "validation "}.get(row_splits, "")
            ax.set_title(f"{split_name}{metric}")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25
            ax.set_ylabel(metric)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
    if drawn == 0:
        raise ValueError(f"{owner}: none of the metrics {tuple(metrics)} (split {split!r}) is in the "
                         f"history; keys found: {sorted(next(iter(configs.values()))[0])}")
    set_title(fig, title)
    return finish(fig, path)
