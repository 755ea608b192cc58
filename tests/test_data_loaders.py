"""Loaders: digits, class names, data root, find_local_data; and the real files
in ../shared/data (skipped when absent): checksums, first labels, pixel means."""
from __future__ import annotations

import os

import numpy as np
import pytest

from _data_helpers import closed_port_url, mini_idx_files, shared_data
from minicnn.data import DatasetError
from minicnn.data import (CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES, class_names,
                          data_root, find_local_data, load_cifar10, load_digits,
                          load_fashion_mnist, load_mnist)
from minicnn.data import download as dl

SHARED = shared_data()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data (offline copies) absent")


def test_digits_split_is_fixed_stratified_and_scaled():
    (x, y), (xt, yt) = load_digits()
    assert x.shape == (1437, 8, 8, 1) and xt.shape == (360, 8, 8, 1)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert x.max() == 255 and x.min() == 0
    # stratified: every digit ~ 20 % of its images in the test part
    counts_test, counts_all = np.bincount(yt, minlength=10), np.bincount(np.r_[y, yt], minlength=10)
    assert np.all(np.abs(counts_test / counts_all - 0.2) < 0.02)
    (x2, y2), _ = load_digits()
    assert (x2 == x).all() and (y2 == y).all()  # seed 0: always the same split


@pytest.mark.parametrize("kwargs, arg, value", [({"test_fraction": 1.5}, "test_fraction", "1.5"),
                                               ({"test_fraction": 0}, "test_fraction", "0"),
                                               ({"seed": "a"}, "seed", "a")])
def test_digits_bad_arguments(kwargs, arg, value):
    with pytest.raises(ValueError, match=f"load_digits: {arg} must be .*{value}"):
        load_digits(**kwargs)


def test_class_names():
    assert class_names("cifar10")[3] == "cat" and class_names("CIFAR-10") == CIFAR10_CLASSES
    assert class_names("fashion-mnist")[9] == "Ankle boot" and len(FASHION_MNIST_CLASSES) == 10
    assert class_names("mnist") == MNIST_CLASSES == tuple("0123456789")
    assert class_names("digits") == MNIST_CLASSES
    with pytest.raises(ValueError, match="unknown dataset"):
        class_names("svhn")


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.delenv("MINICNN_DATA", raising=False)
    assert str(data_root()).endswith(".cache/minicnn")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"


def test_find_local_data_prefers_root_then_shared(monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    (shared / "mnist").mkdir(parents=True)
    files = mini_idx_files()
    for name, data in files.items():
        (shared / "mnist" / name).write_bytes(data)
    monkeypatch.setenv("MINICNN_SHARED_DATA", str(shared))
    empty = tmp_path / "cache"
    assert find_local_data("mnist", root=empty) == shared
    assert find_local_data("fashion_mnist", root=empty) == empty  # not in the shared copy
    md5s = {n: dl.md5sum(shared / "mnist" / n) for n in files}
    (x, _), _ = load_mnist(root=find_local_data("mnist", root=empty), download=False, md5s=md5s)
    assert x.shape == (6, 28, 28, 1)
    (empty / "mnist").mkdir(parents=True)
    for name, data in files.items():
        (empty / "mnist" / name).write_bytes(data)
    assert find_local_data("mnist", root=empty) == empty


# ------------------------------------------------------------------ real data
@needs_shared
@pytest.mark.realdata
@pytest.mark.parametrize("name, folder", [("mnist", "mnist"), ("fashion_mnist", "fashion-mnist")])
def test_real_files_pass_their_published_md5(name, folder):
    for filename, expected in dl.MD5[name].items():
        assert dl.md5sum(SHARED / folder / filename) == expected


@needs_shared
@pytest.mark.realdata
@pytest.mark.parametrize("loader, first, mean", [
    (load_mnist, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], 33.32),
    (load_fashion_mnist, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], 72.94),
])
def test_real_mnist_and_fashion(loader, first, mean):
    (x, y), (xt, yt) = loader(root=SHARED, download=False)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert y[:10].tolist() == first
    assert abs(x.mean() - mean) < 0.005
    assert set(np.unique(y)) == set(range(10)) and np.bincount(yt).sum() == 10000


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """CIFAR-10 written by ../shared/data/prepare_cifar10.py, once per session (~11 s),
    through find_local_data (which is what runs the script)."""
    if SHARED is None:
        pytest.skip("../shared/data (offline copies) absent")
    root = tmp_path_factory.mktemp("cifar-root")
    old = os.environ.get("MINICNN_SHARED_DATA")
    os.environ["MINICNN_SHARED_DATA"] = str(SHARED)
    try:
        assert find_local_data("cifar10", root=root) == root
    finally:
        if old is None:
            del os.environ["MINICNN_SHARED_DATA"]
        else:
            os.environ["MINICNN_SHARED_DATA"] = old
    return root


@pytest.mark.realdata
def test_real_cifar10(cifar_root):
    assert sorted(p.name for p in (cifar_root / "cifar-10-batches-bin").iterdir())[:2] == [
        "batches.meta.txt", "data_batch_1.bin"]
    assert not [p for p in cifar_root.iterdir() if p.name.startswith(".")]  # scratch folder gone
    (x, y), (xt, yt) = load_cifar10(root=cifar_root, download=False)
    assert x.shape == (50000, 32, 32, 3) and xt.shape == (10000, 32, 32, 3) and x.dtype == np.uint8
    assert y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert np.allclose(x.reshape(-1, 3).mean(axis=0), [125.3, 123.0, 113.9], atol=0.3)
    assert (np.bincount(yt) == 1000).all()
    assert find_local_data("cifar10", root=cifar_root) == cifar_root  # second call: no work


@needs_shared
def test_default_root_falls_back_to_the_offline_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))           # an empty cache
    monkeypatch.setenv("MINICNN_SHARED_DATA", str(SHARED))
    import minicnn.data.download as download_mod
    monkeypatch.setitem(download_mod.MIRRORS, "mnist", [closed_port_url()])  # no network either
    (x, y), _ = load_mnist()
    assert x.shape == (60000, 28, 28, 1) and list(y[:3]) == [5, 0, 4]
    with pytest.raises(DatasetError):                             # an explicit root means that root
        load_mnist(root=tmp_path)


@needs_shared
def test_cifar_fallback_says_it_is_the_jpeg_copy(cifar_root, monkeypatch, tmp_path):
    import minicnn.data.loaders as loaders
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))
    monkeypatch.setenv("MINICNN_SHARED_DATA", str(SHARED))
    monkeypatch.setattr(loaders, "find_local_data", lambda name: cifar_root)  # skip the 11 s prepare
    with pytest.warns(UserWarning, match=r"JPEG-derived.*CIFAR-10 \(JPEG copy\)"):
        (x, _), _ = load_cifar10()
    assert x.shape == (50000, 32, 32, 3)
