"""viz.rgb_filters / filters_as_rgb: first-layer filters as colour images, scaled per filter."""
import numpy as np
import pytest

from minicnn import viz


def test_each_filter_is_scaled_to_0_1_as_a_whole():
    kernel = np.zeros((1, 2, 3, 2))
    kernel[0, 0, :, 0] = [-1.0, 0.0, 1.0]     # filter 0: one pixel R=-1, G=0, B=1 ...
    kernel[0, 1, :, 0] = [3.0, 3.0, 3.0]      # ... and one pixel 3, 3, 3: min -1, max 3
    kernel[..., 1] = 5.0                      # filter 1: constant
    images = viz.filters_as_rgb(kernel)
    assert images.shape == (2, 1, 2, 3)
    np.testing.assert_allclose(images[0, 0], [[0.0, 0.25, 0.5], [1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(images[1], 0.0)            # constant filter: no division by zero
    # BGR kernels (Keras' ImageNet ResNet50): the planes are shown back in RGB order
    np.testing.assert_allclose(viz.filters_as_rgb(kernel, "bgr")[0, 0, 0], [0.5, 0.25, 0.0])


def test_scaling_is_per_filter_not_per_channel():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((7, 7, 3, 4))
    kernel[..., 2, 1] *= 10                   # a strong blue plane in filter 1
    images = viz.filters_as_rgb(kernel)
    for f in range(4):
        w = kernel[..., f]
        np.testing.assert_allclose(images[f], (w - w.min()) / (w.max() - w.min()))
    assert images[1, ..., 0].max() < 1.0 and images[1, ..., 2].max() == 1.0   # balance kept


def test_rgb_filters_figure(tmp_path):
    kernel = np.random.default_rng(1).standard_normal((7, 7, 3, 64))
    fig = viz.rgb_filters(kernel, channel_order="bgr", title="conv1", path=tmp_path / "f.png")
    assert len(fig.axes) == 64 and fig.axes[5].get_title() == "f5"
    assert fig.get_suptitle() == "conv1"
    assert "each filter scaled on its own" in fig.get_supxlabel() and "BGR" in fig.get_supxlabel()
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), viz.filters_as_rgb(kernel, "bgr")[5])
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ten = viz.rgb_filters(kernel, max_filters=10)
    assert len(ten.axes) == 10 and ten.get_suptitle() == "first-layer filters 7x7 as colour images: 10 of 64"


@pytest.mark.parametrize("kernel,order,match", [
    (np.zeros((3, 3, 1, 4)), "rgb", r"filters_as_rgb: kernel must be \(KH, KW, 3, F\).*\(3, 3, 1, 4\)"),
    (np.zeros((3, 3, 3)), "rgb", r"filters_as_rgb: kernel must be .*\(3, 3, 3\)"),
    (np.zeros((3, 3, 3, 2)), "brg", r"channel_order must be 'rgb' or 'bgr', got 'brg'"),
])
def test_bad_arguments(kernel, order, match):
    with pytest.raises(ValueError, match=match):
        viz.rgb_filters(kernel, channel_order=order)
