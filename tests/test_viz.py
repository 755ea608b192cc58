"""Tests of minicnn.viz: helpers against hand-computed values, figures by their
panels (axes that show an image) and by the data they draw."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")  # headless, as on CI

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from minicnn import viz
from minicnn.viz import upsample


def image_panels(fig):
    """Axes that show an image (colorbars and deleted grid cells do not count)."""
    return [ax for ax in fig.axes if ax.images]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------------------
# normalize_to_uint8
# ---------------------------------------------------------------------------
def test_normalize_whole_array_hand_values():
    # (v - (-1)) / 2 * 255: -1 -> 0, 0 -> 127.5 -> 128 (round half to even), 1 -> 255
    np.testing.assert_array_equal(viz.normalize_to_uint8(np.array([-1.0, 0.0, 1.0])), [0, 128, 255])
    # 0..3 -> 0, 85, 170, 255
    np.testing.assert_array_equal(viz.normalize_to_uint8(np.arange(4.0)), [0, 85, 170, 255])
    assert viz.normalize_to_uint8(np.arange(4.0)).dtype == np.uint8


def test_normalize_per_channel_hand_values():
    a = np.zeros((2, 2, 3))
    a[..., 0] = [[0, 1], [2, 3]]          # -> 0, 85, 170, 255
    a[..., 1] = [[10, 10], [10, 20]]      # -> 0, 0, 0, 255
    a[..., 2] = 7                         # constant channel -> 0 (no division by zero)
    out = viz.normalize_to_uint8(a, axis=-1)
    np.testing.assert_array_equal(out[..., 0], [[0, 85], [170, 255]])
    np.testing.assert_array_equal(out[..., 1], [[0, 0], [0, 255]])
    np.testing.assert_array_equal(out[..., 2], 0)
    # The whole-array version mixes the channels: channel 0 stays near black.
    whole = viz.normalize_to_uint8(a)
    assert whole[..., 0].max() == round(3 / 20 * 255)


def test_to_display():
    u8 = np.array([[0, 255]], dtype=np.uint8)
    assert viz.to_display(u8) is u8
    np.testing.assert_array_equal(viz.to_display(np.array([[0.0, 0.5]])), [[0.0, 0.5]])
    np.testing.assert_array_equal(viz.to_display(np.array([[0.0, 51.0, 255.0]])), [[0.0, 0.2, 1.0]])
    np.testing.assert_array_equal(viz.to_display(np.array([[-2.0, 0.0, 2.0]])), [[0, 128, 255]])
    assert viz.to_display(np.zeros((4, 4, 1))).shape == (4, 4)


# ---------------------------------------------------------------------------
# upsampling
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_upsample_constant_map_stays_constant(method):
    out = upsample(np.full((3, 5), 2.5), (13, 8), method=method)
    assert out.shape == (13, 8)
    np.testing.assert_allclose(out, 2.5)


def test_bilinear_2x2_hand_values():
    # Half-pixel centres: output i sits at source (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    # clamped to [0, 1]: weights of the second pixel 0, 0.25, 0.75, 1 along each axis.
    # rows of [[0, 1], [2, 3]] -> [0,1], [0.5,1.5], [1.5,2.5], [2,3]; then the same along columns.
    expected = [[0.0, 0.25, 0.75, 1.0],
                [0.5, 0.75, 1.25, 1.5],
                [1.5, 1.75, 2.25, 2.5],
                [2.0, 2.25, 2.75, 3.0]]
    np.testing.assert_allclose(viz.upsample_bilinear([[0, 1], [2, 3]], (4, 4)), expected)
    # Channels are interpolated independently.
    two = np.stack([np.array([[0, 1], [2, 3]]), 10 * np.array([[0, 1], [2, 3]])], axis=-1)
    out = upsample(two, (4, 4))
    np.testing.assert_allclose(out[..., 1], 10 * np.array(expected))


def test_nearest_hand_values():
    # source index = floor(i * 2 / 4) = 0, 0, 1, 1 (rows); floor(j * 2 / 3) = 0, 0, 1 (cols)
    np.testing.assert_array_equal(viz.upsample_nearest([[1, 2], [3, 4]], (4, 3)),
                                  [[1, 1, 2], [1, 1, 2], [3, 3, 4], [3, 3, 4]])


def test_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    m = np.random.default_rng(1).random((3, 5))
    ref = torch.nn.functional.interpolate(torch.tensor(m)[None, None], size=(7, 12), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upsample(m, (7, 12)), ref, atol=1e-12)


def test_upsample_bad_input():
    with pytest.raises(ValueError, match=r"upsample_bilinear: map must be .* got shape \(1, 2, 3, 4\)"):
        upsample(np.zeros((1, 2, 3, 4)), (8, 8))
    with pytest.raises(ValueError, match="upsample: method"):
        upsample(np.zeros((2, 2)), (4, 4), method="cubic")
    with pytest.raises(ValueError, match="upsample_nearest: size"):
        upsample(np.zeros((2, 2)), 4, method="nearest")


# ---------------------------------------------------------------------------
# figures: panels and the data they show
# ---------------------------------------------------------------------------
def test_image_grid_panels_and_titles(rng):
    images = rng.integers(0, 256, size=(7, 8, 8, 3)).astype(np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    preds = np.eye(3)[[0, 1, 0, 0, 1, 2, 1]]  # (N, K) scores are argmax-ed; 3rd and 7th wrong
    fig = viz.image_grid(images, labels, class_names=["cat", "dog", "frog"], ncols=4, predictions=preds)
    assert isinstance(fig, Figure)
    panels = image_panels(fig)
    assert len(panels) == 7 and len(fig.axes) == 7  # the 8th grid cell is removed
    assert panels[2].get_title() == "true frog / pred cat"
    colors = [ax.title.get_color() for ax in panels]
    assert colors.count("red") == 2 and colors.count("green") == 5
    np.testing.assert_array_equal(panels[0].images[0].get_array(), images[0])
    gray = viz.image_grid(rng.random((3, 5, 5)), max_images=2)  # (N, H, W) floats
    with pytest.raises(ValueError, match=r"image_grid: labels hold classes 0..2 but class_names has 2 names"):
        viz.image_grid(images, labels, class_names=["cat", "dog"])
    with pytest.raises(ValueError, match=r"image_grid: 3 labels for 7 images"):
        viz.image_grid(images, labels[:3])
    assert len(image_panels(gray)) == 2


def test_filter_grid_per_channel(rng):
    kernel = rng.normal(size=(3, 3, 3, 5))
    fig = viz.filter_grid(kernel)
    panels = image_panels(fig)
    assert len(panels) == 3 * 5
    # row = input channel, column = filter; each panel normalised on its own to 0..255
    shown = np.asarray(panels[1 * 5 + 4].images[0].get_array())  # channel G, filter 4
    np.testing.assert_array_equal(shown, viz.normalize_to_uint8(kernel[:, :, 1, 4]))
    assert shown.min() == 0 and shown.max() == 255
    assert panels[5].get_ylabel() == "G"


def test_filter_grid_rgb(rng):
    kernel = rng.normal(size=(7, 7, 3, 10))
    fig = viz.filter_grid(kernel, mode="rgb", max_filters=6)
    panels = image_panels(fig)
    assert len(panels) == 6
    shown = np.asarray(panels[2].images[0].get_array())
    assert shown.shape == (7, 7, 3)
    np.testing.assert_array_equal(shown, viz.normalize_to_uint8(kernel[..., 2]))  # one min/max per filter


def test_filter_grid_per_channel_wraps_into_blocks(rng):
    """32 filters of an RGB input: blocks of ncols filters, each block one row per channel."""
    kernel = rng.normal(size=(3, 3, 3, 20))
    fig = viz.filter_grid(kernel, ncols=8)
    panels = image_panels(fig)
    assert len(panels) == 3 * 20 and len(fig.axes) == 3 * 20  # the empty cells of the last block are removed
    # block 1 (filters 8..15), channel B, column 2 -> filter 10
    cell = fig.axes[(1 * 3 + 2) * 8 + 2]
    np.testing.assert_array_equal(cell.images[0].get_array(), viz.normalize_to_uint8(kernel[:, :, 2, 10]))
    assert cell.get_ylabel() == "" and fig.axes[(1 * 3 + 2) * 8].get_ylabel() == "B"
    assert fig.axes[(1 * 3 + 0) * 8 + 2].get_title() == "f10"
    gray = viz.filter_grid(rng.normal(size=(3, 3, 1, 32)))
    assert len(image_panels(gray)) == 32 and all(ax.get_ylabel() == "" for ax in gray.axes)


def test_filter_grid_bad_input():
    with pytest.raises(ValueError, match=r"filter_grid: mode='rgb' needs C_in == 3.*\(3, 3, 1, 4\)"):
        viz.filter_grid(np.zeros((3, 3, 1, 4)), mode="rgb")
    with pytest.raises(ValueError, match=r"filter_grid: kernel must be \(KH, KW, C_in, F\), got shape \(3, 3, 4\)"):
        viz.filter_grid(np.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match="filter_grid: mode must be"):
        viz.filter_grid(np.zeros((3, 3, 3, 4)), mode="gray")


def test_dense_weight_images_per_channel(rng):
    kernel = rng.normal(size=(8 * 8 * 3, 4))
    kernel[0::3] *= 100  # the R weights are much larger: per-channel normalisation still spans 0..255 in G
    fig = viz.dense_weight_images(kernel, image_shape=(8, 8, 3), class_names=list("abcd"))
    panels = image_panels(fig)
    assert len(panels) == 4 and panels[3].get_title() == "d"
    shown = np.asarray(panels[0].images[0].get_array())
    assert shown.shape == (8, 8, 3)
    for c in range(3):
        assert shown[..., c].min() == 0 and shown[..., c].max() == 255
    np.testing.assert_array_equal(shown, viz.normalize_to_uint8(kernel[:, 0].reshape(8, 8, 3), axis=-1))
    # the reshape is the engine's Flatten order: unit u's output is sum(image * weight image u)
    import minicnn as mc
    model = mc.Sequential([mc.Input((8, 8, 3)), mc.Flatten(), mc.Dense(4)], seed=0)
    model.layers[-1].params["kernel"].value = kernel.astype(np.float32)
    x = rng.random((1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x)[0, 2], (x[0] * kernel[:, 2].reshape(8, 8, 3)).sum(), rtol=1e-4)
    with pytest.raises(ValueError,
                       match=r"dense_weight_images: kernel must be \(H\*W\*C, units\) = \(3072, units\).*\(100, 10\)"):
        viz.dense_weight_images(np.zeros((100, 10)))


def test_activation_maps(rng):
    maps = rng.random((1, 6, 6, 10))
    fig = viz.activation_maps(maps, max_maps=4, ncols=2)
    panels = image_panels(fig)
    assert len(panels) == 4
    np.testing.assert_array_equal(panels[3].images[0].get_array(), maps[0, :, :, 3])
    assert len(image_panels(viz.activation_maps(maps[0]))) == 10
    dead = maps.copy()
    dead[..., 1] = 0  # a filter the ReLU silenced on this image
    panels = image_panels(viz.activation_maps(dead, max_maps=3))
    assert panels[1].get_title() == "filter 1: all 0" and panels[0].get_title() == "filter 0"
    with pytest.raises(ValueError, match=r"activation_maps: maps must be .* got shape \(2, 6, 6, 10\)"):
        viz.activation_maps(rng.random((2, 6, 6, 10)))


def test_all_activation_maps(rng):
    layers = {"conv1": rng.random((8, 8, 10)), "pool1": rng.random((1, 4, 4, 10)),
              "conv2": rng.random((4, 4, 3))}
    fig = viz.all_activation_maps(layers, max_maps=8)
    assert len(image_panels(fig)) == 8 + 8 + 3  # one row per layer
    one = viz.all_activation_maps(layers, filter_index=2)
    panels = image_panels(one)
    assert len(panels) == 3  # the same filter in each layer
    np.testing.assert_array_equal(panels[1].images[0].get_array(), layers["pool1"][0, :, :, 2])
    with pytest.raises(ValueError, match=r"filter_index 5 out of range for layer 'conv2' with 3 channels"):
        viz.all_activation_maps(layers, filter_index=5)
    with pytest.raises(ValueError, match=r"no layer has an image-shaped output .* got fc \(128,\)"):
        viz.all_activation_maps({"fc": np.zeros((1, 128))})
    with pytest.raises(ValueError, match=r"layers\['x'\] must be \(H, W, F\) .* got shape \(1, 2, 3, 4, 5\)"):
        viz.all_activation_maps({"x": np.zeros((1, 2, 3, 4, 5))})


def test_activation_maximization_grid(rng):
    fig = viz.activation_maximization_grid(rng.normal(size=(5, 10, 10, 1)) * 40, titles=list("abcde"))
    panels = image_panels(fig)
    assert len(panels) == 5 and panels[4].get_title() == "e"
    shown = np.asarray(panels[0].images[0].get_array())
    assert shown.min() == 0 and shown.max() == 255  # each image min-max scaled
    with pytest.raises(ValueError, match="2 titles for 5 images"):
        viz.activation_maximization_grid(rng.normal(size=(5, 10, 10, 1)), titles=["a", "b"])


def test_overlay_heatmap(rng):
    images = rng.integers(0, 256, size=(3, 16, 16, 3)).astype(np.uint8)
    heat = np.stack([upsample(rng.random((4, 4)), (16, 16)) for _ in range(3)])
    fig = viz.overlay_heatmap(images, heat, alpha=0.5, titles=["a", "b", "c"])
    panels = image_panels(fig)
    assert len(panels) == 6  # input and overlay for each image
    # one column per image: row 0 the inputs (with the titles), row 1 the overlays
    assert [p.get_title() for p in panels[:3]] == ["a", "b", "c"]
    overlay = panels[3].images[1]
    assert overlay.get_alpha() == 0.5
    shown = np.asarray(overlay.get_array())
    assert shown.min() == 0 and shown.max() == 1  # heatmap scaled to [0, 1]
    np.testing.assert_allclose(shown, (heat[0] - heat[0].min()) / np.ptp(heat[0]))
    assert len(image_panels(viz.overlay_heatmap(images[0], heat[0], show_input=False))) == 1
    # more images than ncols wrap into a second block of (input, overlay) rows
    wrapped = viz.overlay_heatmap(np.repeat(images, 3, axis=0), np.repeat(heat, 3, axis=0), ncols=4)
    assert len(image_panels(wrapped)) == 18
    with pytest.raises(ValueError, match=r"overlay_heatmap: heatmaps \(3, 32, 32\) are larger than the images' "
                                         r"\(N, H, W\) = \(3, 16, 16\); .*inspect.upsample_to_input"):
        viz.overlay_heatmap(images, rng.random((3, 32, 32)))
    with pytest.raises(ValueError, match=r"overlay_heatmap: 2 heatmaps \(2, 4, 4\) for 3 images"):
        viz.overlay_heatmap(images, rng.random((2, 4, 4)))
    with pytest.raises(ValueError, match="overlay_heatmap: 2 titles for 3 images"):
        viz.overlay_heatmap(images, heat, titles=["a", "b"])


def test_overlay_of_signed_maps_keeps_zero_at_the_centre(rng):
    """A CAM before its ReLU: divided by its largest |value|, 0 stays white in a diverging map."""
    images = rng.random((2, 8, 8, 1))
    heat = np.stack([np.linspace(-1.0, 3.0, 64).reshape(8, 8), -rng.random((8, 8))])
    panels = image_panels(viz.overlay_heatmap(images, heat, signed=True))
    first, second = panels[2].images[1], panels[3].images[1]
    np.testing.assert_allclose(first.get_array(), heat[0] / 3.0)  # -1/3 .. 1, zero kept at zero
    assert first.get_clim() == (-1, 1) and first.get_cmap().name == "RdBu_r"
    assert np.asarray(second.get_array()).max() < 0  # an all-negative map stays all blue


def test_overlay_of_a_constant_map_says_so_instead_of_tinting(rng):
    """A Grad-CAM that is 0 everywhere must not look like 'attention everywhere'."""
    images = rng.random((2, 8, 8, 1))
    heat = np.stack([np.zeros((8, 8)), rng.random((8, 8))])
    panels = image_panels(viz.overlay_heatmap(images, heat))
    assert len(panels[2].images) == 1 and panels[2].get_title() == "map = 0 everywhere"
    assert len(panels[3].images) == 2


def test_confusion_matrix_figure_numbers():
    cm = np.array([[3, 1], [0, 4]])
    fig = viz.confusion_matrix_figure(cm, class_names=["a", "b"], normalize=True)
    assert len(image_panels(fig)) == 1
    ax = image_panels(fig)[0]
    # rows divided by their totals: [3, 1] / 4 = 0.75, 0.25 ; [0, 4] / 4 = 0, 1
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "1.00"]
    raw = image_panels(viz.confusion_matrix_figure(cm))[0]
    assert [t.get_text() for t in raw.texts] == ["3", "1", "0", "4"]
    with pytest.raises(ValueError, match=r"confusion_matrix_figure: cm must be square .* \(2, 3\)"):
        viz.confusion_matrix_figure(np.zeros((2, 3)))


def test_tsne_scatter(rng):
    points, labels = rng.normal(size=(60, 2)), np.repeat([0, 1, 2], 20)
    fig = viz.tsne_scatter(points, labels, class_names=["x", "y", "z"])
    ax = fig.axes[0]
    assert len(image_panels(fig)) == 0 and len(ax.collections) == 3  # one scatter per class
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "z"]
    np.testing.assert_array_equal(ax.collections[1].get_offsets(), points[20:40])
    with pytest.raises(ValueError, match=r"tsne_scatter: points must be \(N, 2\), got shape \(60, 3\)"):
        viz.tsne_scatter(rng.normal(size=(60, 3)), labels)


def test_filter_statistics_figure(rng):
    mean = rng.random((4, 6))
    modes = rng.integers(0, 6, size=(4, 7, 7))
    fig = viz.filter_statistics_figure(mean, modes, class_names=list("0123"))
    panels = image_panels(fig)
    assert len(panels) == 1 + 4  # mean heatmap + one mode map per class
    np.testing.assert_array_equal(panels[0].images[0].get_array(), mean)
    per_filter = image_panels(viz.filter_statistics_figure(mean, modes, normalize="filter"))[0]
    np.testing.assert_allclose(per_filter.images[0].get_array(), mean / mean.max(axis=0))
    with pytest.raises(ValueError, match="normalize must be 'none' or 'filter'"):
        viz.filter_statistics_figure(mean, modes, normalize="class")
    with pytest.raises(ValueError, match=r"mode_maps must be \(K, H, W\) with K = 4, got shape \(3, 7, 7\)"):
        viz.filter_statistics_figure(mean, modes[:3])
    with pytest.raises(ValueError, match="filter indices 0..5"):
        viz.filter_statistics_figure(mean, modes + 1)


def test_filter_statistics_figure_gives_each_winning_filter_its_own_colour():
    """32 filters: tab20 alone would paint filters 0 and 20 alike; only winners get colours."""
    K, F = 3, 32
    modes = np.zeros((K, 4, 4), dtype=int)
    modes[0], modes[1, :2], modes[2] = 20, 31, 7
    fig = viz.filter_statistics_figure(np.ones((K, F)), modes)
    panels = image_panels(fig)[1:]
    cmap = panels[0].images[0].get_cmap()
    shown = [cmap(panels[k].images[0].norm(np.asarray(panels[k].images[0].get_array()))) for k in range(K)]
    colours = {tuple(np.round(c[0, 0], 6)) for c in shown} | {tuple(np.round(shown[1][-1, -1], 6))}
    assert len(colours) == 4  # filters 0, 7, 20, 31: four different colours
    cbar = [ax for ax in fig.axes if ax.get_ylabel() == "most active filter (mode)"][0]
    assert [t.get_text() for t in cbar.get_yticklabels()] == ["0", "7", "20", "31"]


# ---------------------------------------------------------------------------
# learning curves
# ---------------------------------------------------------------------------
class FakeHistory:
    def __init__(self, history):
        self.history = history


def run(offset=0.0, val=True):
    h = {"loss": [1.0 + offset, 0.6 + offset, 0.4 + offset], "accuracy": [0.5, 0.7, 0.8 + offset]}
    if val:
        h.update(val_loss=[1.1, 0.8, 0.7], val_accuracy=[0.45, 0.6, 0.65])
    return h


def test_learning_curves_single_run():
    fig = viz.learning_curves(FakeHistory(run()))
    assert len(fig.axes) == 2
    loss_ax = fig.axes[0]
    assert len(loss_ax.lines) == 2  # train and validation
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])  # epochs from 1
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), [1.1, 0.8, 0.7])
    assert loss_ax.lines[1].get_linestyle() == "--"


def test_learning_curves_mean_and_band():
    runs = [run(0.0), run(0.2), run(0.4)]
    fig = viz.learning_curves(runs, metrics=("loss",), split="train")
    ax = fig.axes[0]
    # mean of 1.0, 1.2, 1.4 = 1.2 ; 0.6, 0.8, 1.0 -> 0.8 ; 0.4, 0.6, 0.8 -> 0.6
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.2, 0.8, 0.6])
    assert len(ax.collections) == 1  # the +/- std band
    # std of (1.0, 1.2, 1.4) = sqrt(((-0.2)^2 + 0 + 0.2^2) / 3) = 0.1633: band from 1.0367 to 1.3633
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(1.2 + np.sqrt(0.08 / 3))


def test_learning_curves_dict_of_configs_and_splits():
    configs = {"plain": run(0.0), "augment": [run(0.1), run(0.3)], "dropout": FakeHistory(run(0.2)),
               "both": run(0.5)}
    fig = viz.learning_curves(configs, split="train")
    assert len(fig.axes) == 2 and all(len(ax.lines) == 4 for ax in fig.axes)
    colours = {line.get_color() for line in fig.axes[0].lines}
    assert len(colours) == 4  # one colour per configuration
    separate = viz.learning_curves(configs, split="separate")
    assert len(separate.axes) == 4  # (train, val) x (loss, accuracy)
    assert separate.axes[2].get_title() == "validation loss"
    with pytest.raises(ValueError, match="none of the metrics"):
        viz.learning_curves(run(val=False), split="val")
    with pytest.raises(ValueError, match="split must be"):
        viz.learning_curves(run(), split="test")


def test_learning_curves_all_splits_draws_test_curves_dotted():
    history = dict(run(0.0), test_loss=[1.3, 0.9, 0.85], test_accuracy=[0.4, 0.5, 0.55])
    fig = viz.learning_curves(history, split="all")
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation", "test"]
    assert [line.get_linestyle() for line in loss_ax.lines] == ["-", "--", ":"]
    np.testing.assert_array_equal(loss_ax.lines[2].get_ydata(), [1.3, 0.9, 0.85])
    assert loss_ax.get_title() == "loss"
    # a history without test values: train and validation only
    assert len(viz.learning_curves(run(0.0), split="all").axes[0].lines) == 2


# ---------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------
def test_saving_writes_a_readable_png(tmp_path, rng):
    path = tmp_path / "sub" / "filters.png"
    fig = viz.filter_grid(rng.normal(size=(3, 3, 3, 4)), path=path)
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 10
    assert [p.name for p in path.parent.iterdir()] == ["filters.png"]  # no temporary file left
    viz.learning_curves(run(), path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_learning_curves_with_the_engines_history():
    callbacks = pytest.importorskip("minicnn.callbacks")
    h = callbacks.History()
    for epoch, logs in enumerate([{"loss": 0.9, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.5},
                                  {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.7, "val_accuracy": 0.7}]):
        h.on_epoch_end(epoch, logs)
    fig = viz.learning_curves(h, metrics="accuracy")
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.6, 0.8])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [0.5, 0.7])


def test_figures_need_no_display_and_no_pyplot(tmp_path):
    """Headless: in a fresh interpreter without DISPLAY, every figure is drawn and saved,
    and pyplot (global state, GUI backends) is never imported."""
    import subprocess
    import sys
    code = f"""
