"""minicnn.applications: ResNet50's graph, Keras .h5 weights, ImageNet pre/post-processing.

No network. The weight files are written here in Keras' HDF5 layout with
random values; the architecture is written a second time below, from Keras'
source and independently of minicnn (``keras_resnet50_spec``,
``numpy_resnet50``), and the model's output is compared with that NumPy
forward pass (and with PyTorch's functional ops when torch is installed).
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import minicnn as mc
from _data_helpers import LocalServer, closed_port_url, md5
from minicnn.applications import (ResNet50, WeightFileError, decode_predictions, imagenet, load_keras_h5,
                                  preprocess_input, read_keras_h5, resnet50)
from minicnn.data import DatasetError
from minicnn.ops.padding import zero_pad2d_backward, zero_pad2d_forward

h5py = pytest.importorskip("h5py")

EPS = 1.001e-5
STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2), ("conv5", 512, 3, 2))
SMALL = (64, 64, 3)  # small images: the architecture is what is checked, not the 224x224 cost


# ----------------------------------------------------------------- the spec
def keras_resnet50_spec(include_top=True, top_name="predictions"):
    """[(layer name, {param: shape})] in the order of Keras' ``model.layers``,
    written from keras/src/applications/resnet.py (not from minicnn)."""
    def conv(k, cin, cout):
        return {"kernel": (k, k, cin, cout), "bias": (cout,)}

    def bn(c):
        return {p: (c,) for p in ("gamma", "beta", "moving_mean", "moving_variance")}

    spec = [("input_1", {}), ("conv1_pad", {}), ("conv1_conv", conv(7, 3, 64)), ("conv1_bn", bn(64)),
            ("conv1_relu", {}), ("pool1_pad", {}), ("pool1_pool", {})]
    cin = 64
    for stage, f, blocks, _ in STAGES:
        for b in range(1, blocks + 1):
            n = f"{stage}_block{b}"
            spec += [(f"{n}_1_conv", conv(1, cin, f)), (f"{n}_1_bn", bn(f)), (f"{n}_1_relu", {}),
                     (f"{n}_2_conv", conv(3, f, f)), (f"{n}_2_bn", bn(f)), (f"{n}_2_relu", {})]
            if b == 1:
                spec += [(f"{n}_0_conv", conv(1, cin, 4 * f))]
            spec += [(f"{n}_3_conv", conv(1, f, 4 * f))]
            if b == 1:
                spec += [(f"{n}_0_bn", bn(4 * f))]
            spec += [(f"{n}_3_bn", bn(4 * f)), (f"{n}_add", {}), (f"{n}_out", {})]
            cin = 4 * f
    if include_top:
        spec += [("avg_pool", {}), (top_name, {"kernel": (2048, 1000), "bias": (1000,)})]
    return spec


def random_weights(spec, seed=0):
    """Random values that keep activations of order 1 through 16 residual blocks."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, params in spec:
        if not params:
            continue
        arrays = {}
        for p, shape in params.items():
            if p == "kernel":
                fan_in = int(np.prod(shape[:-1]))
                arrays[p] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2 / fan_in))
            elif p == "gamma":  # the last BN of a block scaled down: the residual sum stays tame
                arrays[p] = rng.uniform(0.1, 0.3 if name.endswith("_3_bn") else 1.0, shape).astype(np.float32)
            elif p == "moving_variance":
                arrays[p] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
            else:  # bias, beta, moving_mean
                arrays[p] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        weights[name] = arrays
    return weights


