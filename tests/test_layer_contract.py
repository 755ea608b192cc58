"""One contract, run over every layer: shapes, parameters, config, hooks,
freezing, gradients (float64 numerical checks) and clear errors."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.layers import LAYER_CLASSES
from minicnn.testing import check_layer_gradients

from conftest import distinct_values, to_float64

# (factory, input shape, expected output shape, expected parameter count)
CASES = [
    (lambda: mc.Conv2D(4, 3, padding="same"), (2, 5, 6, 3), (2, 5, 6, 4), 3 * 3 * 3 * 4 + 4),
    (lambda: mc.Conv2D(4, (2, 3), strides=2, padding="valid"), (2, 7, 6, 2), (2, 3, 2, 4), 2 * 3 * 2 * 4 + 4),
    (lambda: mc.Conv2D(3, 3, strides=3, padding=1, use_bias=False), (2, 7, 5, 2), (2, 3, 2, 3), 3 * 3 * 2 * 3),
    (lambda: mc.Conv2D(2, 4, strides=(1, 2), padding="same", activation="relu"), (1, 5, 7, 2), (1, 5, 4, 2), 4 * 4 * 2 * 2 + 2),
    (lambda: mc.Dense(5), (3, 4), (3, 5), 4 * 5 + 5),
    (lambda: mc.Dense(3, activation="softmax", use_bias=False), (3, 4), (3, 3), 12),
    (lambda: mc.Dense(3, activation="tanh", kernel_regularizer=mc.l2(0.05)), (3, 4), (3, 3), 15),
    (lambda: mc.ReLU(), (2, 3, 3, 2), (2, 3, 3, 2), 0),
    (lambda: mc.Softmax(), (3, 5), (3, 5), 0),
    (lambda: mc.Activation("sigmoid"), (3, 5), (3, 5), 0),
    (lambda: mc.MaxPool2D(2), (2, 6, 4, 3), (2, 3, 2, 3), 0),
    (lambda: mc.MaxPool2D(3, strides=2, padding="same"), (2, 5, 6, 2), (2, 3, 3, 2), 0),
    (lambda: mc.AvgPool2D(2, strides=1), (2, 4, 5, 2), (2, 3, 4, 2), 0),
    (lambda: mc.AvgPool2D(3, strides=2, padding="same"), (2, 5, 4, 2), (2, 3, 2, 2), 0),
    (lambda: mc.GlobalAvgPool2D(), (2, 3, 4, 5), (2, 5), 0),
    (lambda: mc.BatchNorm(), (4, 3, 2, 3), (4, 3, 2, 3), 4 * 3),
    (lambda: mc.BatchNorm(momentum=0.9, epsilon=1e-5), (6, 4), (6, 4), 4 * 4),
    (lambda: mc.Flatten(), (2, 3, 4, 2), (2, 24), 0),
    (lambda: mc.Dropout(0.5, seed=1), (4, 6), (4, 6), 0),
    (lambda: mc.ZeroPadding2D(1), (2, 3, 4, 2), (2, 5, 6, 2), 0),
    (lambda: mc.ZeroPadding2D(((3, 0), (1, 2))), (1, 2, 3, 3), (1, 5, 6, 3), 0),
]
IDS = [f"{f().__class__.__name__}-{i}" for i, (f, *_) in enumerate(CASES)]


def test_every_layer_class_is_covered():
    covered = {f().__class__.__name__ for f, *_ in CASES} | {"Add", "InputLayer"}
    assert covered >= set(LAYER_CLASSES)


@pytest.mark.parametrize("factory,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_shapes_params_config(factory, in_shape, out_shape, n_params):
    layer = factory()
    y = layer.forward(distinct_values(in_shape).astype(np.float32))
    assert y.shape == out_shape
    assert layer.output_shape == (None,) + out_shape[1:]
    assert layer.compute_output_shape((None,) + in_shape[1:]) == (None,) + out_shape[1:]
    assert layer.count_params() == n_params
    assert y.dtype == np.float32
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert repr(layer).startswith(type(layer).__name__)


@pytest.mark.parametrize("factory,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_gradients(factory, in_shape, out_shape, n_params):
    layer = factory()
    x = distinct_values(in_shape, seed=3)
    layer.build(x.shape)
    to_float64(layer)
    if isinstance(layer, mc.Dropout):
        # The mask is random per call: check with a fixed mask (reseed each forward).
        forward = layer._forward
        layer._forward = lambda x, training: (setattr(layer, "rng", np.random.default_rng(0)), forward(x, training))[1]
    result = check_layer_gradients(layer, x)
    assert result.ok, result
    if isinstance(layer, mc.BatchNorm):
        assert check_layer_gradients(layer, x, training=False).ok


@pytest.mark.parametrize("factory,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_hooks_fire_and_stop_after_remove(factory, in_shape, out_shape, n_params):
    layer = factory()
    x = distinct_values(in_shape).astype(np.float32)
    seen_forward, seen_backward = [], []
    h1 = layer.register_forward_hook(lambda l, inputs, out: seen_forward.append((l, inputs[0], out)))
    h2 = layer.register_backward_hook(lambda l, gin, gout: seen_backward.append((gin[0], gout[0])))
    y = layer.forward(x, training=True)
    dy = np.ones_like(y)
    dx = layer.backward(dy)
    assert len(seen_forward) == 1 and seen_forward[0][0] is layer
    assert seen_forward[0][1] is x and seen_forward[0][2] is y
    assert len(seen_backward) == 1 and seen_backward[0][0] is dx and seen_backward[0][1] is dy
    h1.remove()
    h2.remove()
    layer.forward(x, training=True)
    layer.backward(dy)
    assert len(seen_forward) == 1 and len(seen_backward) == 1


@pytest.mark.parametrize("factory,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_freezing(factory, in_shape, out_shape, n_params):
    layer = factory()
    x = distinct_values(in_shape).astype(np.float32)
    layer.forward(x, training=True)
    layer.trainable = False
    layer.zero_grad()
    before = [w.copy() for w in layer.get_weights()]
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape                       # still back-propagates
    assert all(p.grad is None for p in layer.params.values())
    assert layer.trainable_params() == []
    for a, b in zip(before, layer.get_weights()):    # frozen BN does not update moving stats
        np.testing.assert_array_equal(a, b)


def test_frozen_batchnorm_uses_moving_statistics():
    layer = mc.BatchNorm()
    x = distinct_values((8, 3)) * 5 + 2
    layer.build(x.shape)
    layer.params["moving_mean"].value[:] = [1.0, 2.0, 3.0]
    layer.trainable = False
    np.testing.assert_allclose(layer.forward(x, training=True), layer.forward(x, training=False))


@pytest.mark.parametrize("factory,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_errors(factory, in_shape, out_shape, n_params):
    layer = factory()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros(out_shape))
    x = distinct_values(in_shape).astype(np.float32)
    y = layer.forward(x, training=True)
    with pytest.raises(ValueError, match=rf"{layer.name}.*dy has shape"):
        layer.backward(np.zeros(y.shape + (1,)))
    with pytest.raises(ValueError, match=rf"{layer.name}.*numeric"):
        layer.forward(np.array([["a"]]))
    if layer.expected_ndim is not None or isinstance(layer, (mc.Dense, mc.BatchNorm)):
        with pytest.raises(ValueError, match=rf"{layer.name}.*got shape \(5, 1, 1\)"):
            layer.forward(np.zeros((5, 1, 1), np.float32))


def test_channel_mismatch_names_layer_and_shapes():
    conv = mc.Conv2D(4, 3, name="conv_a")
    conv.forward(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv_a \(Conv2D\): expected 3 input channels, got input shape \(1, 5, 5, 2\)"):
        conv.forward(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"Flatten"):
        mc.Dense(3).forward(np.zeros((2, 4, 4, 1)))


@pytest.mark.parametrize("make,match", [
    (lambda: mc.Conv2D(4, 3, padding="foo"), "padding must be 'valid', 'same'"),
    (lambda: mc.Conv2D(4, 3, strides=-1), "strides must be >= 1"),
    (lambda: mc.Conv2D(0, 3), "filters must be a positive int"),
    (lambda: mc.Conv2D(4, (3, 3, 3)), "kernel_size must be an int or a pair"),
    (lambda: mc.Conv2D(4, 3, activation="swishy"), "unknown activation"),
    (lambda: mc.Dense(-2), "units must be a positive int"),
    (lambda: mc.MaxPool2D(0), "pool_size must be >= 1"),
    (lambda: mc.AvgPool2D(2, padding=-1), "padding must be >= 0"),
    (lambda: mc.Dropout(1.5), r"rate must be in \[0, 1\)"),
    (lambda: mc.BatchNorm(momentum=1.5), r"momentum must be in \[0, 1\)"),
    (lambda: mc.l2(-1), "factor must be a number >= 0"),
    (lambda: mc.ZeroPadding2D(-1), "padding must be >= 0"),
    (lambda: mc.ZeroPadding2D((1, 2, 3)), r"padding must be an int, a pair of ints or \(\(top, bottom\)"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_add_layer_contract(rng):
    add = mc.Add()
    a, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((2, 3, 3, 2))
    np.testing.assert_allclose(add.forward([a, b]), a + b)
    da, db = add.backward(np.ones_like(a))
    np.testing.assert_array_equal(da, np.ones_like(a))
    np.testing.assert_array_equal(db, np.ones_like(a))
    with pytest.raises(ValueError, match=r"add.*same shape.*\(N, 3, 3, 2\).*\(N, 3, 3, 1\)"):
        mc.Add().forward([a, np.zeros((2, 3, 3, 1))])
    assert mc.Add.from_config(add.get_config()).name == add.name


def test_window_larger_than_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"max_pool2d.*does not fit"):
        mc.MaxPool2D(4).forward(np.zeros((1, 3, 3, 1), np.float32))
