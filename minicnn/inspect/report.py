"""The inspection part of a run's report: figures of what a trained model learned.

``write_inspection_report`` is what ``make demo`` calls after training; a lab
can call it on any trained single-input image classifier. It only combines
``minicnn.inspect`` (the numbers) with ``minicnn.viz`` (the figures);
``inspection_figures`` yields the figures before they are saved.

Each figure carries its own title, panel labels ("true 3 / pred 5") and colour
scale, so it still explains itself when copied out of the report.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .activations import activations
from .cam import default_cam_layer, grad_cam, hires_cam
from .gradients import predicted_classes, saliency
from .maximization import activation_maximization
from .statistics import confusion_matrix, filter_statistics

__all__ = ["write_inspection_report", "inspection_figures", "example_indices"]


def example_indices(y, n: int) -> np.ndarray:
    """Up to n test indices, the first image of class 0, of class 1, ... (then the next ones),
    so the examples show different classes."""
    y = np.asarray(y)
    y = y.argmax(axis=1) if y.ndim == 2 else y
    firsts = [int(np.flatnonzero(y == k)[0]) for k in np.unique(y)]
    taken = set(firsts)
    rest = [i for i in range(len(y)) if i not in taken]
    return np.array((firsts + rest)[:n], dtype=int)


def inspection_figures(model, x_test, y_test, class_names: Optional[Sequence[str]] = None,
                       n_examples: int = 6, max_samples: int = 2000, maximization_steps: int = 200
                       ) -> Iterator[Tuple[str, str, object]]:
    """Yield ``(report heading, file name, matplotlib Figure)`` for each inspection figure.

    Arguments as for :func:`write_inspection_report`. The figures come one at a
    time, so a caller can save (and drop) each before the next is computed.
    """
    from .. import viz  # matplotlib only when figures are made
    from ..viz.labels import class_name, true_and_predicted

    x_test = np.asarray(x_test)
    y = np.asarray(y_test)
    y = y.argmax(axis=1) if y.ndim == 2 else y.astype(np.int64)
    name = lambda k: class_name(k, class_names)

    nodes = model.nodes
    convs = [n.layer for n in nodes if type(n.layer).__name__ == "Conv2D"]
    spatial = [n.layer.name for n in nodes if len(n.output.shape) == 4]
    idx = example_indices(y, n_examples)
    examples = x_test[idx]
    pred = predicted_classes(model, examples)
    labels = true_and_predicted(y[idx], pred, class_names)
    images = len(x_test.shape) == 4

    # 1. The first layer's filters (tiny VGG q. 11): RGB images when the input is RGB.
    if convs:
        kernel = convs[0].params["kernel"].value
        KH, KW, C, F = kernel.shape
        yield (f"First-layer filters ({convs[0].name})", "filters_first_layer.png",
               viz.filter_grid(kernel, mode="rgb" if C == 3 else "per_channel", max_filters=32,
                               title=f"{convs[0].name} (first conv layer): {min(F, 32)} of {F} filters "
                                     f"{KH}x{KW}"))

    # 2. Every spatial layer's maps for one test image (PW09 ex. 2c): CONV, RELU, MAXP separately.
    #    One colour scale per layer: the colour bars give the values, so a student sees the ReLU
    #    cut the conv's negative part and the pooling keep the maxima.
    if spatial:
        first = idx[0]
        acts = activations(model, x_test[first:first + 1], layers=spatial)
        yield (f"Activation maps of test image {first} (class {name(y[first])})", "activation_maps.png",
               viz.all_activation_maps(acts, max_maps=8, scale="layer",
                                       title=f"Activations of test image {first} ({labels[0]}): "
                                             f"the first 8 channels of each layer"))

    # 3. Saliency of the predicted class.
    hw = x_test.shape[1:3]
    if images:
        over = " (largest over the colour channels)" if x_test.shape[-1] > 1 else ""
        yield ("Saliency maps (predicted class; titles: true / predicted)", "saliency.png",
               viz.overlay_heatmap(examples, saliency(model, examples, pred), titles=labels,
                                   title=f"Saliency of the predicted class: how much each pixel moves its "
                                         f"score{over}",
                                   colorbar_label="|d score / d pixel|"))

    # 4. Grad-CAM and HiResCAM of the predicted class on the last spatial layer.
    if spatial:
        layer = default_cam_layer(model)
        raw = grad_cam(model, examples, pred, layer=layer)
        if np.any(raw > 0):
            yield (f"Grad-CAM on {layer} (predicted class; titles: true / predicted)", "grad_cam.png",
                   viz.overlay_heatmap(examples, raw, titles=labels,
                                       title=f"Grad-CAM on {layer} for the predicted class",
                                       colorbar_label="evidence for the predicted class\n(0 after the ReLU = none)",
                                       note="Grad-CAM = ReLU(sum over channels f of alpha_f * A_f), alpha_f = the "
                                            "class score's gradient averaged over the positions"))
        else:
            # ReLU(sum_f alpha_f A_f) is 0 everywhere: the position-averaged gradients alpha_f are
            # negative where the maps A_f are large. Blank overlays would say nothing; the map before
            # the ReLU still shows where the evidence against the class sits.
            signed = grad_cam(model, examples, pred, layer=layer, relu=False)
            yield (f"Grad-CAM on {layer}: 0 everywhere after its ReLU, so shown before it (blue = evidence "
                   f"against the predicted class; see HiResCAM)", "grad_cam.png",
                   viz.overlay_heatmap(examples, signed, titles=labels, signed=True, alpha=0.6,
                                       title=f"Grad-CAM on {layer} for the predicted class, shown BEFORE its "
                                             f"ReLU (after the ReLU it is 0 everywhere)",
                                       colorbar_label="red: evidence for the predicted class\n"
                                                      "blue: evidence against it",
                                       note="map = sum over channels f of alpha_f * A_f, alpha_f = the class "
                                            "score's gradient averaged over the positions. Here it is <= 0 at every "
                                            "position, so Grad-CAM's ReLU leaves nothing; HiResCAM (gradient x "
                                            "activation at each position, not averaged) shows where the evidence "
                                            "for the class lies."))
        yield (f"HiResCAM on {layer} (gradient x activation, not averaged over positions)", "hires_cam.png",
               viz.overlay_heatmap(examples, hires_cam(model, examples, pred, layer=layer), titles=labels,
                                   title=f"HiResCAM on {layer} for the predicted class",
                                   colorbar_label="evidence for the predicted class\n(0 after the ReLU = none)",
                                   note="HiResCAM = ReLU(sum over channels f of dA_f * A_f) at each position: "
                                        "the class score's gradient times the activation, not averaged"))

    # 5. Confusion matrix (Ex08 q. 3).
    n = min(len(x_test), max_samples)
    cm = confusion_matrix(model, x_test[:n], y[:n])
    names = list(class_names) if class_names is not None and len(class_names) == cm.shape[0] else None
    accuracy = np.trace(cm) / max(1, cm.sum())
    yield (f"Confusion matrix ({n} test images)", "confusion_matrix.png",
           viz.confusion_matrix_figure(cm, names, title=f"Confusion matrix of {n} test images "
                                                        f"(accuracy {accuracy:.1%})"))

    # 6. Filter statistics per class (PW11 ex. 1) on the first layer's (rectified) maps.
    if spatial:
        relus = [n.layer.name for n in nodes if len(n.output.shape) == 4 and type(n.layer).__name__ == "ReLU"]
        layer = relus[0] if relus else spatial[0]
        stats = filter_statistics(model, x_test[:n], y[:n], layer)
        yield (f"Filter statistics per class ({layer}, {n} test images)", "filter_statistics.png",
               viz.filter_statistics_figure(stats.mean_activation, stats.mode_maps,
                                            [name(k) for k in stats.classes], normalize="filter",
                                            title=f"{layer}: which filters each class uses ({n} test images)"))

    # 7. What each class's score wants to see (activation maximization, Ex08 q. 3).
    if images and maximization_steps > 0:
        lo, hi = float(min(0.0, x_test.min())), float(max(1.0, x_test.max()))
        k = int(model.output_shape[-1])
        imgs, history = activation_maximization(model, nodes[-1].layer.name, list(range(k)),
                                                steps=maximization_steps, input_shape=x_test.shape[1:],
                                                value_range=(lo, hi))
        yield ("Activation maximization: an input that maximises each class score", "activation_maximization.png",
               viz.activation_maximization_grid(
                   imgs, [f"class {name(c)}\nscore {history[-1, c]:.3g}" for c in range(k)],
                   title=f"Activation maximization: for each class, an input made by {maximization_steps} "
                         f"steps of gradient ascent on its score (the logit before the softmax)"))


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
    from ..viz.figures import finish

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: List[Tuple[str, Path]] = []
    for heading, filename, fig in inspection_figures(model, x_test, y_test, class_names, n_examples,
                                                     max_samples, maximization_steps):
        finish(fig, out / filename)
        written.append((heading, out / filename))
    return written
