"""Cross-checks against PyTorch (skipped when torch is not installed).

Layouts: minicnn is NHWC with Keras kernels (KH, KW, C_in, C_out); PyTorch is
NCHW with (C_out, C_in, KH, KW). Dense: Keras (in, out), PyTorch (out, in).
"""
import numpy as np
import pytest

import minicnn as mc

torch = pytest.importorskip("torch")
F = torch.nn.functional


def to_torch_conv(w):
    return torch.tensor(np.transpose(w, (3, 2, 0, 1)).copy())


@pytest.mark.parametrize("seed", range(5))
def test_batchnorm_dense_cross_entropy_forward_backward(seed):
    rng = np.random.default_rng(seed)
    n, h, w, c, k = rng.integers(2, 6), rng.integers(2, 6), rng.integers(2, 6), rng.integers(1, 4), rng.integers(2, 6)
    x = rng.standard_normal((n, h, w, c))
    labels = rng.integers(0, k, n)
    bn, dense = mc.BatchNorm(epsilon=1e-3), mc.Dense(int(k), activation="softmax")
    model = mc.Sequential([mc.Input((h, w, c)), bn, mc.Flatten(), dense], seed=seed)
    for layer in model.layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)
    bn.params["gamma"].value[:] = rng.uniform(0.5, 2, c)
    bn.params["beta"].value[:] = rng.standard_normal(c)
    model.compile("sgd", "sparse_categorical_crossentropy")
    from minicnn.train import loss_and_output
    loss, _, grad, fused = loss_and_output(model, x, labels, training=True)
    model.zero_grad()
    dx = model.backward(grad, from_logits=fused)

    xt = torch.tensor(x, requires_grad=True)
    gamma = torch.tensor(bn.params["gamma"].value, requires_grad=True)
    beta = torch.tensor(bn.params["beta"].value, requires_grad=True)
    wt = torch.tensor(dense.params["kernel"].value, requires_grad=True)
    bt = torch.tensor(dense.params["bias"].value, requires_grad=True)
    z = F.batch_norm(xt.permute(0, 3, 1, 2), None, None, gamma, beta, training=True, eps=1e-3).permute(0, 2, 3, 1)
    logits = z.reshape(n, -1) @ wt + bt
    loss_t = F.cross_entropy(logits, torch.tensor(labels))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(bn.params["gamma"].grad, gamma.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(bn.params["beta"].grad, beta.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dense.params["kernel"].grad, wt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dense.params["bias"].grad, bt.grad.numpy(), atol=1e-10)


def _torch_twin(model):
    """The same small CNN in PyTorch, with minicnn's initial weights copied in."""
    conv1, conv2, dense = (l for l in model.layers if l.params)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(6 * 2 * 2, 5),
    ).double()
    with torch.no_grad():
        net[0].weight.copy_(to_torch_conv(conv1.params["kernel"].value)); net[0].bias.copy_(torch.tensor(conv1.params["bias"].value))
        net[3].weight.copy_(to_torch_conv(conv2.params["kernel"].value)); net[3].bias.copy_(torch.tensor(conv2.params["bias"].value))
        # Flatten order differs: minicnn flattens (H, W, C), PyTorch (C, H, W).
        k = dense.params["kernel"].value.reshape(2, 2, 6, 5).transpose(2, 0, 1, 3).reshape(24, 5)
        net[6].weight.copy_(torch.tensor(k.T.copy())); net[6].bias.copy_(torch.tensor(dense.params["bias"].value))
    return net