def write_keras_h5(path, spec, weights, under_model_weights=False, keras3_names=False, split_attr=False):
    """A weight file in Keras' HDF5 layout (legacy_h5_format.save_weights_to_hdf5_group)."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if under_model_weights else f
        names = np.array([n.encode("utf8") for n, _ in spec])
        if split_attr:  # how Keras stores an attribute too large for one HDF5 header
            for i, chunk in enumerate(np.array_split(names, 3)):
                root.attrs[f"layer_names{i}"] = chunk
        else:
            root.attrs["layer_names"] = names
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for name, params in sorted(spec):  # Keras writes the groups sorted by name
            group = root.create_group(name)
            suffix = "" if keras3_names else ":0"
            wnames = [f"{name}/{p}{suffix}" for p in params]
            group.attrs["weight_names"] = [w.encode("utf8") for w in wnames]  # as Keras: [] if no weights
            for w, p in zip(wnames, params):
                group.create_dataset(w, data=weights[name][p])
    return path


@pytest.fixture(scope="module")
def top_file(tmp_path_factory):
    """Synthetic with-top file (classifier named "probs", as in the ImageNet file) and its weights."""
    spec = keras_resnet50_spec(include_top=True, top_name="probs")
    weights = random_weights(spec, seed=1)
    path = write_keras_h5(tmp_path_factory.mktemp("h5") / "resnet50_top.h5", spec, weights)
    return path, weights


@pytest.fixture(scope="module")
def top_model(top_file):
    return ResNet50(weights=top_file[0], input_shape=SMALL)


@pytest.fixture(scope="module")
def notop_file(tmp_path_factory):
    spec = keras_resnet50_spec(include_top=False)
    weights = random_weights(spec, seed=2)
    path = write_keras_h5(tmp_path_factory.mktemp("h5") / "resnet50_notop.h5", spec, weights, keras3_names=True)
    return path, weights


# ------------------------------------------------- an independent forward pass
def np_conv(x, w, b, stride=1, pads=(0, 0, 0, 0)):
    """x: (N, H, W, C), w: (KH, KW, C, F), pads (top, bottom, left, right) -> (N, OH, OW, F)."""
    t, bo, le, r = pads
    x = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    kh, kw = w.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # (N, OH, OW, C, KH, KW)
    return np.einsum("nhwcij,ijcf->nhwf", windows, w, optimize=True) + b


def np_bn(x, p):
    return (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + EPS) * p["gamma"] + p["beta"]


def numpy_resnet50(x, weights, include_top=True, top_name="predictions"):
    """ResNet50 v1 in float64 NumPy, from Keras' description, reading weights by Keras name."""
    W = {n: {p: a.astype(np.float64) for p, a in ps.items()} for n, ps in weights.items()}
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(np_bn(np_conv(x, W["conv1_conv"]["kernel"], W["conv1_conv"]["bias"], 2, (3, 3, 3, 3)),
                   W["conv1_bn"]))
    x = sliding_window_view(np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), (3, 3), axis=(1, 2))[:, ::2, ::2]
    x = x.max(axis=(4, 5))
    for stage, _, blocks, stride in STAGES:
        for b in range(1, blocks + 1):
            n, s = f"{stage}_block{b}", stride if b == 1 else 1

            def cv(i, v, st=1, pads=(0, 0, 0, 0)):
                return np_bn(np_conv(v, W[f"{n}_{i}_conv"]["kernel"], W[f"{n}_{i}_conv"]["bias"], st, pads),
                             W[f"{n}_{i}_bn"])

            shortcut = cv(0, x, s) if b == 1 else x
            y = relu(cv(1, x, s))
            y = relu(cv(2, y, 1, (1, 1, 1, 1)))
            x = relu(shortcut + cv(3, y))
    if not include_top:
        return x
    logits = x.mean(axis=(1, 2)) @ W[top_name]["kernel"] + W[top_name]["bias"]
    return logits


def assert_close(got, want, rel=2e-4):
    """float32 model against a float64 reference: relative to the output's scale."""
    scale = np.abs(want).max()
    assert scale > 0.1  # the check would be empty on a dead (all-zero) network
    np.testing.assert_allclose(got, want, rtol=rel, atol=rel * scale)


