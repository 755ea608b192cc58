"""Model files: optimizer state kept across save/load, save_weights, names, file modes, clear errors."""
import os
import pickle
import zipfile

import numpy as np
import pytest

import minicnn as mc


def small_net(seed=0):
    return mc.Sequential([mc.Input((6, 6, 1)), mc.Conv2D(3, 3), mc.ReLU(), mc.MaxPool2D(2), mc.Flatten(),
                          mc.Dense(3, activation="softmax")], seed=seed)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((40, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 40)


@pytest.mark.parametrize("make_opt", [lambda: mc.Adam(1e-2), lambda: mc.SGD(0.05, momentum=0.9)],
                         ids=["adam", "sgd_momentum"])
def test_reload_and_continue_equals_an_uninterrupted_run_bit_for_bit(tmp_path, data, make_opt):
    x, y = data

    def compiled():
        m = small_net(seed=1)
        m.compile(make_opt(), "sparse_categorical_crossentropy", ["accuracy"])
        return m

    straight = compiled()
    straight.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)

    first = compiled()
    first.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    first.save(tmp_path / "ckpt.npz")
    resumed = mc.load_model(tmp_path / "ckpt.npz")
    assert resumed.optimizer.iterations == 10  # 2 epochs x 5 batches
    resumed.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Without the optimizer's state the continuation is another training: the test can tell.
    first.save(tmp_path / "no_opt.npz", include_optimizer=False)
    restarted = mc.load_model(tmp_path / "no_opt.npz")
    assert restarted.optimizer.iterations == 0
    restarted.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(straight.get_weights(), restarted.get_weights()))


def test_optimizer_state_is_stored_under_its_prefix_without_pickle(tmp_path, data):
    x, y = data
    model = small_net()
    model.compile(mc.Adam(), "sparse_categorical_crossentropy")
    model.train_on_batch(x[:8], y[:8])
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        names = set(archive.files)
        np.testing.assert_array_equal(archive["__optimizer__/conv2d/kernel/m"],
                                      model.optimizer._state[id(model.layers[0].params["kernel"])]["m"])
        assert int(archive["__optimizer__/iterations"]) == 1
    assert {"__optimizer__/dense/bias/v", "conv2d/kernel", "__model__"} <= names


def test_save_weights_then_load_weights(tmp_path, data):
    source = small_net(seed=1)
    source.compile("adam", "sparse_categorical_crossentropy")
    source.train_on_batch(*(a[:8] for a in data))
    source.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as archive:
        assert not any(k.startswith("__optimizer__") for k in archive.files)
    target = small_net(seed=2)
    target.load_weights(tmp_path / "w.npz")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, said", [("m.h5", "ends in '.h5'"), ("m.keras", "ends in '.keras'"),
                                        ("m", "has no extension")])
def test_save_refuses_names_it_would_not_write(tmp_path, name, said):
    model = small_net()
    for save in (model.save, model.save_weights):
        with pytest.raises(ValueError, match=f"{said}; minicnn writes only .npz files") as err:
            save(tmp_path / name)
        assert "m.npz" in str(err.value)
    assert os.listdir(tmp_path) == []  # nothing written, under any name
    with pytest.raises(ValueError, match="ModelCheckpoint: .* minicnn writes only .npz"):
        mc.ModelCheckpoint(tmp_path / name)  # at construction, not after the first epoch


def test_saved_file_honours_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        small_net().save(tmp_path / "a.npz")
        os.umask(0o022)
        small_net().save_weights(tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.npz").st_mode & 0o777 == 0o640
    assert os.stat(tmp_path / "b.npz").st_mode & 0o777 == 0o644


def test_save_refuses_duplicate_layer_names(tmp_path):
    x = mc.Input((4, 4, 1))
    a = mc.Conv2D(2, 3, padding="same", name="twin")(x)
    b = mc.Conv2D(2, 3, padding="same")(x)
    b_layer = b.node.layer
    model = mc.Model(x, mc.Add()([a, b]))
    b_layer.name = "twin"  # as a user renaming a layer by hand would
    with pytest.raises(ValueError, match=r"layer names must be unique.*'twin' is used by 2 layers \(Conv2D, Conv2D\)"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# ------------------------------------------------------------------ bad files
@pytest.fixture
def saved(tmp_path):
    model = small_net()
    model.compile("adam", "sparse_categorical_crossentropy")
    path = tmp_path / "model.npz"
    model.save(path)
    return path


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*nope.npz"):
        mc.load_model(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        small_net().load_weights(tmp_path / "nope.npz")


def test_truncated_file_is_named_damaged(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[:len(data) // 2])
    for load in (mc.load_model, small_net().load_weights):
        with pytest.raises(ValueError, match=r"model.npz' is damaged.*truncated"):
            load(saved)


def test_bad_checksum_after_opening_is_named_damaged(saved):
    """The zip opens fine; one byte of a weight array is wrong, so its CRC fails when read."""
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("dense/kernel.npy")
    data = bytearray(saved.read_bytes())
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[data_start + info.file_size - 4] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model.npz' is damaged.*Bad CRC-32 for file 'dense/kernel.npy'"):
        mc.load_model(saved)


@pytest.mark.parametrize("write, says", [
    (lambda p: np.save(p, np.zeros(3)), "single NumPy array"),
    (lambda p: p.write_bytes(pickle.dumps({"weights": [1, 2]})), "pickled Python objects"),
    (lambda p: np.savez(p, __model__=np.array([{"a": 1}], dtype=object)), "pickled Python objects"),
    (lambda p: np.savez(p, a=np.zeros(3)), "without the '__model__' entry"),
    (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)), "HDF5 file"),
    (lambda p: p.write_bytes(b"hello"), "not an .npz"),
])
def test_other_files_are_not_minicnn_model_files_and_no_pickle_advice(tmp_path, write, says):
    path = tmp_path / "other.npz"
    write(path)
    if not path.exists():  # np.save appends .npy
        path = tmp_path / "other.npz.npy"
    for load in (mc.load_model, small_net().load_weights):
        with pytest.raises(ValueError, match="is not a minicnn model file") as err:
            load(path)
        assert says in str(err.value)
        assert "allow_pickle" not in str(err.value)
