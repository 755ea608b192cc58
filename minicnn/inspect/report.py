"""The inspection part of a run's report: figures of what a trained model learned.

``write_inspection_report`` is what ``make demo`` calls after training; a lab
can call it on any trained single-input image classifier. It only combines
``minicnn.inspect`` (the numbers) with ``minicnn.viz`` (the figures).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .activations import activations
from .cam import default_cam_layer, grad_cam, hires_cam, upsample_to_input
from .gradients import predicted_classes, saliency
from .maximization import activation_maximization
from .statistics import confusion_matrix, filter_statistics

__all__ = ["write_inspection_report", "example_indices"]


def example_indices(y, n: int) -> np.ndarray:
    """Up to n test indices, the first image of class 0, of class 1, ... (then the next ones),
    so the examples show different classes."""
    y = np.asarray(y)
    y = y.argmax(axis=1) if y.ndim == 2 else y
    firsts = [int(np.flatnonzero(y == k)[0]) for k in np.unique(y)]
    taken = set(firsts)
    rest = [i for i in range(len(y)) if i not in taken]
    return np.array((firsts + rest)[:n], dtype=int)


def _name(k, class_names):
    return str(class_names[k]) if class_names is not None and k < len(class_names) else str(k)


def write_inspection_report(model, x_test, y_test, class_names: Optional[Sequence[str]], out_dir,
                            n_examples: int = 6, max_samples: int = 2000, maximization_steps: int = 200
                            ) -> List[Tuple[str, Path]]:
    """Write the inspection figures of a trained classifier as PNGs in ``out_dir``.

    x_test: (N, H, W, C) floats as the model expects them; y_test: (N,) labels
    or (N, K) one-hot; class_names: K names (None: the indices).
    n_examples: how many test images get saliency and Grad-CAM maps.
    max_samples: the confusion matrix and filter statistics use at most the
        first max_samples test images (enough for the figures, and quick).
    Returns ``[(title, png path), ...]`` in the order they should appear:
    first-layer filters, activation maps of one test image at every layer,
    saliency maps, Grad-CAM and HiResCAM maps, the confusion matrix, the filter statistics
    of the first ReLU/conv output, and one activation-maximization image per
    class. Figures that do not apply to the model (no conv layer) are skipped.
    """
    from .. import viz  # matplotlib only when a report is written

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x_test = np.asarray(x_test)
    y = np.asarray(y_test)
    y = y.argmax(axis=1) if y.ndim == 2 else y.astype(np.int64)
    figures: List[Tuple[str, Path]] = []

    def save(title, filename, make):
        path = out / filename
        make(path)
        figures.append((title, path))

    nodes = model.nodes
    convs = [n.layer for n in nodes if type(n.layer).__name__ == "Conv2D"]
    spatial = [n.layer.name for n in nodes if len(n.output.shape) == 4]
    idx = example_indices(y, n_examples)
    examples = x_test[idx]
    pred = predicted_classes(model, examples)
    titles = [f"{_name(t, class_names)} / {_name(p, class_names)}" for t, p in zip(y[idx], pred)]

    # 1. The first layer's filters (tiny VGG q. 11): RGB images when the input is RGB.
    if convs:
        kernel = convs[0].params["kernel"].value
        mode = "rgb" if kernel.shape[2] == 3 else "per_channel"
        save(f"First-layer filters ({convs[0].name})", "filters_first_layer.png",
             lambda p: viz.filter_grid(kernel, mode=mode, max_filters=32,
                                       title=f"{convs[0].name}: {kernel.shape[3]} filters "
                                             f"{kernel.shape[0]}x{kernel.shape[1]}", path=p))

    # 2. Every spatial layer's maps for one test image (PW09 ex. 2c): CONV, RELU, MAXP separately.
    if spatial:
        acts = activations(model, x_test[idx[:1]], layers=spatial)
        save(f"Activation maps of test image {idx[0]} (class {_name(y[idx[0]], class_names)})",
             "activation_maps.png",
             lambda p: viz.all_activation_maps({k: v[0] for k, v in acts.items()}, max_maps=8,
                                               title=f"test image {idx[0]}: first 8 maps of each layer", path=p))

    # 3. Saliency of the predicted class.
    hw = x_test.shape[1:3]
    if len(x_test.shape) == 4:
        sal = saliency(model, examples, pred)
        save("Saliency maps (predicted class; titles: true / predicted)", "saliency.png",
             lambda p: viz.overlay_heatmap(examples, sal, titles=titles, path=p))

    # 4. Grad-CAM and HiResCAM of the predicted class on the last spatial layer.
    if spatial:
        layer = default_cam_layer(model)
        raw = grad_cam(model, examples, pred, layer=layer)
        if np.any(raw > 0):
            cams = upsample_to_input(raw, hw)
            save(f"Grad-CAM on {layer} (predicted class; titles: true / predicted)", "grad_cam.png",
                 lambda p: viz.overlay_heatmap(examples, cams, titles=titles, path=p))
        else:
            # ReLU(sum_f alpha_f A_f) is 0 everywhere: the position-averaged gradients alpha_f are
            # negative where the maps A_f are large. Blank overlays would say nothing; the map before
            # the ReLU still shows where the evidence against the class sits.
            signed = upsample_to_input(grad_cam(model, examples, pred, layer=layer, relu=False), hw)
            save(f"Grad-CAM on {layer}: 0 everywhere after its ReLU, so shown before it (blue = evidence "
                 f"against the predicted class; see HiResCAM)", "grad_cam.png",
                 lambda p: viz.overlay_heatmap(examples, signed, titles=titles, signed=True, alpha=0.6, path=p))
        hires = upsample_to_input(hires_cam(model, examples, pred, layer=layer), hw)
        save(f"HiResCAM on {layer} (gradient x activation, not averaged over positions)", "hires_cam.png",
             lambda p: viz.overlay_heatmap(examples, hires, titles=titles, path=p))

    # 5. Confusion matrix (Ex08 q. 3).
    n = min(len(x_test), max_samples)
    cm = confusion_matrix(model, x_test[:n], y[:n])
    names = list(class_names) if class_names is not None and len(class_names) == cm.shape[0] else None
    save(f"Confusion matrix ({n} test images)", "confusion_matrix.png",
         lambda p: viz.confusion_matrix_figure(cm, names, path=p))

    # 6. Filter statistics per class (PW11 ex. 1) on the first layer's (rectified) maps.
    if spatial:
        relus = [n.layer.name for n in nodes if len(n.output.shape) == 4 and type(n.layer).__name__ == "ReLU"]
        layer = relus[0] if relus else spatial[0]
        stats = filter_statistics(model, x_test[:n], y[:n], layer)
        stat_names = [_name(int(k), class_names) for k in stats.classes]
        save(f"Filter statistics per class ({layer}, {n} test images)", "filter_statistics.png",
             lambda p: viz.filter_statistics_figure(stats.mean_activation, stats.mode_maps, stat_names,
                                                    normalize="filter",
                                                    title=f"{layer}: which filters each class uses", path=p))

    # 7. What each class's score wants to see (activation maximization, Ex08 q. 3).
    if len(x_test.shape) == 4 and maximization_steps > 0:
        lo, hi = float(min(0.0, x_test.min())), float(max(1.0, x_test.max()))
        k = int(model.output_shape[-1])
        imgs, _ = activation_maximization(model, nodes[-1].layer.name, list(range(k)), steps=maximization_steps,
                                          input_shape=x_test.shape[1:], value_range=(lo, hi))
        save("Activation maximization: an input that maximises each class score", "activation_maximization.png",
             lambda p: viz.activation_maximization_grid(imgs, [_name(c, class_names) for c in range(k)], path=p))
    return figures
