"""Backward hooks during training: the first layer's hook fires (grad_input=(None,), as in
PyTorch), and the output layer's hook gets dL/d(its output) even with the fused softmax."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.testing import numerical_gradient, relative_error

from conftest import to_float64


def net(loss):
    model = mc.Sequential([mc.Input((5, 5, 2)), mc.Conv2D(3, 3), mc.ReLU(), mc.Flatten(),
                           mc.Dense(4, activation="softmax")], seed=3)
    to_float64(model)
    model.compile(mc.SGD(0.1), loss)
    return model


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 5, 5, 2)), rng.integers(0, 4, 6)


@pytest.mark.parametrize("use_fit", [False, True], ids=["train_on_batch", "fit"])
def test_first_conv_hook_fires_with_no_input_gradient_and_the_true_output_gradient(batch, use_fit):
    x, y = batch
    model = net("sparse_categorical_crossentropy")
    conv = model.layers[0]
    calls = []
    conv.register_backward_hook(lambda layer, gin, gout: calls.append((gin, gout[0].copy())))

    def loss_now():
        return model.loss(y, model.forward(x))

    # independent: float64 central differences of the loss w.r.t. the conv's kernel and bias,
    # before the step changes them
    num_kernel = numerical_gradient(loss_now, conv.params["kernel"].value, h=1e-6)
    num_bias = numerical_gradient(loss_now, conv.params["bias"].value, h=1e-6)
    if use_fit:
        model.fit(x, y, epochs=1, batch_size=6, shuffle=False, verbose=0)
    else:
        model.train_on_batch(x, y)
    assert len(calls) == 1
    grad_input, dy = calls[0]
    assert grad_input == (None,)  # the data needs no gradient: not computed, as in PyTorch
    # dy is dL/d(conv output) (N, 3, 3, 3): the kernel gradient is sum over windows of x * dy
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (N, 3, 3, C, KH, KW)
    dw = np.einsum("nijckl,nijf->klcf", windows, dy)
    assert relative_error(dw, num_kernel) < 1e-6
    assert relative_error(dy.sum(axis=(0, 1, 2)), num_bias) < 1e-6


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_softmax_output_hook_gets_the_probability_gradient_under_the_fused_loss(batch, loss):
    x, labels = batch
    y = labels if loss.startswith("sparse") else np.eye(4)[labels]
    model = net(loss)
    p = model.forward(x)  # the weights before the step (float64: predict would cast x to float32)
    seen = {}
    model.layers[-1].register_backward_hook(lambda layer, gin, gout: seen.update(dp=gout[0].copy(), dx=gin[0]))
    model.train_on_batch(x, y)
    # L = -(1/N) sum_n log p[n, y_n]  =>  dL/dp[n, k] = -1/(N p[n, y_n]) if k == y_n else 0
    expected = np.zeros_like(p)
    expected[np.arange(6), labels] = -1.0 / (6 * p[np.arange(6), labels])
    np.testing.assert_allclose(seen["dp"], expected, rtol=1e-10)
    # grad_input is still the gradient w.r.t. the Dense input: (p - onehot) / N through the kernel
    kernel = model.layers[-1].params["kernel"].value + 0.1 * model.layers[-1].params["kernel"].grad  # before SGD
    np.testing.assert_allclose(seen["dx"], (p - np.eye(4)[labels]) / 6 @ kernel.T, rtol=1e-8, atol=1e-12)
