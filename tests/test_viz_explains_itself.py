"""Figures that explain themselves (issue 16): a PNG copied out of its report must
still say what it shows. Checked on the matplotlib Figure before saving: its
title, colour bars and notes, its panel labels, and, after drawing it at the
saved size, that no text is cut by the figure's edge or too small to read."""
import os
import re

os.environ.setdefault("MPLBACKEND", "Agg")  # headless, as on CI

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

import minicnn as mc
from minicnn import inspect as ins
from minicnn import viz

SAVE_DPI = 100  # what viz.figures.finish saves with


def image_panels(fig):
    return [ax for ax in fig.axes if ax.images]


def colorbar_labels(fig):
    """The long-axis label of every colour bar (matplotlib names colour bar axes '<colorbar>')."""
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def words(fig) -> str:
    """Every visible text of the figure (titles, labels, notes, colour bars), one string."""
    return "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip())


def flat(text: str) -> str:
    """Line breaks (from wrapping) as spaces."""
    return re.sub(r"\s+", " ", text)


def draw(fig):
    fig.set_dpi(SAVE_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _undrawn_tick_labels(fig) -> set:
    """ids of tick labels outside their axis's view (matplotlib keeps but does not draw them)."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    return undrawn


def texts_outside(fig):
    """Texts whose drawn box leaves the figure (cut in the PNG), with a 1-pixel tolerance."""
    renderer = draw(fig)
    W, H = fig.bbox.width, fig.bbox.height
    undrawn = _undrawn_tick_labels(fig)
    out = []
    for t in fig.findobj(Text):
        if not (t.get_visible() and t.get_text().strip()) or id(t) in undrawn:
            continue
        box = t.get_window_extent(renderer)
        if box.x0 < -1 or box.y0 < -1 or box.x1 > W + 1 or box.y1 > H + 1:
            out.append(t.get_text())
    return out


def overlapping_panel_titles(fig):
    renderer = draw(fig)
    boxes = [(ax.title.get_text(), ax.title.get_window_extent(renderer)) for ax in fig.axes if ax.title.get_text()]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------------------
# every figure: a title, what its colours mean, nothing cut
# ---------------------------------------------------------------------------
R = np.random.default_rng(1)
FIGURES = {
    # name: (make the figure, a phrase that must be on it saying how its colours / labels read)
    "image_grid with predictions": (
        lambda: viz.image_grid(R.random((4, 8, 8, 3)), [0, 1, 2, 0], ["cat", "dog", "frog"],
                               predictions=[0, 2, 2, 1], title="test images"),
        "green: predicted right, red: wrong (2 of 4 wrong)"),
    "filter_grid per channel": (lambda: viz.filter_grid(R.normal(size=(3, 3, 3, 4))),
                                "each panel scaled on its own: black = its smallest weight"),
    "filter_grid rgb": (lambda: viz.filter_grid(R.normal(size=(5, 5, 3, 4)), mode="rgb"),
                        "one range for its R, G and B weights"),
    "dense_weight_images": (lambda: viz.dense_weight_images(R.normal(size=(48, 3)), (4, 4, 3)),
                            "each image scaled on its own, each colour channel separately"),
    "activation_maps": (lambda: viz.activation_maps(R.random((6, 6, 5))), "each panel scaled on its own"),
    "activation_maps layer": (lambda: viz.activation_maps(R.random((6, 6, 5)), scale="layer"),
                              "one scale for the layer"),
    "all_activation_maps": (lambda: viz.all_activation_maps({"a": R.random((6, 6, 3)), "b": R.random((3, 3, 3))}),
                            "each panel scaled on its own"),
    "all_activation_maps layer": (
        lambda: viz.all_activation_maps({"a": R.random((6, 6, 3)), "b": R.random((3, 3, 3))}, scale="layer"),
        "one scale per layer"),
    "all_activation_maps one channel": (
        lambda: viz.all_activation_maps({"a": R.random((6, 6, 3)), "b": R.random((3, 3, 3))}, filter_index=1),
        "each panel scaled on its own"),
    "activation_maximization_grid": (lambda: viz.activation_maximization_grid(R.normal(size=(3, 8, 8, 1))),
                                     "black = its lowest pixel value, white = its highest"),
    "overlay_heatmap": (lambda: viz.overlay_heatmap(R.random((2, 8, 8)), R.random((2, 8, 8)), titles=["a", "b"]),
                        "each map scaled from its own min to its max"),
    "overlay_heatmap signed": (lambda: viz.overlay_heatmap(R.random((2, 8, 8)), R.normal(size=(2, 8, 8)),
                                                           signed=True),
                               "red > 0, blue < 0 (each map divided by its largest |value|; white = 0)"),
    "confusion_matrix_figure": (lambda: viz.confusion_matrix_figure(R.integers(0, 9, (3, 3))), "number of images"),
    "confusion_matrix_figure normalised": (
        lambda: viz.confusion_matrix_figure(R.integers(1, 9, (3, 3)), normalize=True), "fraction of the true class"),
    "tsne_scatter": (lambda: viz.tsne_scatter(R.random((6, 2)), [0, 1, 2, 0, 1, 2], ["x", "y", "z"]),
                     "only neighbourhoods mean something"),
    "filter_statistics_figure": (lambda: viz.filter_statistics_figure(R.random((2, 3)), R.integers(0, 3, (2, 4, 4))),
                                 "most active filter (mode)"),
    "learning_curves": (lambda: viz.learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, metrics="loss",
                                                    title="a run"), "validation"),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_has_a_title_says_its_scale_and_cuts_no_text(name):
    make, phrase = FIGURES[name]
    fig = make()
    assert fig.get_suptitle().strip(), f"{name}: no title"
    assert phrase in flat(words(fig)), f"{name}: {phrase!r} not on the figure:\n{words(fig)}"
    assert texts_outside(fig) == []
    assert overlapping_panel_titles(fig) == []


def test_a_one_panel_figure_keeps_its_long_title_inside(rng):
    """Today's bug: one 2-inch panel under a 60-character title cut both of its ends."""
    title = "Activation maximization: an input that maximises each class score"
    fig = viz.activation_maximization_grid(rng.random((1, 8, 8, 1)), titles=["class 3"], title=title)
    assert texts_outside(fig) == []
    assert flat(fig.get_suptitle()) == title  # wrapped, not shortened
    panel = image_panels(fig)[0]
    renderer = draw(fig)
    assert panel.get_window_extent(renderer).height >= 1.8 * SAVE_DPI  # the panel was not squeezed for it


# ---------------------------------------------------------------------------
# "true / predicted" labels
# ---------------------------------------------------------------------------
def test_true_and_predicted_labels_say_which_is_which():
    assert viz.true_and_predicted([3, 1], [5, 1]) == ["true 3 / pred 5", "true 1 / pred 1"]
    names = ["airplane", "automobile", "cat", "dog"]
    # short enough for one line above a panel; longer ones go on two lines
    assert viz.true_and_predicted(np.array([[2]]), [3], names) == ["true cat / pred dog"]
    assert viz.true_and_predicted([0], [1], names) == ["true airplane\npred automobile"]
    assert viz.class_name(7, names) == "7" and viz.class_name(1, names) == "automobile"
    with pytest.raises(ValueError, match="true_and_predicted: 2 true labels for 1 predictions"):
        viz.true_and_predicted([0, 1], [1])


# ---------------------------------------------------------------------------
# activation maps: the scale is said, and one scale per layer is offered
# ---------------------------------------------------------------------------
def test_activation_maps_panel_scale_is_said_and_layer_scale_is_shared(rng):
    maps = rng.random((5, 5, 4)) * np.array([1.0, 10.0, 0.1, 3.0])  # channels of very different strength
    panel = viz.activation_maps(maps)
    shown = image_panels(panel)
    for f, ax in enumerate(shown):  # each panel on its own range
        assert ax.images[0].get_clim() == pytest.approx((maps[..., f].min(), maps[..., f].max()))
    (label,) = colorbar_labels(panel)
    assert "each panel scaled on its own" in flat(label)
    cbar = [ax for ax in panel.axes if ax.get_label() == "<colorbar>"][0]
    assert [t.get_text() for t in cbar.get_yticklabels()] == ["min", "max"]

    layer = viz.activation_maps(maps, max_maps=2, scale="layer")
    # one range for the layer, over all 4 channels (also the 2 not shown)
    for ax in image_panels(layer):
        assert ax.images[0].get_clim() == pytest.approx((maps.min(), maps.max()))
    (label,) = colorbar_labels(layer)
    assert "one scale for the layer" in flat(label)
    with pytest.raises(ValueError, match=r"activation_maps: scale must be 'panel' .* or 'layer' .* got 'global'"):
        viz.activation_maps(maps, scale="global")


def test_all_activation_maps_layer_scale_gives_each_row_its_own_colour_bar(rng):
    layers = {"conv": rng.normal(size=(6, 6, 5)), "pool": rng.random((3, 3, 5)) * 7}
    layers["conv"][0, 0, 4] = 50.0  # the largest value sits in a channel that is not shown
    fig = viz.all_activation_maps(layers, max_maps=2, scale="layer")
    panels = image_panels(fig)
    assert len(panels) == 4 and len(colorbar_labels(fig)) == 2  # one colour bar per layer
    for ax, name in zip(panels, ["conv", "conv", "pool", "pool"]):
        assert ax.images[0].get_clim() == pytest.approx((layers[name].min(), layers[name].max()))
    assert "one scale per layer" in fig.get_supxlabel()
    assert [ax.get_title() for ax in panels[:2]] == ["channel 0", "channel 1"]  # a column is a channel


def test_all_activation_maps_of_a_whole_model_skips_flatten_and_dense_with_a_note(rng):
    """viz.all_activation_maps(inspect.activations(model, x)) used to fail on Flatten."""
    model = mc.Sequential([mc.Input((8, 8, 1)), mc.Conv2D(3, 3, padding="same", name="c1"), mc.ReLU(name="r1"),
                           mc.MaxPool2D(2, name="p1"), mc.Flatten(name="flat"),
                           mc.Dense(4, activation="softmax", name="out")], seed=0)
    x = rng.random((2, 8, 8, 1)).astype(np.float32)
    acts = ins.activations(model, x)
    fig = viz.all_activation_maps(acts)
    panels = image_panels(fig)
    assert len(panels) == 3 * 3  # c1, r1, p1: 3 channels each
    assert [ax.get_ylabel() for ax in panels[::3]] == ["c1\n8x8x3", "r1\n8x8x3", "p1\n4x4x3"]
    np.testing.assert_array_equal(panels[8].images[0].get_array(), acts["p1"][0, :, :, 2])
    assert "not shown (no image-shaped output): flat (48,), out (4,)" in flat(fig.get_supxlabel())
    assert "image 0 of 2" in fig.get_suptitle()  # a batch: which image is shown
    second = image_panels(viz.all_activation_maps(acts, image_index=1))
    np.testing.assert_array_equal(second[0].images[0].get_array(), acts["c1"][1, :, :, 0])
    with pytest.raises(ValueError, match=r"image_index 2 out of range for layers\['c1'\] of shape \(2, 8, 8, 3\)"):
        viz.all_activation_maps(acts, image_index=2)


def test_following_one_channel_does_not_call_it_one_filter(rng):
    layers = {"conv1": rng.random((8, 8, 4)), "pool1": rng.random((4, 4, 4)), "conv2": rng.random((4, 4, 4))}
    fig = viz.all_activation_maps(layers, filter_index=3)
    title = fig.get_suptitle()
    assert "channel 3" in title and "filter 3" not in title
    note = flat(fig.get_supxlabel())
    assert "each conv layer computes new ones" in note and "two different filters" in note
    assert [ax.get_title() for ax in image_panels(fig)] == ["conv1\n8x8", "pool1\n4x4", "conv2\n4x4"]
    assert texts_outside(fig) == []


# ---------------------------------------------------------------------------
# overlay_heatmap: small maps are upsampled; the colour bar says what colours mean
# ---------------------------------------------------------------------------
def test_overlay_heatmap_upsamples_a_layers_small_map_itself(rng):
    images = rng.random((2, 8, 8, 1))
    cams = rng.random((2, 4, 4))
    fig = viz.overlay_heatmap(images, cams)
    at_input = ins.upsample_to_input(cams, (8, 8))  # what the user had to call before
    shown = np.asarray(image_panels(fig)[2].images[1].get_array())
    np.testing.assert_allclose(shown, (at_input[0] - at_input[0].min()) / np.ptp(at_input[0]))
    assert "maps upsampled from 4x4 to 8x8 (bilinear)" in fig.get_supxlabel()
    one = viz.overlay_heatmap(images[0], cams[0], show_input=False)  # one image, one (h, w) map
    np.testing.assert_allclose(image_panels(one)[0].images[1].get_array(),
                               (at_input[0] - at_input[0].min()) / np.ptp(at_input[0]))


def test_overlay_of_grad_cam_straight_from_inspect(rng):
    """viz.overlay_heatmap(x, inspect.grad_cam(model, x, c)) with the (N, h, w) map of a pooled layer."""
    model = mc.Sequential([mc.Input((8, 8, 1)), mc.Conv2D(4, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
                           mc.Flatten(), mc.Dense(3, activation="softmax")], seed=0)
    x = rng.random((3, 8, 8, 1)).astype(np.float32)
    cam = ins.grad_cam(model, x, 1, relu=False)
    assert cam.shape == (3, 4, 4)
    fig = viz.overlay_heatmap(x, cam, signed=True)
    expected = ins.upsample_to_input(cam, (8, 8))
    shown = image_panels(fig)[3].images[1].get_array()  # the first overlay
    np.testing.assert_allclose(shown, expected[0] / np.abs(expected[0]).max(), rtol=1e-6)


def test_signed_overlay_says_what_red_and_blue_mean(rng):
    fig = viz.overlay_heatmap(rng.random((2, 8, 8)), rng.normal(size=(2, 8, 8)), signed=True,
                              colorbar_label="red: evidence for the class\nblue: against it")
    (label,) = colorbar_labels(fig)
    assert flat(label).startswith("red: evidence for the class blue: against it (") and "white = 0" in flat(label)
    cbar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0]
    assert [t.get_text() for t in cbar.get_yticklabels()] == ["-max|map|", "0", "+max|map|"]


# ---------------------------------------------------------------------------
# confusion matrix: numbers readable at the saved size
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("K, largest", [(3, 7), (10, 980), (10, 12000)])
def test_confusion_matrix_numbers_are_readable_and_fit_their_cells(K, largest, rng):
    cm = rng.integers(0, 20, (K, K))
    np.fill_diagonal(cm, largest)
    fig = viz.confusion_matrix_figure(cm)
    ax = image_panels(fig)[0]
    renderer = draw(fig)
    for t in ax.texts:
        # at least 12 pixels high in the PNG (the old 7-point numbers were 9.7 pixels)
        assert t.get_fontsize() * SAVE_DPI / 72 >= 12, t.get_fontsize()
        j, i = t.get_position()
        (x0, y0), (x1, y1) = ax.transData.transform([(j - 0.5, i + 0.5), (j + 0.5, i - 0.5)])
        box = t.get_window_extent(renderer)
        assert x0 <= box.x0 and box.x1 <= x1 and y0 <= box.y0 and box.y1 <= y1, (t.get_text(), box, (x0, x1))
    assert [t.get_text() for t in ax.texts][:2] == [str(largest), str(cm[0, 1])]
    assert texts_outside(fig) == []


# ---------------------------------------------------------------------------
# the demo's report: each figure stands on its own
# ---------------------------------------------------------------------------
def _report_model(sign: float):
    """CONV-RELU-MAXP-FLATTEN-DENSE whose Dense kernel has one sign. The pooled maps A are >= 0
    (after the ReLU), and d logit / dA is the Dense kernel: all negative makes every position-averaged
    gradient negative, so Grad-CAM is 0 everywhere after its ReLU; all positive makes it positive."""
    model = mc.Sequential([mc.Input((8, 8, 1)), mc.Conv2D(4, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
                           mc.Flatten(), mc.Dense(3, activation="softmax")], seed=0)
    dense = model.layers[-1]
    dense.params["kernel"].value = (sign * np.abs(dense.params["kernel"].value)).astype(np.float32)
    return model


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_report_figures_carry_titles_labels_and_scales(sign):
    from minicnn.inspect.report import example_indices, inspection_figures

    model = _report_model(sign)
    rng = np.random.default_rng(0)
    x = rng.random((12, 8, 8, 1)).astype(np.float32)
    y = np.arange(12) % 3
    names = ["cat", "dog", "frog"]
    figures = {filename: (heading, fig) for heading, filename, fig in
               inspection_figures(model, x, y, names, n_examples=3, maximization_steps=3)}
    assert len(figures) == 8
    for filename, (heading, fig) in figures.items():
        assert fig.get_suptitle().strip() and heading, filename
        assert texts_outside(fig) == [], filename
        assert overlapping_panel_titles(fig) == [], filename

    examples = x[example_indices(y, 3)]
    pred = ins.predicted_classes(model, examples)
    expected = viz.true_and_predicted(y[example_indices(y, 3)], pred, names)
    for filename in ("saliency.png", "grad_cam.png", "hires_cam.png"):
        fig = figures[filename][1]
        assert [ax.get_title() for ax in image_panels(fig)[:3]] == expected  # "true cat / pred dog"
        if filename == "hires_cam.png" and sign < 0:  # gradient x activation <= 0 everywhere: nothing to colour
            assert [ax.get_title() for ax in image_panels(fig)[3:]] == ["map = 0 everywhere"] * 3
            assert colorbar_labels(fig) == []
        else:
            assert len(colorbar_labels(fig)) == 1

    heading, grad = figures["grad_cam.png"]
    label = flat(colorbar_labels(grad)[0])
    zero = not np.any(ins.grad_cam(model, examples, pred) > 0)
    assert zero == (sign < 0)  # the two models give the two cases
    if zero:  # shown before its ReLU: the figure itself says so, and what blue and red mean
        assert "BEFORE its ReLU" in grad.get_suptitle() and "before" in heading
        assert "blue: evidence against it" in label and "red: evidence for the predicted class" in label
        assert "<= 0 at every position" in flat(grad.get_supxlabel())
    else:
        assert "BEFORE" not in grad.get_suptitle() and "evidence for the predicted class" in label
    assert "upsampled from 4x4 to 8x8" in grad.get_supxlabel()

    assert "one scale per layer" in figures["activation_maps.png"][1].get_supxlabel()
    am = image_panels(figures["activation_maximization.png"][1])
    assert [ax.get_title().split("\n")[0] for ax in am] == ["class cat", "class dog", "class frog"]
    assert "accuracy" in figures["confusion_matrix.png"][1].get_suptitle()


# ---------------------------------------------------------------------------
# the README's "look inside" example runs as written
# ---------------------------------------------------------------------------
def test_readme_look_inside_example_runs(tmp_path, monkeypatch):
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Look inside a trained model", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    # the tour's CIFAR-10 model, smaller (16x16 images, 4 filters: quick), with the names the example uses
    model = mc.Sequential([mc.Input((16, 16, 3)), mc.Conv2D(4, 3, padding="same", name="conv2d"), mc.ReLU(),
                           mc.MaxPool2D(2), mc.Flatten(), mc.Dense(10, activation="softmax", name="dense")], seed=0)
    rng = np.random.default_rng(0)
    namespace = {"model": model, "x_test": rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8),
                 "y_test": rng.integers(0, 10, (8, 1))}  # (N, 1) labels, as keras.datasets gives them
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), namespace)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "activations.png", "class_images.png", "filters.png", "grad_cam.png", "saliency.png"]
    assert namespace["labels"][0].startswith("true ") and namespace["cam"].shape == (6, 8, 8)