# ----------------------------------------------------------------- the graph
def test_parameter_counts_names_and_shapes_are_keras():
    with_top = ResNet50(seed=0)
    assert with_top.count_params() == 25_636_712
    trainable = sum(p.value.size for l in with_top.layers for p in l.params.values() if p.trainable)
    assert trainable == 25_583_592          # Keras' summary: the rest are BatchNorm moving statistics
    # the same 177 layers (minicnn lists a graph in its own topological order, not Keras')
    names = [l.name for l in with_top.layers]
    assert len(names) == 177 and set(names) == {n for n, _ in keras_resnet50_spec()}
    for name, params in keras_resnet50_spec():
        assert {p: v.shape for p, v in with_top.get_layer(name).params.items()} == params, name
    assert with_top.get_layer("pool1_pool").output_shape == (None, 56, 56, 64)
    assert with_top.get_layer("conv3_block1_out").output_shape == (None, 28, 28, 512)
    assert with_top.get_layer("conv5_block3_out").output_shape == (None, 7, 7, 2048)
    assert with_top.output_shape == (None, 1000)
    assert all(l.epsilon == EPS for l in with_top.layers if isinstance(l, mc.BatchNorm))
    no_top = ResNet50(include_top=False, seed=0)
    assert no_top.count_params() == 23_587_712
    assert len(no_top.layers) == 175 and no_top.output_shape == (None, 7, 7, 2048)


def test_bad_arguments_are_refused_before_building(tmp_path):
    with pytest.raises(ValueError, match=r"ResNet50: input height and width must be at least 32.*\(31, 40, 3\)"):
        ResNet50(input_shape=(31, 40, 3))
    with pytest.raises(ValueError, match=r"ResNet50: input_shape must be \(height, width, channels\)"):
        ResNet50(input_shape=(64, 64))
    with pytest.raises(ValueError, match=r"ResNet50: weights must be None, 'imagenet' or the path.*no file at "
                                         r".*nothing\.h5"):
        ResNet50(weights=str(tmp_path / "nothing.h5"))
    with pytest.raises(ValueError, match=r"weights must be None, 'imagenet' or the path of a .h5 file, got 3"):
        ResNet50(weights=3)


# ------------------------------------------------------------------ loading
def test_every_weight_lands_in_its_layer_and_output_matches_numpy(top_file, top_model):
    _, weights = top_file
    model = top_model
    for name, arrays in weights.items():
        layer = model.get_layer("predictions" if name == "probs" else name)
        assert set(layer.params) == set(arrays), name
        for p, value in arrays.items():
            np.testing.assert_array_equal(layer.params[p].value, value, err_msg=f"{name}/{p}")
    x = np.random.default_rng(5).uniform(-120, 130, (2,) + SMALL)
    want = numpy_resnet50(x, weights, top_name="probs")
    assert_close(model.forward(x.astype(np.float32), logits=True), want)
    probs = model.predict(x.astype(np.float32))
    e = np.exp(want - want.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), rtol=1e-3, atol=1e-6)


def test_notop_file_keras3_names_output_matches_numpy(notop_file):
    path, weights = notop_file
    shape = (40, 48, 3)  # odd sizes on the way (5x6 -> 3x3 -> 2x2): strides and padding on odd inputs
    model = ResNet50(weights=path, include_top=False, input_shape=shape)
    x = np.random.default_rng(6).uniform(-120, 130, (2,) + shape)
    assert_close(model.predict(x.astype(np.float32)), numpy_resnet50(x, weights, include_top=False))


def test_output_matches_pytorch(top_file, top_model):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    _, weights = top_file
    T = {n: {p: torch.from_numpy(a) for p, a in ps.items()} for n, ps in weights.items()}  # float32, no copy

    def conv_bn(v, conv, bn, stride=1, padding=0):
        w = T[conv]["kernel"].permute(3, 2, 0, 1)  # (KH, KW, C, F) -> (F, C, KH, KW)
        v = F.conv2d(v, w, T[conv]["bias"], stride=stride, padding=padding)
        p = T[bn]
        return F.batch_norm(v, p["moving_mean"], p["moving_variance"], p["gamma"], p["beta"],
                            training=False, eps=EPS)

    x = np.random.default_rng(7).uniform(-120, 130, (2,) + SMALL)
    v = torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2)
    v = F.relu(conv_bn(v, "conv1_conv", "conv1_bn", 2, 3))
    v = F.max_pool2d(F.pad(v, (1, 1, 1, 1)), 3, 2)  # Keras pads with zeros, then pools
    for stage, _, blocks, stride in STAGES:
        for b in range(1, blocks + 1):
            n, s = f"{stage}_block{b}", stride if b == 1 else 1
            shortcut = conv_bn(v, f"{n}_0_conv", f"{n}_0_bn", s) if b == 1 else v
            y = F.relu(conv_bn(v, f"{n}_1_conv", f"{n}_1_bn", s))
            y = F.relu(conv_bn(y, f"{n}_2_conv", f"{n}_2_bn", 1, 1))
            v = F.relu(shortcut + conv_bn(y, f"{n}_3_conv", f"{n}_3_bn"))
    logits = v.mean(dim=(2, 3)) @ T["probs"]["kernel"] + T["probs"]["bias"]
    assert_close(top_model.forward(x.astype(np.float32), logits=True), logits.numpy())


