"""Gradient checks (float64, central differences) of the non-conv ops, and hand-computed values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.ops.activation import (relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                                    softmax_backward, softmax_forward, tanh_backward, tanh_forward)
from minicnn.ops.add import add_backward, add_forward
from minicnn.ops.dense import dense_backward, dense_forward
from minicnn.ops.dropout import dropout_backward, dropout_forward
from minicnn.ops.loss import (cross_entropy_backward, cross_entropy_forward, softmax_cross_entropy_backward,
                              softmax_cross_entropy_forward)
from minicnn.ops.norm import batchnorm_backward, batchnorm_forward
from minicnn.ops.regularization import l2_penalty_backward, l2_penalty_forward
from minicnn.testing import check_gradient, numerical_gradient, relative_error

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def test_dense_hand_computed():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]])
    y, _ = dense_forward(x, w, np.array([0.5, 0.0, -1.0]))
    # [1*1 + 2*2 + 0.5, 1*-1 + 0 + 0, 0.5 + 2 - 1]
    np.testing.assert_allclose(y, [[5.5, -1.0, 1.5]])


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 6), u=st.integers(1, 5), bias=st.booleans())
def test_dense_gradients(n, d, u, bias):
    rng = np.random.default_rng(n * 100 + d * 10 + u)
    inputs = {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((d, u))}
    if bias:
        inputs["b"] = rng.standard_normal(u)
    state = {}

    def forward(x, w, b=None):
        y, state["cache"] = dense_forward(x, w, b)
        return y

    def backward(dy):
        dx, dw, db = dense_backward(dy, state["cache"])
        out = {"x": dx, "w": dw}
        if bias:
            out["b"] = db
        return out

    assert check_gradient(forward, backward, inputs).ok


@pytest.mark.parametrize("fwd,bwd", [(sigmoid_forward, sigmoid_backward), (tanh_forward, tanh_backward),
                                     (softmax_forward, softmax_backward), (relu_forward, relu_backward)])
def test_activation_gradients(fwd, bwd, rng):
    x = rng.standard_normal((3, 7)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU inputs away from its kink
    state = {}

    def forward(x):
        y, state["c"] = fwd(x)
        return y

    result = check_gradient(forward, lambda dy: {"x": bwd(dy, state["c"])}, {"x": x})
    assert result.ok, result


def test_softmax_values_and_stability():
    y, _ = softmax_forward(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))
    np.testing.assert_allclose(y, [[0.25, 0.75], [0.5, 0.5]])


def test_sigmoid_extremes_do_not_overflow():
    with np.errstate(over="raise"):
        y, _ = sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


def test_relu_kink_is_reported_not_failed():
    from minicnn.layers import ReLU
    from minicnn.testing import check_layer_gradients
    x = np.array([[1.0, -2.0, 1e-9, 3.0]])  # 1e-9 is within h of the kink at 0
    result = check_layer_gradients(ReLU(), x)
    assert result.ok
    assert result.kinks["x"] == [2]


def test_dropout_inverted_scaling_and_gradient():
    x = np.ones((2000, 10))
    y, keep = dropout_forward(x, 0.3, np.random.default_rng(0), training=True)
    # survivors are scaled by 1/(1-0.3); the mean stays ~1
    np.testing.assert_allclose(y[y != 0], 1 / 0.7)
    assert abs(y.mean() - 1.0) < 0.02
    assert abs((y == 0).mean() - 0.3) < 0.01
    dy = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(dropout_backward(dy, keep), dy * keep)
    y_eval, cache = dropout_forward(x, 0.3, np.random.default_rng(0), training=False)
    assert y_eval is x and dropout_backward(dy, cache) is dy


def test_dropout_seeded():
    a, _ = dropout_forward(np.ones((5, 5)), 0.5, np.random.default_rng(7), True)
    b, _ = dropout_forward(np.ones((5, 5)), 0.5, np.random.default_rng(7), True)
    np.testing.assert_array_equal(a, b)


@SETTINGS
@given(shape=st.sampled_from([(5, 3), (8, 1), (2, 3, 4, 2), (3, 2, 5, 3), (4, 1, 1, 2)]),
       training=st.booleans(), seed=st.integers(0, 1000))
def test_batchnorm_gradients(shape, training, seed):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    inputs = {"x": rng.standard_normal(shape) * 2 + 1, "gamma": rng.standard_normal(c), "beta": rng.standard_normal(c)}
    moving_mean, moving_var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    state = {}

    def forward(x, gamma, beta):
        y, state["c"] = batchnorm_forward(x, gamma, beta, moving_mean.copy(), moving_var.copy(), 0.99, 1e-3,
                                          training=training)
        return y

    def backward(dy):
        dx, dg, db = batchnorm_backward(dy, state["c"])
        return {"x": dx, "gamma": dg, "beta": db}

    result = check_gradient(forward, backward, inputs)
    assert result.ok, result


def test_batchnorm_statistics_hand_computed():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])  # per feature: mean (2, 20), var (1, 100)
    mm, mv = np.zeros(2), np.ones(2)
    y, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), mm, mv, momentum=0.9, eps=0.0, training=True)
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]])
    np.testing.assert_allclose(mm, [0.1 * 2, 0.1 * 20])            # 0.9*0 + 0.1*mean
    np.testing.assert_allclose(mv, [0.9 + 0.1 * 1, 0.9 + 0.1 * 100])  # 0.9*1 + 0.1*var
    y_inf, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), mm, mv, 0.9, 0.0, training=False)
    np.testing.assert_allclose(y_inf, (x - mm) / np.sqrt(mv))


def test_add_gradient_goes_to_every_input(rng):
    a, b, c = (rng.standard_normal((2, 3)) for _ in range(3))
    y, n = add_forward([a, b, c])
    np.testing.assert_allclose(y, a + b + c)
    dy = rng.standard_normal((2, 3))
    assert all(np.array_equal(d, dy) for d in add_backward(dy, n))
    with pytest.raises(ValueError, match="add: input 1 has shape"):
        add_forward([a, np.zeros((3, 2))])


@SETTINGS
@given(n=st.integers(1, 5), k=st.integers(2, 6), sparse=st.booleans(), seed=st.integers(0, 100))
def test_softmax_cross_entropy_gradient(n, k, sparse, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    y = labels if sparse else np.eye(k)[labels]
    z = rng.standard_normal((n, k)) * 3
    loss = lambda: softmax_cross_entropy_forward(z, y, sparse)[0]
    numeric = numerical_gradient(loss, z, h=1e-5)
    _, cache = softmax_cross_entropy_forward(z, y, sparse)
    assert relative_error(softmax_cross_entropy_backward(cache), numeric) < 1e-6


def test_softmax_cross_entropy_hand_computed_and_stable():
    z = np.array([[0.0, np.log(3.0)]])  # p = (0.25, 0.75)
    loss, cache = softmax_cross_entropy_forward(z, np.array([1]), sparse=True)
    assert loss == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(softmax_cross_entropy_backward(cache), [[0.25, -0.25]])
    big, _ = softmax_cross_entropy_forward(np.array([[1000.0, -1000.0]]), np.array([1]), sparse=True)
    assert big == pytest.approx(2000.0)  # no overflow, no inf


def test_cross_entropy_on_probabilities_gradient(rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = np.eye(3)[[0, 2, 1, 1]]
    numeric = numerical_gradient(lambda: cross_entropy_forward(p, y)[0], p)
    assert relative_error(cross_entropy_backward(cross_entropy_forward(p, y)[1]), numeric) < 1e-6


@pytest.mark.parametrize("labels,match", [
    (np.array([0, 3]), r"labels must be in \[0, 2\], got values in \[0, 3\]"),
    (np.array([0, -1]), r"labels must be in \[0, 2\]"),
    (np.array([0, 1, 2]), r"sparse labels must have shape \(2,\)"),
])
def test_labels_out_of_range(labels, match):
    with pytest.raises(ValueError, match=match):
        softmax_cross_entropy_forward(np.zeros((2, 3)), labels, sparse=True)


def test_one_hot_shape_error_suggests_sparse():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 1]), sparse=False)


def test_l2_penalty(rng):
    w = rng.standard_normal((3, 4))
    assert l2_penalty_forward(w, 0.05) == pytest.approx(0.05 * np.sum(w ** 2))
    numeric = numerical_gradient(lambda: l2_penalty_forward(w, 0.05), w)
    assert relative_error(l2_penalty_backward(w, 0.05), numeric) < 1e-7