def _torch_weights_as_minicnn(net):
    w1 = net[0].weight.detach().numpy().transpose(2, 3, 1, 0)
    w2 = net[3].weight.detach().numpy().transpose(2, 3, 1, 0)
    k = net[6].weight.detach().numpy().T.reshape(6, 2, 2, 5).transpose(1, 2, 0, 3).reshape(24, 5)
    return [w1, net[0].bias.detach().numpy(), w2, net[3].bias.detach().numpy(), k, net[6].bias.detach().numpy()]


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
def test_short_training_run_ends_with_identical_weights(optimizer):
    model = mc.Sequential([
        mc.Input((8, 8, 3)),
        mc.Conv2D(4, 3, padding=1), mc.ReLU(), mc.MaxPool2D(2),
        mc.Conv2D(6, 3, strides=2, padding=1), mc.ReLU(),
        mc.Flatten(), mc.Dense(5, activation="softmax"),
    ], seed=0)
    for layer in model.layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)
    net = _torch_twin(model)
    if optimizer == "adam":
        # Keras puts epsilon outside the bias correction, PyTorch inside; with
        # a tiny epsilon both are the same update to ~1e-12.
        model.compile(mc.Adam(1e-2, epsilon=1e-12), "sparse_categorical_crossentropy")
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, eps=1e-12)
    else:
        model.compile(mc.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 8, 8, 3))
    y = rng.integers(0, 5, 24)
    from minicnn.train import train_step
    for step in range(6):
        xb, yb = x[step * 4:(step + 1) * 4], y[step * 4:(step + 1) * 4]
        train_step(model, xb, yb)
        opt.zero_grad()
        F.cross_entropy(net(torch.tensor(xb).permute(0, 3, 1, 2)), torch.tensor(yb)).backward()
        opt.step()
    for ours, theirs in zip(model.get_weights(), _torch_weights_as_minicnn(net)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def test_residual_block_with_batchnorm_gradients_match_torch():
    """PW tiny-ResNet shape: Conv7x7-BN-ReLU-MaxPool, a residual block
    (Conv-BN-ReLU-Conv-BN + shortcut, ReLU after the Add), GAP, Dense."""
    inp = mc.Input((12, 12, 3))
    stem = mc.MaxPool2D(2)(mc.ReLU()(mc.BatchNorm(name="bn0")(mc.Conv2D(4, 7, padding="same", name="c0")(inp))))
    h = mc.ReLU()(mc.BatchNorm(name="bn1")(mc.Conv2D(4, 3, padding="same", name="c1")(stem)))
    h = mc.BatchNorm(name="bn2")(mc.Conv2D(4, 3, padding="same", name="c2")(h))
    out = mc.Dense(3, activation="softmax", name="fc")(mc.GlobalAvgPool2D()(mc.ReLU()(mc.Add()([h, stem]))))
    model = mc.Model(inp, out, seed=0)
    for layer in model.layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)
    rng = np.random.default_rng(0)
    for name in ("bn0", "bn1", "bn2"):
        model.get_layer(name).params["gamma"].value[:] = rng.uniform(0.5, 1.5, 4)
        model.get_layer(name).params["beta"].value[:] = rng.standard_normal(4) * 0.1
    x = rng.standard_normal((5, 12, 12, 3))
    y = rng.integers(0, 3, 5)
    model.compile("sgd", "sparse_categorical_crossentropy")
    from minicnn.train import loss_and_output
    loss, _, grad, fused = loss_and_output(model, x, y, training=True)
    model.zero_grad()
    dx = model.backward(grad, from_logits=fused)

    def conv_params(name):
        layer = model.get_layer(name)
        return (torch.tensor(np.transpose(layer.params["kernel"].value, (3, 2, 0, 1)).copy(), requires_grad=True),
                torch.tensor(layer.params["bias"].value, requires_grad=True))

    def bn_params(name):
        layer = model.get_layer(name)
        return (torch.tensor(layer.params["gamma"].value, requires_grad=True),
                torch.tensor(layer.params["beta"].value, requires_grad=True))

    P = {n: conv_params(n) for n in ("c0", "c1", "c2")}
    B = {n: bn_params(n) for n in ("bn0", "bn1", "bn2")}
    fc_w = torch.tensor(model.get_layer("fc").params["kernel"].value, requires_grad=True)
    fc_b = torch.tensor(model.get_layer("fc").params["bias"].value, requires_grad=True)
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)

    def bn(t, name):
        return F.batch_norm(t, None, None, *B[name], training=True, eps=1e-3)

    s = F.max_pool2d(F.relu(bn(F.conv2d(xt, *P["c0"], padding=3), "bn0")), 2)
    h = F.relu(bn(F.conv2d(s, *P["c1"], padding=1), "bn1"))
    h = bn(F.conv2d(h, *P["c2"], padding=1), "bn2")
    logits = F.relu(h + s).mean(dim=(2, 3)) @ fc_w + fc_b
    loss_t = F.cross_entropy(logits, torch.tensor(y))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-10)
    for n in ("c0", "c1", "c2"):
        layer = model.get_layer(n)
        np.testing.assert_allclose(layer.params["kernel"].grad, P[n][0].grad.numpy().transpose(2, 3, 1, 0), atol=1e-10)
        np.testing.assert_allclose(layer.params["bias"].grad, P[n][1].grad.numpy(), atol=1e-10)
    for n in ("bn0", "bn1", "bn2"):
        layer = model.get_layer(n)
        np.testing.assert_allclose(layer.params["gamma"].grad, B[n][0].grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(layer.params["beta"].grad, B[n][1].grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(model.get_layer("fc").params["kernel"].grad, fc_w.grad.numpy(), atol=1e-10)
