"""Transforms and the affine kernel: properties (hypothesis), seeds, argument errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _data_helpers import assert_clear_argument_error
from minicnn.data import ImageAugmenter
from minicnn.data import transforms as T
from minicnn.data.affine import _warp_py, forward_matrix, warp, warp_kernel

SETTINGS = settings(derandomize=True, deadline=None, max_examples=25)


@st.composite
def batches(draw, min_side=1, max_side=10, dtypes=("uint8", "float32")):
    n = draw(st.integers(1, 4))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    c = draw(st.sampled_from([1, 3]))
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    return rng.random((n, h, w, c)).astype(dtype)


def random_transforms(seed=0):
    """One of each random transform, mild settings."""
    return [
        T.RandomHorizontalFlip(seed=seed), T.RandomVerticalFlip(seed=seed),
        T.RandomCrop(4, padding=2, seed=seed), T.RandomRotation(30, seed=seed),
        T.RandomRotation(30, interpolation="bilinear", seed=seed),
        T.RandomAffine(10, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=5, seed=seed),
        T.ColorJitter(brightness=0.5, contrast=0.5, seed=seed),
        T.RandomErasing(p=0.9, seed=seed), T.RandomErasing(p=0.9, value="random", seed=seed),
        ImageAugmenter(rotation_range=20, width_shift_range=0.2, height_shift_range=2,
                       zoom_range=0.2, shear_range=10, horizontal_flip=True, vertical_flip=True,
                       brightness_range=(0.5, 1.5), seed=seed),
    ]


# ------------------------------------------------------------------ properties
@SETTINGS
@given(batches())
def test_flipping_twice_is_the_identity(x):
    for flip, axis in ((T.RandomHorizontalFlip(p=1.0), 2), (T.RandomVerticalFlip(p=1.0), 1)):
        once = flip(x)
        assert (once == np.flip(x, axis=axis)).all()
        assert (flip(once) == x).all()
    assert (T.RandomHorizontalFlip(p=0.0)(x) == x).all()


@SETTINGS
@given(batches())
def test_zero_rotation_shift_zoom_is_the_identity(x):
    for t in (T.RandomRotation(0), T.RandomRotation(0, interpolation="bilinear"),
              T.RandomAffine(0, translate=(0, 0), scale=(1, 1), shear=0),
              ImageAugmenter(), ImageAugmenter(rotation_range=0, zoom_range=0.0, fill_mode="wrap")):
        out = t(x)
        assert out.dtype == x.dtype and (out == x).all(), t
    aug = ImageAugmenter(interpolation="bilinear")
    forward = forward_matrix(x.shape[1], x.shape[2], angle=np.zeros(len(x)))
    assert (warp(x, forward, "bilinear", "constant") == x).all()
    assert (aug.apply_transform(x, {"theta": 0.0, "tx": 0.0, "zx": 1.0}) == x).all()


@SETTINGS
@given(batches(min_side=2), st.integers(-3, 3), st.integers(-3, 3),
       st.sampled_from(["nearest", "bilinear"]))
def test_a_shift_by_k_pixels_moves_content_by_k(x, kx, ky, interpolation):
    aug = ImageAugmenter(fill_mode="constant", cval=0, interpolation=interpolation)
    out = aug.apply_transform(x, {"tx": float(kx), "ty": float(ky)})
    H, W = x.shape[1:3]
    expected = np.zeros_like(x)
    src = x[:, max(0, -ky):H - max(0, ky), max(0, -kx):W - max(0, kx)]
    expected[:, max(0, ky):max(0, ky) + src.shape[1], max(0, kx):max(0, kx) + src.shape[2]] = src
    assert (out == expected).all()


@SETTINGS
@given(batches(), st.integers(0, 3), st.integers(0, 2**16))
def test_crop_with_padding_keeps_shape_and_takes_a_window(x, pad, seed):
    N, H, W, C = x.shape
    out = T.RandomCrop((H, W), padding=pad, seed=seed)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    for n in range(N):  # each output is some H x W window of the padded image
        windows = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1)
                   if (padded[n, i:i + H, j:j + W] == out[n]).all()]
        assert windows


@SETTINGS
@given(batches(), st.integers(0, 2**16))
def test_outputs_stay_in_range_and_dtype(x, seed):
    for t in random_transforms(seed):  # (RandomCrop(4, padding=2) fits any image >= 1x1)
        out = t(x)
        assert out.dtype == x.dtype, t
        if not isinstance(t, T.RandomCrop):
            assert out.shape == x.shape, t
        assert np.isfinite(out).all()
        if not (isinstance(t, T.RandomErasing) and t.value == "random" and x.dtype != np.uint8):
            assert out.min() >= 0 and out.max() <= (255 if x.dtype == np.uint8 else 1), t
        assert (t(x[0]).shape == out.shape[1:])  # a single image works too


@SETTINGS
@given(batches(), st.integers(0, 2**16))
def test_same_seed_same_batch_and_input_untouched(x, seed):
    before = x.copy()
    for a, b in zip(random_transforms(seed), random_transforms(seed)):
        first = a(x)
        assert (first == b(x)).all(), a
        a.reseed(seed)
        assert (a(x) == first).all(), a
    assert (x == before).all()


def test_different_images_of_a_batch_get_different_draws():
    x = np.repeat(np.arange(64, dtype=np.uint8).reshape(1, 8, 8, 1), 32, axis=0)
    out = T.RandomRotation(45, seed=0)(x)
    assert len({o.tobytes() for o in out}) > 20


def test_to_float_and_normalize():
    x = np.array([[[[0, 255, 51]]]], dtype=np.uint8)
    f = T.ToFloat()(x)
    assert f.dtype == np.float32 and np.allclose(f, [0, 1, 0.2])
    z = T.Normalize((0.5, 0.5, 0.2), (0.5, 0.25, 1.0))(f)
    assert z.dtype == np.float32 and np.allclose(z, [-1, 2, 0])
    with pytest.raises(TypeError, match="ToFloat"):
        T.Normalize(0.5, 0.5)(x)
    with pytest.raises(ValueError, match="3 values but the images have 1"):
        T.Normalize((0.5, 0.5, 0.5), (1, 1, 1))(f[..., :1])
    c = T.Compose([T.ToFloat(), T.Normalize(0.5, 0.5)])
    assert c.supports_batches and np.allclose(c(x), [-1, 1, -0.6])
    assert "Normalize" in repr(c)


def test_color_jitter_factors():
    x = np.full((2, 4, 4, 3), 0.5, np.float32)
    x[:, :2] = 0.25
    same = T.ColorJitter(brightness=0, contrast=0)(x)
    assert np.allclose(same, x)
    bright = T.ColorJitter(brightness=(2.0, 2.0))(x)
    assert np.allclose(bright, np.minimum(2 * x, 1.0))
    flat = T.ColorJitter(contrast=(0.0, 0.0))(x)
    assert np.allclose(flat, flat[:, :1, :1])  # contrast 0: a uniform grey image


def test_random_erasing_blanks_a_rectangle():
    x = np.full((16, 12, 10, 3), 200, np.uint8)
    out = T.RandomErasing(p=1.0, value=(1, 2, 3), seed=0)(x)
    for o in out:
        rows, cols = np.nonzero((o == (1, 2, 3)).all(axis=-1))
        assert len(rows) > 0
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert len(rows) == h * w  # a full rectangle
    assert (T.RandomErasing(p=0.0)(x) == x).all()


def test_color_jitter_contrast_by_hand():
    # grey: mean of the image is 0.4; factor 2 -> 0.4 + 2 * (x - 0.4)
    x = np.array([0.2, 0.6], np.float32).reshape(1, 1, 2, 1)
    out = T.ColorJitter(contrast=(2.0, 2.0))(x)
    assert np.allclose(out.ravel(), [0.0, 0.8])
    # RGB: the mean is taken on the luma 0.299 R + 0.587 G + 0.114 B (torchvision's grey)
    x = np.array([[0.2, 0.4, 0.6], [0.4, 0.4, 0.4]], np.float32).reshape(1, 1, 2, 3)
    luma = (0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6 + 0.4) / 2  # 0.3815
    out = T.ColorJitter(contrast=(0.5, 0.5))(x)
    assert np.allclose(out, luma + 0.5 * (x - luma), atol=1e-6)
    # uint8: rounded, clipped to 0-255
    x8 = np.array([10, 250], np.uint8).reshape(1, 1, 2, 1)
    assert T.ColorJitter(brightness=(1.5, 1.5))(x8).ravel().tolist() == [15, 255]
    # brightness b -> factors in [1 - b, 1 + b], as torchvision
    factors = T.ColorJitter(brightness=0.3, seed=0)(np.full((500, 1, 1, 1), 0.5, np.float32)) / 0.5
    assert 0.7 <= factors.min() < 0.72 and 1.28 < factors.max() <= 1.3


def test_random_erasing_after_normalize_like_torchvision():
    x = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    norm = T.Compose([T.ToFloat(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    z = norm(x)
    erased = T.RandomErasing(p=1.0, scale=(0.5, 0.5), ratio=(1, 1), value="random", seed=0)(z)
    changed = (erased != z).any(axis=-1)
    assert changed.sum(axis=(1, 2)).min() >= 0.45 * 64 * 64  # half the area, each image
    noise = erased[changed]
    assert abs(noise.mean()) < 0.05 and 0.95 < noise.std() < 1.05  # standard normal
    zero = T.RandomErasing(p=1.0, value=0, seed=0)(z)  # 0 after Normalize = the mean colour
    assert ((zero == 0).all(axis=-1)).any(axis=(1, 2)).all()


def test_random_crop_padding_pair_is_rows_then_columns():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1).repeat(20, axis=0)
    out = T.RandomCrop(4, padding=(2, 0), seed=0)(x)  # vertical shifts only
    padded = np.pad(x[0], ((2, 2), (0, 0), (0, 0)))
    tops = {next(t for t in range(5) if (padded[t:t + 4] == o).all()) for o in out}
    assert tops == {0, 1, 2, 3, 4}
    assert (T.RandomCrop(4, padding=None)(x) == x).all()  # torchvision's default: no padding


def test_random_affine_translate_is_whole_pixels_as_torchvision():
    t = T.RandomAffine(0, translate=(0.25, 0.0), seed=0)
    p = t.sample(2000, 10, 8)  # |tx| <= 0.25 * W = 2, rounded; ty = 0
    assert set(np.unique(p["tx"])) == {-2, -1, 0, 1, 2} and not p["ty"].any()


def test_keras_zoom_range_float_means_1_minus_z_to_1_plus_z():
    p = ImageAugmenter(zoom_range=0.2, seed=0).get_random_transform(2000, 8, 8)
    for z in (p["zx"], p["zy"]):
        assert 0.8 <= z.min() < 0.81 and 1.19 < z.max() <= 1.2
    assert not np.allclose(p["zx"], p["zy"])  # drawn independently, as in Keras
    assert ImageAugmenter(zoom_range=(0.5, 0.7)).zoom_range == (0.5, 0.7)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_keras_zoom_factor_above_1_zooms_out(interpolation):
    # output (i, j) reads input (2 + 2 (i - 2), 2 + 2 (j - 2)): the content halves in size
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    aug = ImageAugmenter(fill_mode="constant", cval=0, interpolation=interpolation)
    out = aug.apply_transform(x, {"zx": 2.0, "zy": 2.0})[0, :, :, 0]
    assert out.tolist() == [[0, 0, 0, 0, 0], [0, 1, 3, 5, 0], [0, 11, 13, 15, 0],
                            [0, 21, 23, 25, 0], [0, 0, 0, 0, 0]]


def test_keras_brightness_range_multiplies_and_clips():
    aug = ImageAugmenter()
    x8 = np.array([100, 200], np.uint8).reshape(1, 1, 2, 1)
    assert aug.apply_transform(x8, {"brightness": 1.5}).ravel().tolist() == [150, 255]
    xf = np.array([0.2, 0.8], np.float32).reshape(1, 1, 2, 1)
    assert np.allclose(aug.apply_transform(xf, {"brightness": 1.5}).ravel(), [0.3, 1.0])
    z = np.array([-1.0, 2.0], np.float32).reshape(1, 1, 2, 1)  # standardised: not clipped
    assert np.allclose(aug.apply_transform(z, {"brightness": 1.5}).ravel(), [-1.5, 3.0])
    b = ImageAugmenter(brightness_range=(0.5, 1.5), seed=0).get_random_transform(1000, 4, 4)["brightness"]
    assert 0.5 <= b.min() < 0.52 and 1.48 < b.max() <= 1.5


def test_keras_shear_by_hand():
    # a pure x-shear by 45 degrees: output (i, j) reads input column j + (i - c_y) * tan(45)
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    out = ImageAugmenter(fill_mode="constant").apply_transform(x, {"shear": 45.0})[0, :, :, 0]
    for i in range(5):
        for j in range(5):
            src = j - (i - 2)
            assert out[i, j] == pytest.approx(x[0, i, src, 0] if 0 <= src < 5 else 0, abs=1e-5), (i, j)


@pytest.mark.parametrize("mode, expected", [
    ("nearest", [1, 1, 1, 2]), ("reflect", [2, 1, 1, 2]), ("wrap", [3, 4, 1, 2]), ("constant", [9, 9, 1, 2]),
])
def test_fill_modes(mode, expected):
    row = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 4, 1)
    out = ImageAugmenter(fill_mode=mode, cval=9).apply_transform(row, {"tx": 2.0})
    assert out.ravel().tolist() == expected


def test_rotation_by_90_degrees_is_counter_clockwise():
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    out = warp(x, forward_matrix(5, 5, angle=90.0))
    assert (out[0, :, :, 0] == np.rot90(x[0, :, :, 0])).all()  # np.rot90 turns counter-clockwise


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_numba_kernel_equals_plain_python(order, mode):
    rng = np.random.default_rng(order * 4 + mode)
    src = rng.random((2, 5, 6, 2)).astype(np.float32)
    fwd = forward_matrix(5, 6, angle=rng.uniform(-40, 40, 2), tx=rng.uniform(-3, 3, 2),
                         sx=rng.uniform(0.7, 1.3, 2), shear_x=rng.uniform(-10, 10, 2))
    mats = np.ascontiguousarray(np.linalg.inv(fwd)[:, :2])
    fast, slow = np.empty_like(src), np.empty_like(src)
    warp_kernel(src, mats, order, mode, 0.5, fast, 0.0, 0.0)
    _warp_py(src, mats, order, mode, 0.5, slow, 0.0, 0.0)
    assert np.allclose(fast, slow, atol=1e-6)
    src8 = (src * 255).astype(np.uint8)  # uint8 in, uint8 out: rounded and clipped
    fast8, slow8 = np.empty_like(src8), np.empty_like(src8)
    warp_kernel(src8, mats, order, mode, 7.0, fast8, 0.0, 255.0)
    _warp_py(src8, mats, order, mode, 7.0, slow8, 0.0, 255.0)
    assert (fast8 == slow8).all()
    ref = np.empty_like(src)
    warp_kernel(src8.astype(np.float32), mats, order, mode, 7.0, ref, 0.0, 0.0)
    assert (fast8 == np.clip(np.floor(ref + 0.5), 0, 255)).all()


# ------------------------------------------------------------------ argument errors
@pytest.mark.parametrize("make, owner, arg, value", [
    (lambda: T.RandomHorizontalFlip(p=1.5), "RandomHorizontalFlip", "p", "1.5"),
    (lambda: T.RandomVerticalFlip(p=-0.1), "RandomVerticalFlip", "p", "-0.1"),
    (lambda: T.RandomCrop(0), "RandomCrop", "size", "0"),
    (lambda: T.RandomCrop(8, padding=-1), "RandomCrop", "padding", "-1"),
    (lambda: T.RandomCrop((8, 2.5)), "RandomCrop", "size", "2.5"),
    (lambda: T.RandomRotation(-5), "RandomRotation", "degrees", "-5"),
    (lambda: T.RandomRotation((10, -10)), "RandomRotation", "degrees", "(10, -10)"),
    (lambda: T.RandomRotation(10, interpolation="cubic"), "RandomRotation", "interpolation", "cubic"),
    (lambda: T.RandomAffine(0, translate=(0.5, 1.5)), "RandomAffine", "translate", "1.5"),
    (lambda: T.RandomAffine(0, scale=(0, 1)), "RandomAffine", "scale", "(0, 1)"),
    (lambda: T.RandomAffine(0, shear=95), "RandomAffine", "shear", "95"),
    (lambda: T.ColorJitter(brightness=-1), "ColorJitter", "brightness", "-1"),
    (lambda: T.ColorJitter(contrast=(2, 1)), "ColorJitter", "contrast", "(2, 1)"),
    (lambda: T.RandomErasing(p=2), "RandomErasing", "p", "2"),
    (lambda: T.RandomErasing(scale=(0.5, 0.1)), "RandomErasing", "scale", "(0.5, 0.1)"),
    (lambda: T.RandomErasing(ratio=(0, 1)), "RandomErasing", "ratio", "(0, 1)"),
    (lambda: T.RandomErasing(value="noise"), "RandomErasing", "value", "noise"),
    (lambda: T.Normalize(0.5, 0), "Normalize", "std", "0"),
    (lambda: T.Normalize([0.5, float("nan")], 1), "Normalize", "mean", "nan"),
    (lambda: T.RandomCrop(8, fill="white"), "RandomCrop", "fill", "white"),
    (lambda: T.RandomAffine(0, translate=(0.1,)), "RandomAffine", "translate", "(0.1,)"),
    (lambda: T.RandomAffine(0, fill=None), "RandomAffine", "fill", "None"),
    (lambda: T.ColorJitter(brightness="x"), "ColorJitter", "brightness", "x"),
    (lambda: T.Compose([1]), "Compose", "transforms", "[1]"),
    (lambda: ImageAugmenter(rotation_range=-1), "ImageAugmenter", "rotation_range", "-1"),
    (lambda: ImageAugmenter(width_shift_range=-0.1), "ImageAugmenter", "width_shift_range", "-0.1"),
    (lambda: ImageAugmenter(height_shift_range="a"), "ImageAugmenter", "height_shift_range", "a"),
    (lambda: ImageAugmenter(zoom_range=1.5), "ImageAugmenter", "zoom_range", "1.5"),
    (lambda: ImageAugmenter(zoom_range=(0, 2)), "ImageAugmenter", "zoom_range", "(0, 2)"),
    (lambda: ImageAugmenter(shear_range=90), "ImageAugmenter", "shear_range", "90"),
    (lambda: ImageAugmenter(horizontal_flip="yes"), "ImageAugmenter", "horizontal_flip", "yes"),
    (lambda: ImageAugmenter(brightness_range=(1.5, 0.5)), "ImageAugmenter", "brightness_range", "(1.5, 0.5)"),
    (lambda: ImageAugmenter(brightness_range=0.5), "ImageAugmenter", "brightness_range", "0.5"),
    (lambda: ImageAugmenter(fill_mode="mirror"), "ImageAugmenter", "fill_mode", "mirror"),
    (lambda: ImageAugmenter(cval="x"), "ImageAugmenter", "cval", "x"),
    (lambda: ImageAugmenter(value_range=(1, 0)), "ImageAugmenter", "value_range", "(1, 0)"),
    (lambda: ImageAugmenter(value_range=(0,)), "ImageAugmenter", "value_range", "(0,)"),
    (lambda: ImageAugmenter(shear_range=-1), "ImageAugmenter", "shear_range", "-1"),
    (lambda: ImageAugmenter(zoom_range=(1.2, 0.8)), "ImageAugmenter", "zoom_range", "(1.2, 0.8)"),
    (lambda: ImageAugmenter(brightness_range=(-0.5, 1)), "ImageAugmenter", "brightness_range", "-0.5"),
    (lambda: ImageAugmenter(vertical_flip=1), "ImageAugmenter", "vertical_flip", "1"),
    (lambda: ImageAugmenter(interpolation="cubic"), "ImageAugmenter", "interpolation", "cubic"),
    (lambda: ImageAugmenter(seed="x"), "ImageAugmenter", "seed", "x"),
    (lambda: ImageAugmenter(width_shift_range=[]), "ImageAugmenter", "width_shift_range", "[]"),
    (lambda: T.RandomAffine("x"), "RandomAffine", "degrees", "x"),
    (lambda: T.RandomAffine(0, scale=(2, 1)), "RandomAffine", "scale", "(2, 1)"),
    (lambda: T.RandomAffine(0, shear=(0, 10, -95, 0)), "RandomAffine", "shear", "-95"),
    (lambda: T.RandomAffine(0, seed=-1), "RandomAffine", "seed", "-1"),
    (lambda: T.RandomRotation(10, fill="x"), "RandomRotation", "fill", "x"),
    (lambda: T.RandomHorizontalFlip(seed=1.5), "RandomHorizontalFlip", "seed", "1.5"),
    (lambda: T.RandomCrop((8, 8, 8)), "RandomCrop", "size", "(8, 8, 8)"),
    (lambda: T.RandomCrop(8, padding=(1, -1)), "RandomCrop", "padding", "(1, -1)"),
    (lambda: T.ColorJitter(contrast=-0.5), "ColorJitter", "contrast", "-0.5"),
    (lambda: T.ColorJitter(seed="s"), "ColorJitter", "seed", "s"),
    (lambda: T.RandomErasing(value=[1, "a"]), "RandomErasing", "value", "'a'"),
    (lambda: T.RandomErasing(scale=(0.1, 1.5)), "RandomErasing", "scale", "1.5"),
    (lambda: T.Normalize("a", 1), "Normalize", "mean", "a"),
    (lambda: T.Normalize([], 1), "Normalize", "mean", "[]"),
    (lambda: T.Normalize(0, [1, -1]), "Normalize", "std", "-1"),
])
def test_every_bad_argument_is_a_clear_error(make, owner, arg, value):
    assert_clear_argument_error(make, owner, arg, value)


def test_fills_that_do_not_fit_the_images_are_errors():
    x = np.zeros((2, 6, 6, 3), np.uint8)
    with pytest.raises(ValueError, match=r"RandomCrop: fill=300.0 does not fit uint8"):
        T.RandomCrop(6, padding=1, fill=300)(x)
    with pytest.raises(ValueError, match=r"RandomErasing: value=-1.0 does not fit uint8"):
        T.RandomErasing(p=1, value=-1)(x)
    with pytest.raises(ValueError, match="RandomErasing: value has 2 numbers but the images have 3"):
        T.RandomErasing(p=1, value=(1, 2))(x)
    out = T.RandomCrop(6, padding=1, fill=255, seed=0)(x)  # fits: used as is
    assert set(np.unique(out)) <= {0, 255}


def test_bad_image_shapes():
    with pytest.raises(ValueError, match=r"RandomRotation: expected an image \(H, W, C\)"):
        T.RandomRotation(10)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(10, padding=1)(np.zeros((1, 4, 4, 1), np.uint8))
