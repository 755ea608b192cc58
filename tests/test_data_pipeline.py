"""Datasets, DataLoader, random_split, ImageAugmenter.flow, preprocessing helpers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _data_helpers import assert_clear_argument_error, md5, mini_idx_files
from minicnn.data import (MNIST, ArrayDataset, DataLoader, Dataset, ImageAugmenter, Standardizer,
                          load_mnist, random_split, scale_to_unit, to_categorical)
from minicnn.data import download as dl
from minicnn.data import transforms as T


def _data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 6, 5, 3), dtype=np.uint8), np.arange(n) % 4


class _CountingFlip(T.RandomHorizontalFlip):
    calls = 0

    def apply_batch(self, x):
        type(self).calls += 1
        return super().apply_batch(x)


def test_array_dataset_items_and_errors():
    x, y = _data()
    ds = ArrayDataset(x, y, transform=T.ToFloat(), target_transform=lambda v: v + 100)
    img, label = ds[3]
    assert img.shape == (6, 5, 3) and img.dtype == np.float32 and np.allclose(img, x[3] / 255)
    assert label == y[3] + 100 and isinstance(label, int)
    assert len(ds) == 10 and ds[-1][1] == y[-1] + 100
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        ArrayDataset(x, y[:-1])
    with pytest.raises(ValueError, match="ArrayDataset: transform must be None or a callable"):
        ArrayDataset(x, y, transform=3)


def test_loader_batches_labels_untouched_and_transform_once_per_batch():
    x, y = _data(10)
    _CountingFlip.calls = 0
    ds = ArrayDataset(x, y, transform=_CountingFlip(p=1.0))
    loader = DataLoader(ds, batch_size=4, shuffle=False)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[0]) for b in batches] == [4, 4, 2]
    assert _CountingFlip.calls == 3  # vectorised: one call per batch
    xb, yb = batches[1]
    assert xb.shape == (4, 6, 5, 3) and (xb == x[4:8, :, ::-1]).all() and (yb == y[4:8]).all()
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]


def test_loader_per_item_fallback_for_plain_callables():
    x, y = _data(5)
    ds = ArrayDataset(x, y, transform=lambda img: img[::-1].astype(np.float32))
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.dtype == np.float32 and (xb == x[:, ::-1]).all() and (yb == y).all()


def test_loader_shuffle_is_seeded_and_changes_between_epochs():
    x, y = _data(20)
    ds = ArrayDataset(x, np.arange(20))
    a = DataLoader(ds, batch_size=20, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=20, shuffle=True, seed=3)
    e1, e2 = next(iter(a))[1], next(iter(a))[1]
    assert (e1 == next(iter(b))[1]).all() and not (e1 == e2).all()
    assert sorted(e1) == list(range(20))
    xb, yb = next(iter(a))
    assert (xb == x[yb]).all()  # images stay with their labels


def test_loader_over_a_generic_dataset():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.full((2, 2, 1), i, np.float32), i * i

    xb, yb = list(DataLoader(Squares(), batch_size=3))[-1]
    assert xb.shape == (1, 2, 2, 1) and yb.tolist() == [36]
    a, b = random_split(Squares(), [4, 3], seed=0)
    xb, yb = next(iter(DataLoader(b, batch_size=3)))
    assert (xb[:, 0, 0, 0] ** 2 == yb).all() and sorted(yb) == sorted(np.asarray(b.indices) ** 2)
    with pytest.raises(ValueError, match="DataLoader: batch_size must be an int >= 1, got 0"):
        DataLoader(Squares(), batch_size=0)


def test_random_split():
    ds = ArrayDataset(*_data(10))
    a, b = random_split(ds, [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    assert sorted(np.r_[a.indices, b.indices]) == list(range(10))
    a2, _ = random_split(ds, [7, 3], seed=0)
    assert (a2.indices == a.indices).all()
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=1)
    assert [len(p) for p in parts] == [5, 3, 2]
    xb, yb = next(iter(DataLoader(parts[0], batch_size=5)))
    assert (xb == ds.x[parts[0].indices]).all() and (yb == ds.y[parts[0].indices]).all()
    with pytest.raises(ValueError, match="random_split"):
        random_split(ds, [5, 4])


def test_mnist_dataset_class(tmp_path, monkeypatch):
    files = mini_idx_files()
    (tmp_path / "mnist").mkdir()
    for name, data in files.items():
        (tmp_path / "mnist" / name).write_bytes(data)
    monkeypatch.setitem(dl.MD5, "mnist", {n: md5(d) for n, d in files.items()})
    train = MNIST(tmp_path, train=True, transform=T.ToFloat())
    test = MNIST(tmp_path, train=False)
    assert len(train) == 6 and len(test) == 4
    (x, y), (xt, yt) = load_mnist(root=tmp_path, download=False)
    img, label = train[2]
    assert img.shape == (28, 28, 1) and img.dtype == np.float32 and np.allclose(img, x[2] / 255)
    assert label == y[2] and isinstance(label, int) and MNIST.classes[label] == str(label)
    assert (test[3][0] == xt[3]).all() and test[3][1] == yt[3]


# ------------------------------------------------------------------ ImageAugmenter
def test_augmenter_call_keeps_shape_dtype_and_input():
    x = np.random.default_rng(0).random((8, 12, 12, 3)).astype(np.float32)
    before = x.copy()
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.2, zoom_range=0.1,
                         horizontal_flip=True, brightness_range=(0.8, 1.2), seed=0)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == np.float32 and out is not x
    assert (x == before).all() and not np.allclose(out, x)
    assert out.min() >= 0 and out.max() <= 1
    assert "rotation_range=30.0" in repr(aug)
    twin = ImageAugmenter(**aug.get_config())
    assert (twin(x) == ImageAugmenter(**aug.get_config())(x)).all()
    assert aug(x[0]).shape == (12, 12, 3)


def test_augmenter_int_pixel_shift_and_list_shift():
    aug = ImageAugmenter(width_shift_range=2, seed=0)
    tx = aug.get_random_transform(1000, 10, 10)["tx"]
    assert set(np.unique(tx)) == {-2, -1, 0, 1, 2}
    aug = ImageAugmenter(height_shift_range=[-0.5, 0.5], seed=0)
    assert set(np.unique(aug.get_random_transform(100, 10, 20)["ty"])) == {-5, 5}
    aug = ImageAugmenter(width_shift_range=0.1, seed=0)
    assert np.abs(aug.get_random_transform(100, 10, 20)["tx"]).max() <= 2


def test_flow_epochs_labels_and_next():
    x, y = _data(10)
    it = ImageAugmenter(horizontal_flip=True, seed=0).flow(x, y, batch_size=4, seed=0)
    assert len(it) == 3
    batches = list(it)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in batches])) == sorted(y)
    for xb, yb in batches:
        assert xb.dtype == np.float32 and xb.shape[1:] == (6, 5, 3)
    # next() cycles forever, like Keras: every 3 calls are one whole epoch
    for _ in range(3):
        epoch = np.concatenate([next(it)[1] for _ in range(3)])
        assert sorted(epoch) == sorted(y)
    xb = next(iter(ImageAugmenter().flow(x, batch_size=10, shuffle=False)))
    assert (xb == x.astype(np.float32)).all()  # no y: batches of x only
    with pytest.raises(ValueError, match="10 samples but y has 3"):
        ImageAugmenter().flow(x, y[:3])


def test_fit_calls_the_augmenter_on_training_batches_only():
    import minicnn as mc
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 4, 4, 1)).astype(np.float32), rng.integers(0, 2, 40)
    x[-8:] += 10.0  # validation_split takes the last 8: recognisable validation images
    seen = []

    def spy(batch):
        seen.append(np.array(batch))
        return ImageAugmenter(horizontal_flip=True, seed=0)(batch)

    model = mc.Sequential([mc.Input((4, 4, 1)), mc.Flatten(), mc.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, augment=spy, verbose=0)
    assert "val_loss" in history.history
    assert seen and all(b.dtype == np.float32 and b.max() < 10 for b in seen)
    assert sum(len(b) for b in seen) == 2 * 32  # every training sample, every epoch


@pytest.mark.parametrize("how", ["validation_split", "validation_data"])
def test_validation_data_is_never_augmented(how):
    import minicnn as mc
    rng = np.random.default_rng(1)
    x = rng.random((48, 4, 4, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(int)
    x_val, y_val = x[-16:], y[-16:]
    darken = ImageAugmenter(brightness_range=(0.0, 0.1), seed=0)  # a drastic augmentation
    model = mc.Sequential([mc.Input((4, 4, 1)), mc.Flatten(), mc.Dense(2, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if how == "validation_split":
        history = model.fit(x, y, epochs=2, batch_size=8, validation_split=1 / 3, augment=darken,
                            verbose=0, seed=0)
    else:
        history = model.fit(x[:-16], y[:-16], epochs=2, batch_size=8, validation_data=(x_val, y_val),
                            augment=darken, verbose=0, seed=0)
    clean = model.evaluate(x_val, y_val, return_dict=True)["loss"]
    darkened = model.evaluate(darken(x_val), y_val, return_dict=True)["loss"]
    assert abs(clean - darkened) > 1e-3  # so the check below can tell the two apart
    assert history.history["val_loss"][-1] == pytest.approx(clean, rel=1e-6)


@settings(max_examples=15)
@given(st.integers(1, 30), st.integers(1, 8), st.booleans(), st.integers(0, 1000))
def test_labels_stay_with_their_images(n, batch_size, shuffle, seed):
    # Image i is filled with the value i, its label is 1000 + i: whatever the
    # order and the (value-preserving) augmentation, the pairs must survive.
    x = np.repeat(np.arange(n, dtype=np.float32), 4 * 4 * 3).reshape(n, 4, 4, 3)
    y = 1000 + np.arange(n)
    flips = ImageAugmenter(horizontal_flip=True, vertical_flip=True, seed=seed)
    flows = list(flips.flow(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed))
    ds = ArrayDataset(x, y, transform=T.Compose([T.RandomHorizontalFlip(seed=seed),
                                                 T.RandomVerticalFlip(seed=seed)]))
    loaded = list(DataLoader(ds, batch_size=batch_size, shuffle=shuffle, seed=seed))
    for batches in (flows, loaded):
        labels = np.concatenate([yb for _, yb in batches])
        assert sorted(labels) == list(y) and labels.dtype == y.dtype
        for xb, yb in batches:
            assert (xb[:, 0, 0, 0] == yb - 1000).all()
        if not shuffle:
            assert (labels == y).all()


def test_flow_with_a_seed_gives_the_same_batches():
    x, y = _data(12)
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.2, horizontal_flip=True, seed=5)
    state = aug.rng.bit_generator.state
    a = list(aug.flow(x, y, batch_size=5, seed=1))
    b = list(aug.flow(x, y, batch_size=5, seed=1))
    assert all((xa == xb).all() and (ya == yb).all() for (xa, ya), (xb, yb) in zip(a, b))
    assert aug.rng.bit_generator.state == state  # the augmenter's own stream is untouched
    c = list(aug.flow(x, y, batch_size=5, seed=2))
    assert not all((xa == xc).all() for (xa, _), (xc, _) in zip(a, c))


def test_random_split_fractions_like_torchvision():
    ds = ArrayDataset(*_data(10))
    # floor(3.3) = 3 each, the remainder of 1 goes to the first part (torchvision's rule)
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34], seed=0)] == [4, 3, 3]
    assert [len(p) for p in random_split(ds, [0.25, 0.25, 0.5], seed=0)] == [3, 2, 5]  # 2, 2, 5 + 1
    with pytest.raises(ValueError, match=r"random_split: lengths .* got \[0.5, 0.6\]"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="random_split: seed must be"):
        random_split(ds, [5, 5], seed=-1)


@pytest.mark.parametrize("make, owner, arg, value", [
    (lambda: DataLoader(ArrayDataset(*_data()), batch_size=2.5), "DataLoader", "batch_size", "2.5"),
    (lambda: DataLoader(ArrayDataset(*_data()), shuffle="yes"), "DataLoader", "shuffle", "yes"),
    (lambda: DataLoader(ArrayDataset(*_data()), drop_last=None), "DataLoader", "drop_last", "None"),
    (lambda: DataLoader(ArrayDataset(*_data()), seed="a"), "DataLoader", "seed", "a"),
    (lambda: DataLoader(42), "DataLoader", "dataset", "42"),
    (lambda: ArrayDataset(*_data(), target_transform="x"), "ArrayDataset", "target_transform", "x"),
    (lambda: MNIST(train="yes"), "MNIST", "train", "yes"),
    (lambda: MNIST(download="no"), "MNIST", "download", "no"),
    (lambda: ImageAugmenter().flow(_data()[0], batch_size=0), "ImageAugmenter.flow", "batch_size", "0"),
    (lambda: ImageAugmenter().flow(_data()[0], shuffle=2), "ImageAugmenter.flow", "shuffle", "2"),
    (lambda: ImageAugmenter().flow(_data()[0], seed=1.5), "ImageAugmenter.flow", "seed", "1.5"),
    (lambda: Standardizer(epsilon=-1), "Standardizer", "epsilon", "-1"),
])
def test_every_bad_argument_is_a_clear_error(make, owner, arg, value):
    assert_clear_argument_error(make, owner, arg, value)


# ------------------------------------------------------------------ preprocessing
def test_scale_to_unit():
    x = np.array([0, 51, 255], np.uint8)
    assert scale_to_unit(x).dtype == np.float32 and np.allclose(scale_to_unit(x), [0, 0.2, 1])
    with pytest.raises(ValueError, match="0-255"):
        scale_to_unit(np.array([-1.0, 3.0]))


def test_standardizer_fits_on_training_data_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal([10, 20, 30], [1, 2, 3], size=(500, 4, 4, 3))
    x_test = rng.normal(0, 1, size=(50, 4, 4, 3))
    s = Standardizer().fit(x_train)
    z = s.transform(x_train)
    assert z.dtype == np.float32 and np.allclose(z.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    assert np.allclose(z.std(axis=(0, 1, 2)), 1, atol=1e-3)
    assert np.allclose(s.transform(x_test), (x_test - s.mean_) / s.std_, atol=1e-3)
    assert np.allclose(s.inverse_transform(z), x_train, atol=1e-3)
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(x_test)
    with pytest.raises(ValueError, match="3 channels"):
        s.transform(np.zeros((2, 4, 4, 1)))


def test_to_categorical():
    out = to_categorical([0, 2, 1], 4)
    assert out.dtype == np.float32 and out.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match=r"0\.\.2, got \[3\]"):
        to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match=r"got \[-1\]"):
        to_categorical([-1, 0], 3)
    with pytest.raises(ValueError, match="integers"):
        to_categorical([0.5, 1.0], 3)
    with pytest.raises(ValueError, match="to_categorical: num_classes must be an int >= 1, got 0"):
        to_categorical([0], 0)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1, got True"):
        to_categorical([0], True)


def test_image_augmenter_as_a_dataset_transform_works_on_whole_batches():
    x, y = _data(10)
    calls = []

    class Counting(ImageAugmenter):
        def __call__(self, batch):
            calls.append(np.shape(batch))
            return super().__call__(batch)

    ds = ArrayDataset(x, y, transform=Counting(horizontal_flip=True, seed=0))
    batches = list(DataLoader(ds, batch_size=4))
    assert calls == [(4, 6, 5, 3), (4, 6, 5, 3), (2, 6, 5, 3)]  # one call per batch
    assert all(xb.dtype == np.uint8 for xb, _ in batches)
    unlabelled = ArrayDataset(x)
    assert unlabelled[0][1] is None and next(iter(DataLoader(unlabelled, batch_size=3)))[1] is None