def test_with_top_file_into_notop_model_names_the_extra_layer(top_file):
    path, _ = top_file
    with pytest.raises(WeightFileError) as err:
        ResNet50(weights=path, include_top=False, input_shape=SMALL)
    msg = str(err.value)
    assert "1 layer(s) of the file are not in the model: probs" in msg and "nothing was loaded" in msg
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg  # which file would fit


# ------------------------------------- the loader on a small model, bad files
def small_model():
    x = mc.Input((8, 8, 3))
    h = mc.ZeroPadding2D(1, name="pad")(x)
    h = mc.Conv2D(4, 3, name="c1")(h)
    h = mc.BatchNorm(name="bn")(h)
    h = mc.Activation("relu", name="relu")(h)
    h = mc.GlobalAvgPool2D(name="gap")(h)
    return mc.Model(x, mc.Dense(2, name="fc")(h), seed=0)


SMALL_SPEC = [("input_1", {}), ("pad", {}), ("c1", {"kernel": (3, 3, 3, 4), "bias": (4,)}),
              ("bn", {p: (4,) for p in ("gamma", "beta", "moving_mean", "moving_variance")}),
              ("relu", {}), ("gap", {}), ("fc", {"kernel": (4, 2), "bias": (2,)})]


@pytest.mark.parametrize("layout", [{}, {"under_model_weights": True}, {"split_attr": True},
                                    {"keras3_names": True}])
def test_loader_reads_each_keras_layout(tmp_path, layout):
    weights = random_weights(SMALL_SPEC, seed=4)
    path = write_keras_h5(tmp_path / "w.h5", SMALL_SPEC, weights, **layout)
    assert read_keras_h5(path).keys() == {"c1", "bn", "fc"}
    model = small_model()
    loaded = load_keras_h5(model, path)
    assert sorted(loaded) == sorted(f"{n}/{p}" for n, ps in SMALL_SPEC for p in ps)
    for name, arrays in weights.items():
        for p, value in arrays.items():
            np.testing.assert_array_equal(model.get_layer(name).params[p].value, value)


def _bad_file(tmp_path, drop=None, reshape=None, rename=None):
    """SMALL_SPEC without layer ``drop``, with (layer, param, shape) ``reshape``, layers renamed."""
    spec = []
    for name, params in SMALL_SPEC:
        params = dict(params)
        if reshape and reshape[0] == name:
            params[reshape[1]] = reshape[2]
        if name != drop:
            spec.append(((rename or {}).get(name, name), params))
    weights = random_weights(spec, seed=4)
    return write_keras_h5(tmp_path / "bad.h5", spec, weights)