import sys, numpy as np
from minicnn import viz
r = np.random.default_rng(0)
figs = [viz.image_grid(r.random((3, 8, 8, 3))), viz.filter_grid(r.normal(size=(3, 3, 3, 4))),
        viz.filter_grid(r.normal(size=(3, 3, 3, 4)), mode="rgb"),
        viz.dense_weight_images(r.normal(size=(48, 2)), (4, 4, 3)),
        viz.activation_maps(r.random((5, 5, 3))), viz.all_activation_maps({{"a": r.random((5, 5, 3))}}),
        viz.activation_maximization_grid(r.random((2, 5, 5, 1))),
        viz.overlay_heatmap(r.random((2, 5, 5)), r.random((2, 5, 5))),
        viz.confusion_matrix_figure(np.eye(3)), viz.tsne_scatter(r.random((6, 2)), [0, 1, 2, 0, 1, 2]),
        viz.filter_statistics_figure(r.random((2, 3)), r.integers(0, 3, (2, 4, 4))),
        viz.learning_curves({{"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}}, metrics="loss")]
for i, f in enumerate(figs):
    viz.figures.finish(f, r"{tmp_path}/f%d.png" % i)
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
sys.stdout.write(str(len(figs)))  # the parent test asserts on it
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "12" and len(list(tmp_path.glob("f*.png"))) == 12
