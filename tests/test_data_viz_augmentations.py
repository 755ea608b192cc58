"""show_augmentations: a headless figure, one row per transformation."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from minicnn.data import ImageAugmenter
from minicnn.data import transforms as T
from minicnn.viz.augmentations import show_augmentations


def _image(c=3):
    yy, xx = np.mgrid[:16, :16]
    img = np.stack([xx * 16, yy * 16, (xx + yy) * 8][:c], axis=-1)
    return img.astype(np.uint8)


def test_dict_of_transforms(tmp_path):
    flip = T.RandomHorizontalFlip(seed=5)
    state = flip.rng.bit_generator.state
    fig = show_augmentations(_image(), {"flip": flip, "rotate": T.RandomRotation(30),
                                        "crop": T.RandomCrop(16, padding=3)},
                             n=4, seed=0, path=tmp_path / "aug.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 5
    assert (tmp_path / "aug.png").stat().st_size > 1000
    assert flip.rng.bit_generator.state == state  # the caller's transform is not consumed


def test_image_augmenter_gets_one_row_per_knob_and_is_reproducible():
    aug = ImageAugmenter(rotation_range=20, zoom_range=0.2, horizontal_flip=True, seed=0)
    fig = show_augmentations(_image(1).astype(np.float32) / 255, aug, n=3, seed=1)
    labels = [ax.get_ylabel() for ax in fig.axes[::4]]
    assert len(labels) == 4 and labels[-1] == "all together"
    assert any("rotation_range" in s for s in labels)
    again = show_augmentations(_image(1).astype(np.float32) / 255, aug, n=3, seed=1)
    a = fig.axes[5].images[0].get_array()
    assert np.array_equal(a, again.axes[5].images[0].get_array())


def test_bad_arguments():
    with pytest.raises(ValueError, match="image must be"):
        show_augmentations(np.zeros((4, 4)), {"x": T.ToFloat()})
    with pytest.raises(TypeError, match="dict"):
        show_augmentations(_image(), [T.ToFloat()])


def test_each_panel_shows_the_transformed_image():
    img = _image()
    fig = show_augmentations(img, {"flip": T.RandomHorizontalFlip(p=1.0),
                                   "crop": T.RandomCrop(16, padding=4)}, n=3, seed=0)
    shown = [np.asarray(ax.images[0].get_array()) for ax in fig.axes]
    assert (shown[0] == img).all()  # column 0: the original
    assert all((s == img[:, ::-1]).all() for s in shown[1:4])  # p=1: every panel mirrored
    crop = T.RandomCrop(16, padding=4)
    crop.reseed(0)  # what the figure does to its own copy
    assert all((s == c).all() for s, c in zip(shown[5:8], crop(np.repeat(img[None], 3, axis=0))))