@pytest.mark.parametrize("kind,expected", [
    ("missing", r"1 layer\(s\) of the model have no weights in the file: bn"),
    ("misshaped", r"1 weight\(s\) of the wrong shape: c1/kernel: the model has \(3, 3, 3, 4\), "
                  r"the file has \(5, 5, 3, 4\)"),
    ("renamed", r"(?s)layer\(s\) of the model have no weights in the file: fc.*"
                r"layer\(s\) of the file are not in the model: dense_7"),
])
def test_bad_files_are_clear_errors_and_change_nothing(tmp_path, kind, expected):
    path = _bad_file(tmp_path, drop="bn" if kind == "missing" else None,
                     reshape=("c1", "kernel", (5, 5, 3, 4)) if kind == "misshaped" else None,
                     rename={"fc": "dense_7"} if kind == "renamed" else None)
    model = small_model()
    before = model.get_weights()
    with pytest.raises(WeightFileError, match=expected) as err:
        load_keras_h5(model, path)
    assert str(path) in str(err.value) and "nothing was loaded" in str(err.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_extra_weight_in_a_layer_is_named(tmp_path):
    spec = [(n, dict(ps, **({"extra_scale": (4,)} if n == "bn" else {}))) for n, ps in SMALL_SPEC]
    path = write_keras_h5(tmp_path / "x.h5", spec, random_weights(spec))
    with pytest.raises(WeightFileError, match=r"weight\(s\) of the file are not in the model: "
                                              r"bn/extra_scale \(4,\)"):
        load_keras_h5(small_model(), path)


def test_other_weight_names_are_taken_in_keras_order(tmp_path):
    spec = [(n, {"W": ps["kernel"], "b": ps["bias"]} if n == "c1" else ps) for n, ps in SMALL_SPEC]
    weights = random_weights(spec, seed=5)   # c1's datasets are "c1/W:0" and "c1/b:0" (Keras 1's names)
    weights["c1"]["W"] = np.random.default_rng(0).standard_normal((3, 3, 3, 4)).astype(np.float32)
    model = small_model()
    load_keras_h5(model, write_keras_h5(tmp_path / "k1.h5", spec, weights))
    np.testing.assert_array_equal(model.get_layer("c1").params["kernel"].value, weights["c1"]["W"])
    np.testing.assert_array_equal(model.get_layer("c1").params["bias"].value, weights["c1"]["b"])


def test_not_hdf5_and_not_keras_files(tmp_path):
    text = tmp_path / "weights.h5"
    text.write_text("these are not weights")
    with pytest.raises(WeightFileError, match=r"weights\.h5: not an HDF5 file \(it starts with b'these ar'"):
        load_keras_h5(small_model(), text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("images", data=np.zeros(3))
    with pytest.raises(WeightFileError, match=r"not Keras weights: no 'layer_names'.*\['images'\]"):
        read_keras_h5(other)
    with pytest.raises(FileNotFoundError, match="no weight file at"):
        read_keras_h5(tmp_path / "absent.h5")


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    path = write_keras_h5(tmp_path / "w.h5", SMALL_SPEC, random_weights(SMALL_SPEC))
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now raises ImportError
    with pytest.raises(ImportError, match=r"needs h5py.*pip install minicnn\[h5\]"):
        load_keras_h5(small_model(), path)


# ------------------------------------------------- downloads, no network
@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))
    return tmp_path


def test_imagenet_weights_come_from_the_cache_without_network(notop_file, data_root, monkeypatch):
    path, weights = notop_file
    name = resnet50.WEIGHTS_FILES[False][0]
    (data_root / "models").mkdir()
    (data_root / "models" / name).write_bytes(path.read_bytes())
    monkeypatch.setitem(resnet50.WEIGHTS_FILES, False, (name, md5(path.read_bytes())))
    monkeypatch.setattr(resnet50, "WEIGHTS_MIRRORS", [closed_port_url()])
    model = ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 1, 1, 2048)  # the smallest input Keras accepts
    np.testing.assert_array_equal(model.get_layer("conv1_conv").params["kernel"].value,
                                  weights["conv1_conv"]["kernel"])


def test_weights_download_verified_atomic_and_offline_error(data_root, monkeypatch):
    content = b"pretend weights"
    name, _ = resnet50.WEIGHTS_FILES[True]
    server = LocalServer()
    try:
        server.files[f"/resnet/{name}"] = content
        monkeypatch.setitem(resnet50.WEIGHTS_FILES, True, (name, md5(content)))
        monkeypatch.setattr(resnet50, "WEIGHTS_MIRRORS", [server.url + "404/", server.url + "resnet/"])
        path = resnet50.imagenet_weights_path(include_top=True, progress=False)
        assert path == data_root / "models" / name and path.read_bytes() == content
        assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no .part file left
        # a wrong checksum is refused, and nothing is left behind
        path.unlink()
        monkeypatch.setitem(resnet50.WEIGHTS_FILES, True, (name, "0" * 32))
        with pytest.raises(DatasetError, match="does not match the published"):
            resnet50.imagenet_weights_path(include_top=True, progress=False)
        assert list(path.parent.iterdir()) == []
    finally:
        server.close()
    monkeypatch.setattr(resnet50, "WEIGHTS_MIRRORS", [closed_port_url()])
    with pytest.raises(DatasetError) as err:
        ResNet50(weights="imagenet")
    msg = str(err.value)
    assert name in msg and str(data_root / "models") in msg and "cannot connect" in msg
    assert f"ResNet50(weights='/path/to/{name}'" in msg


# --------------------------------------------------- preprocess and decode
def test_preprocess_input_is_keras_caffe_mode():
    rgb = np.array([[[[255, 0, 10], [1, 2, 3]]]], dtype=np.uint8)   # (1, 1, 2, 3)
    got = preprocess_input(rgb)
    want = np.array([[[[10 - 103.939, 0 - 116.779, 255 - 123.68], [3 - 103.939, 2 - 116.779, 1 - 123.68]]]])
    assert got.dtype == np.float32 and got.shape == rgb.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)
    image = rgb[0].astype(np.float64)
    np.testing.assert_allclose(preprocess_input(image), want[0], rtol=1e-6)  # one image (H, W, 3)
    assert image[0, 0, 0] == 255  # the input is not overwritten
    with pytest.raises(ValueError, match=r"preprocess_input: expected RGB images.*\(2, 5, 5, 1\)"):
        preprocess_input(np.zeros((2, 5, 5, 1)))


def fake_class_index(data_root, monkeypatch):
    index = {str(k): [f"n{k:08d}", f"class_{k}"] for k in range(1000)}
    data = json.dumps(index).encode()
    (data_root / "models").mkdir(exist_ok=True)
    (data_root / "models" / imagenet.CLASS_INDEX_FILE).write_bytes(data)
    monkeypatch.setattr(imagenet, "CLASS_INDEX_MD5", md5(data))
    monkeypatch.setattr(imagenet, "CLASS_INDEX_MIRRORS", [closed_port_url()])


def test_decode_predictions(data_root, monkeypatch):
    fake_class_index(data_root, monkeypatch)
    preds = np.zeros((2, 1000))
    preds[0, [7, 500, 3]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    got = decode_predictions(preds, top=3)
    assert got[0] == [("n00000007", "class_7", 0.5), ("n00000500", "class_500", 0.3),
                      ("n00000003", "class_3", 0.2)]
    assert got[1][0] == ("n00000999", "class_999", 1.0) and len(got[1]) == 3
    with pytest.raises(ValueError, match=r"decode_predictions: expected .* \(N, 1000\), got shape \(2, 10\)"):
        decode_predictions(np.zeros((2, 10)))


def test_decode_predictions_offline_names_the_file(data_root, monkeypatch):
    monkeypatch.setattr(imagenet, "CLASS_INDEX_MIRRORS", [closed_port_url()])
    with pytest.raises(DatasetError) as err:
        decode_predictions(np.ones((1, 1000)))
    assert "imagenet_class_index.json" in str(err.value) and str(data_root / "models") in str(err.value)


# ------------------------------------------------------------ ZeroPadding2D
def test_zero_padding_values_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    y, cache = zero_pad2d_forward(x, (1, 0, 0, 2))     # one row on top, two columns on the right
    np.testing.assert_array_equal(y[0, ..., 0], [[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]])
    dy = np.arange(12.0).reshape(1, 3, 4, 1)
    np.testing.assert_array_equal(zero_pad2d_backward(dy, cache)[0, ..., 0], [[4, 5], [8, 9]])
    assert mc.ZeroPadding2D((2, 1)).padding == ((2, 2), (1, 1))
