"""minicnn.inspect: every result is compared with a direct computation
(manual layer chaining, float64 numerical gradients, explicit loops)."""
import numpy as np
import pytest

import minicnn as mc
from minicnn import inspect as ins
from minicnn.testing import numerical_gradient, relative_error


def to_float64(model):
    for layer in model.layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)
    return model


def small_cnn(seed=0, softmax=True):
    """CONV-RELU-MAXP-CONV-RELU-FLATTEN-DENSE(tanh)-DENSE(softmax), float64."""
    return to_float64(mc.Sequential([
        mc.Input((6, 6, 2)),
        mc.Conv2D(3, 3, padding="same", name="c1"), mc.ReLU(name="r1"), mc.MaxPool2D(2, name="p1"),
        mc.Conv2D(4, 2, padding="same", name="c2"), mc.ReLU(name="r2"),
        mc.Flatten(name="flat"), mc.Dense(5, activation="tanh", name="fc1"),
        mc.Dense(3, activation="softmax" if softmax else None, name="out"),
    ], seed=seed))


def gap_cnn(seed=1):
    """conv -> GlobalAvgPool2D -> Dense: the network CAM needs."""
    return to_float64(mc.Sequential([
        mc.Input((8, 8, 2)),
        mc.Conv2D(4, 3, padding="same", name="c1"), mc.ReLU(name="r1"),
        mc.Conv2D(5, 3, name="c2"), mc.ReLU(name="feat"),
        mc.GlobalAvgPool2D(name="gap"), mc.Dropout(0.3, name="drop"), mc.Dense(3, activation="softmax", name="out"),
    ], seed=seed))


def residual_cnn(seed=2):
    x = mc.Input((5, 5, 2))
    h = mc.Conv2D(3, 3, padding="same", name="stem")(x)
    r = mc.ReLU(name="stem_relu")(h)
    b = mc.Conv2D(3, 3, padding="same", name="branch")(r)
    s = mc.Add(name="add")([b, r])
    a = mc.ReLU(name="block_relu")(s)
    y = mc.Dense(4, name="logits")(mc.Flatten(name="flat")(a))
    y = mc.Softmax(name="softmax")(y)
    return to_float64(mc.Model(x, y, seed=seed))


def no_hooks(model):
    return all(not l._forward_hooks and not l._backward_hooks for l in model.layers)


@pytest.fixture
def x6():
    return np.random.default_rng(0).normal(size=(3, 6, 6, 2))


# ----------------------------------------------------------------- activations
def test_activations_equal_manual_chain(x6):
    model = small_cnn()
    acts = ins.activations(model, x6)
    assert list(acts) == ["c1", "r1", "p1", "c2", "r2", "flat", "fc1", "out"]  # graph order
    h = x6
    for layer in model.layers:  # chain the layers by hand
        h = layer.forward(h)
        np.testing.assert_allclose(acts[layer.name], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(acts["out"], model.forward(x6), rtol=1e-12)
    assert no_hooks(model)
    # a subset comes back in graph order whatever the order asked
    assert list(ins.activations(model, x6, layers=["fc1", "c1"])) == ["c1", "fc1"]


def test_activations_of_a_residual_graph():
    model = residual_cnn()
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 2))
    acts = ins.activations(model, x, batch_size=1)
    stem = model.get_layer("stem").forward(x)
    r = np.maximum(stem, 0)
    b = model.get_layer("branch").forward(r)
    np.testing.assert_allclose(acts["add"], b + r, rtol=1e-12)
    np.testing.assert_allclose(acts["block_relu"], np.maximum(b + r, 0), rtol=1e-12)
    np.testing.assert_allclose(acts["softmax"], model.forward(x), rtol=1e-12)


def test_hooks_removed_also_after_an_exception(x6):
    model = small_cnn()
    layer = model.get_layer("c2")
    original = layer._forward

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    layer._forward = broken
    with pytest.raises(RuntimeError, match="boom"):
        ins.activations(model, x6)
    layer._forward = original
    assert no_hooks(model)
    # after removal, forward passes no longer reach a previous result
    acts = ins.activations(model, x6[:1])
    before = {k: v.copy() for k, v in acts.items()}
    model.forward(x6)
    for k in acts:
        np.testing.assert_array_equal(acts[k], before[k])


def test_a_users_own_hook_survives_and_stops_after_its_removal(x6):
    """Inspection removes only the hooks it added; a removed hook is called no more."""
    model = small_cnn()
    seen = []
    handle = model.get_layer("r1").register_forward_hook(lambda layer, inputs, out: seen.append(out.copy()))
    acts = ins.activations(model, x6)
    ins.saliency(model, x6, 0)
    assert len(seen) == 2 and len(model.get_layer("r1")._forward_hooks) == 1
    np.testing.assert_array_equal(seen[0], acts["r1"])  # both hooks saw the same array
    handle.remove()
    model.forward(x6)
    ins.activations(model, x6)
    assert len(seen) == 2 and no_hooks(model)


# ----------------------------------------------------------------- gradients
def _scalar(model, x, target):
    """The target's value summed over the batch, computed without minicnn.inspect.gradients."""
    kind = target[0]
    if kind == "class":
        k = np.broadcast_to(target[1], (len(x),))
        return model.forward(x, logits=True)[np.arange(len(x)), k].sum()
    out = ins.activations(model, x, layers=[target[1]])[target[1]]
    j = np.broadcast_to(target[2], (len(x),))
    if kind == "unit":
        return out[np.arange(len(x)), j].sum()
    return sum(out[n, ..., j[n]].mean() for n in range(len(x)))


@pytest.mark.parametrize("target", [
    ("class", 2), ("class", np.array([0, 2, 1])),
    ("unit", "fc1", 3), ("unit", "fc1", np.array([4, 0, 1])),
    ("filter", "c1", 1), ("filter", "r2", 3), ("filter", "p1", 0),
])
def test_input_gradient_equals_numerical_gradient(x6, target):
    model = small_cnn()
    dx = ins.input_gradient(model, x6, target)
    assert dx.shape == x6.shape
    num = numerical_gradient(lambda: _scalar(model, x6, target), x6)
    assert relative_error(dx, num) < 1e-6


def test_a_plain_int_target_means_a_class(x6):
    model = small_cnn()
    np.testing.assert_array_equal(ins.input_gradient(model, x6, 2), ins.input_gradient(model, x6, ("class", 2)))
    per_sample = np.array([0, 2, 1])
    np.testing.assert_array_equal(ins.input_gradient(model, x6, per_sample),
                                  ins.input_gradient(model, x6, ("class", per_sample)))
    values, dx = ins.objective_and_gradient(model, x6, np.int64(1))
    np.testing.assert_allclose(values, model.forward(x6, logits=True)[:, 1], rtol=1e-12)
    with pytest.raises(ValueError, match=r"input_gradient: target=\('class', 3\): class index 3 out of range 0..2"):
        ins.input_gradient(model, x6, 3)
    with pytest.raises(ValueError, match="target must be a class index k"):
        ins.input_gradient(model, x6, True)


def test_inspection_does_not_freeze_the_model_while_it_runs(x6):
    """Input gradients come from backward(param_grads=False), not from setting trainable=False
    for a while: a hook (or another thread) looking at the model meanwhile sees it unchanged."""
    model = small_cnn()
    seen = []
    model.get_layer("c1").register_backward_hook(
        lambda layer, gin, gout: seen.append([l.trainable for l in model.layers]))
    ins.input_gradient(model, x6, ("class", 0))
    assert seen == [[True] * len(model.layers)]
    assert all(p.grad is None for l in model.layers for p in l.params.values())


def test_class_target_is_the_logit_not_the_probability(x6):
    """Same weights with and without the final softmax: identical class gradients."""
    with_softmax, linear = small_cnn(seed=3, softmax=True), small_cnn(seed=3, softmax=False)
    g1 = ins.input_gradient(with_softmax, x6, ("class", 1))
    g2 = ins.input_gradient(linear, x6, ("class", 1))
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    prob = numerical_gradient(lambda: with_softmax.forward(x6)[:, 1].sum(), x6)
    assert relative_error(g1, prob) > 1e-2  # the probability's gradient is a different thing


def test_input_gradient_with_separate_softmax_layer_and_residual():
    model = residual_cnn()
    x = np.random.default_rng(4).normal(size=(2, 5, 5, 2))
    for target in [("class", 3), ("filter", "add", 2), ("unit", "logits", 0)]:
        dx = ins.input_gradient(model, x, target)
        num = numerical_gradient(lambda: _scalar(model, x, target), x)
        assert relative_error(dx, num) < 1e-6, target


def test_saliency_is_max_abs_gradient_over_channels(x6):
    model = small_cnn()
    sal = ins.saliency(model, x6, 1)
    dx = numerical_gradient(lambda: _scalar(model, x6, ("class", 1)), x6)
    np.testing.assert_allclose(sal, np.abs(dx).max(axis=-1), rtol=1e-5, atol=1e-9)
    pred = model.forward(x6).argmax(axis=1)
    np.testing.assert_allclose(ins.saliency(model, x6), ins.saliency(model, x6, pred))


def test_errors_name_the_function_the_argument_and_the_value(x6):
    """Bad layer names, wrong ranks, out-of-range classes: ValueError saying who, which argument, what value."""
    model, gm = small_cnn(), gap_cnn()
    x8 = np.zeros((2, 8, 8, 2))
    cases = [
        (lambda: ins.input_gradient(model, x6, ("class", 3)),
         r"input_gradient: target=\('class', 3\): class index 3 out of range 0\.\.2"),
        (lambda: ins.input_gradient(model, x6, ("unit", "c1", 0)), r"input_gradient: .*'unit' needs a 2-D output"),
        (lambda: ins.input_gradient(model, x6, ("filter", "nope", 0)),
         r"input_gradient: target layer='nope' is not a layer of model .*\['c1', 'r1'"),
        (lambda: ins.input_gradient(model, x6, ("filter", "c2", 4)),
         r"input_gradient: target=\('filter', 'c2', 4\): filter index 4 out of range 0\.\.3"),
        (lambda: ins.input_gradient(model, x6, ("logit", 0)), r"input_gradient: target must be .*\('logit', 0\)"),
        (lambda: ins.input_gradient(model, x6[0], ("class", 0)),
         r"input_gradient: x must have shape \(N, 6, 6, 2\) .*x\.shape=\(6, 6, 2\).*x\[None\]"),
        (lambda: ins.saliency(model, x6, 5), r"saliency: class_index=5: class index 5 out of range 0\.\.2"),
        (lambda: ins.saliency(model, x6, [0, 1]), r"saliency: class_index=\[0, 1\]: .*shape \(3,\)"),
        (lambda: ins.grad_cam(model, x6, 7), r"grad_cam: class_index=7: class 7 out of range 0\.\.2"),
        (lambda: ins.grad_cam(model, x6, 0, layer="fc1"), r"grad_cam: layer='fc1' outputs shape"),
        (lambda: ins.grad_cam(model, x6, 0, layer="conv9"), r"grad_cam: layer='conv9' is not a layer"),
        (lambda: ins.hires_cam(model, x6[..., :1], 0), r"hires_cam: x must have shape \(N, 6, 6, 2\)"),
        (lambda: ins.class_activation_map(gm, x8, -1), r"class_activation_map: class_index=-1: class -1 out"),
        (lambda: ins.class_activation_map(model, x6, 0), r"class_activation_map: .* no GlobalAvgPool2D"),
        (lambda: ins.activations(model, x6, layers=["r1", "bad"]), r"activations: layers='bad' is not a layer"),
        (lambda: ins.activations(model, x6, batch_size=0), r"activations: batch_size must be .* got 0"),
        (lambda: ins.activation_maximization(model, "out", 3, steps=1),
         r"activation_maximization: index=3: class index 3 out of range 0\.\.2"),
        (lambda: ins.activation_maximization(model, "nope", 0), r"activation_maximization: layer='nope'"),
        (lambda: ins.filter_statistics(model, x6, [0, 1], "r1"), r"filter_statistics: 3 images .* but 2 labels"),
        (lambda: ins.filter_statistics(model, x6, [0, 1, 0], "flatt"), r"filter_statistics: layer='flatt'"),
        (lambda: ins.features(model, x6, "zzz"), r"features: layer='zzz'"),
        (lambda: ins.confusion_matrix(model, x6, np.zeros((3, 2, 2))), r"confusion_matrix: y must be"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
        assert no_hooks(model) and no_hooks(gm)
    # a single layer name is one layer, not a string's characters
    assert list(ins.activations(model, x6, layers="c1")) == ["c1"]


# ----------------------------------------------------------------- CAM
def test_grad_cam_equals_relu_cam_up_to_a_positive_scale():
    model = gap_cnn()
    x = np.random.default_rng(5).normal(size=(4, 8, 8, 2))
    c = np.array([0, 1, 2, 1])
    cam = ins.class_activation_map(model, x, c)
    gcam = ins.grad_cam(model, x, c)  # default layer: the last 4-D output, "feat"
    assert ins.default_cam_layer(model) == "feat"
    assert cam.shape == gcam.shape == (4, 6, 6)
    relu_cam = np.maximum(cam, 0)
    for n in range(len(x)):
        scale = gcam[n].sum() / relu_cam[n].sum()
        assert scale > 0
        np.testing.assert_allclose(gcam[n], scale * relu_cam[n], rtol=1e-10, atol=1e-12)
        assert scale == pytest.approx(1 / 36)  # d logit / dA = w / (h w)
    # the CAM's mean is the class score minus the bias
    bias = model.get_layer("out").params["bias"].value
    logits = model.forward(x, logits=True)
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias[c], logits[np.arange(4), c], rtol=1e-10)


def test_grad_cam_on_an_inner_layer_matches_numerical_gradients(x6):
    model = small_cnn()
    c = 2
    A = ins.activations(model, x6, layers=["c2"])["c2"]
    # alpha_f = mean over positions of d logit / d A: perturb A by running the rest of the net by hand
    rest = [model.get_layer(n) for n in ("r2", "flat", "fc1")]

    def logit_from_A():
        h = A
        for layer in rest:
            h = layer.forward(h)
        out = model.get_layer("out")
        return (h @ out.params["kernel"].value + out.params["bias"].value)[:, c].sum()

    dA = numerical_gradient(logit_from_A, A)
    expected = np.maximum(np.einsum("nijf,nf->nij", A, dA.mean(axis=(1, 2))), 0)
    np.testing.assert_allclose(ins.grad_cam(model, x6, c, layer="c2"), expected, rtol=1e-6, atol=1e-9)


def test_hires_cam_splits_the_logit_over_positions():
    """Conv - ReLU - MaxPool - Flatten - Dense: the un-rectified map sums to logit - bias."""
    model = to_float64(mc.Sequential([
        mc.Input((6, 6, 1)), mc.Conv2D(4, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2, name="pool"),
        mc.Flatten(), mc.Dense(3, activation="softmax", name="out")], seed=6))
    x = np.random.default_rng(6).normal(size=(3, 6, 6, 1))
    c = np.array([2, 0, 1])
    maps = ins.hires_cam(model, x, c, relu=False)
    assert maps.shape == (3, 3, 3)
    logits = model.forward(x, logits=True)[np.arange(3), c]
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), logits - model.get_layer("out").params["bias"].value[c])
    np.testing.assert_allclose(ins.hires_cam(model, x, c), np.maximum(maps, 0))
    # on a GAP network it is CAM / (h w), like Grad-CAM
    gm = gap_cnn()
    x8 = np.random.default_rng(5).normal(size=(2, 8, 8, 2))
    np.testing.assert_allclose(ins.hires_cam(gm, x8, 1, relu=False), ins.class_activation_map(gm, x8, 1) / 36,
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ins.grad_cam(gm, x8, 1, relu=False), ins.class_activation_map(gm, x8, 1) / 36,
                               rtol=1e-10, atol=1e-14)


def test_cam_needs_gap_and_upsample(x6):
    with pytest.raises(ValueError, match="GlobalAvgPool2D"):
        ins.class_activation_map(small_cnn(), x6, 0)
    # GAP -> Dense -> a separate Softmax layer: the logit is still linear in the features
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 1))
    inp = mc.Input((6, 6, 1))
    feats = mc.ReLU()(mc.Conv2D(3, 3, padding="same")(inp))
    logits = mc.Dense(2, name="logits")(mc.GlobalAvgPool2D()(feats))
    sm = to_float64(mc.Model(inp, mc.Softmax()(logits), seed=0))
    cam = ins.class_activation_map(sm, x, 1)
    bias = sm.get_layer("logits").params["bias"].value[1]
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias, sm.forward(x, logits=True)[:, 1], rtol=1e-10)
    # a non-linear head is not what CAM's formula describes
    relu_head = mc.Sequential([mc.Input((6, 6, 1)), mc.Conv2D(3, 3), mc.GlobalAvgPool2D(),
                               mc.Dense(2, activation="relu")], seed=0)
    with pytest.raises(ValueError, match="class_activation_map: .*use grad_cam"):
        ins.class_activation_map(relu_head, x, 0)
    maps = np.random.default_rng(0).random((2, 3, 3))
    up = ins.upsample_to_input(maps, (6, 6), method="nearest")
    assert up.shape == (2, 6, 6)
    np.testing.assert_array_equal(up[:, ::2, ::2], maps)
    np.testing.assert_allclose(ins.upsample_to_input(np.full((1, 2, 2), 3.0), (8, 8)), 3.0)


# ----------------------------------------------------------------- maximization
def test_total_variation_gradient_is_exact():
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 2))
    num = numerical_gradient(lambda: ins.total_variation(x).sum(), x)
    assert relative_error(ins.total_variation_gradient(x), num) < 1e-8
    direct = sum(((x[0, i + 1, j] - x[0, i, j]) ** 2).sum() for i in range(3) for j in range(5)) + \
        sum(((x[0, i, j + 1] - x[0, i, j]) ** 2).sum() for i in range(4) for j in range(4))
    assert ins.total_variation(x)[0] == pytest.approx(direct)


def test_gaussian_blur_matches_scipy():
    from scipy.ndimage import gaussian_filter1d
    x = np.random.default_rng(1).random((2, 9, 7, 3))
    expected = gaussian_filter1d(gaussian_filter1d(x, 1.0, axis=1, mode="mirror", truncate=3.0), 1.0, axis=2,
                                 mode="mirror", truncate=3.0)
    np.testing.assert_allclose(ins.gaussian_blur(x, 1.0), expected, rtol=1e-10)
    assert ins.gaussian_kernel1d(0.7).sum() == pytest.approx(1.0)


def _am(model, **kw):
    base = dict(steps=30, learning_rate=0.05, l2=0.0, total_variation=0.0, jitter=0, blur_every=0, seed=0)
    base.update(kw)
    return ins.activation_maximization(model, **base)


def test_activation_maximization_increases_its_objective():
    model = small_cnn()
    for layer, index in [("out", 1), ("fc1", 2), ("c2", 0)]:
        img, hist = ins.activation_maximization(model, layer, index, steps=40, seed=0)
        assert img.shape == (6, 6, 2) and hist.shape == (41,)
        assert hist[-1] > hist[0], (layer, hist[[0, -1]])
        assert img.min() >= 0 and img.max() <= 1
        # history's last value is the objective of the returned image
        assert hist[-1] == pytest.approx(_scalar(model, img[None], ("class", index) if layer == "out"
                                                 else ("unit" if layer == "fc1" else "filter", layer, index)))
    imgs, hist = ins.activation_maximization(model, "out", [0, 1, 2], steps=20)
    assert imgs.shape == (3, 6, 6, 2) and hist.shape == (21, 3)
    assert np.all(hist[-1] > hist[0])


def test_each_regularizer_does_what_it_says():
    model = small_cnn()
    plain, _ = _am(model, layer="out", index=0, start="noise", value_range=None)
    tv, _ = _am(model, layer="out", index=0, start="noise", value_range=None, total_variation=0.5)
    assert ins.total_variation(tv[None])[0] < ins.total_variation(plain[None])[0]
    l2, _ = _am(model, layer="out", index=0, start="noise", value_range=None, l2=0.5)
    assert np.linalg.norm(l2) < np.linalg.norm(plain)
    blurred, _ = _am(model, layer="out", index=0, start="noise", value_range=None, blur_every=2, blur_sigma=1.0)
    assert ins.total_variation(blurred[None])[0] < ins.total_variation(plain[None])[0]
    clipped, _ = _am(model, layer="out", index=0, start="noise", value_range=(0.2, 0.6), steps=60)
    assert clipped.min() >= 0.2 and clipped.max() <= 0.6 and plain.max() > 0.6
    # jitter: the pattern must work at several shifts, so pixel-level noise does not pay (lower TV)
    jittered, _ = _am(model, layer="out", index=0, start="noise", value_range=None, jitter=1)
    assert ins.total_variation(jittered[None])[0] < 0.7 * ins.total_variation(plain[None])[0]
    # seeded, so reproducible, and a different path than without it
    j1, _ = _am(model, layer="out", index=0, jitter=2, seed=5)
    j2, _ = _am(model, layer="out", index=0, jitter=2, seed=5)
    np.testing.assert_array_equal(j1, j2)
    assert not np.allclose(j1, _am(model, layer="out", index=0)[0])


# ----------------------------------------------------------------- statistics
def test_filter_statistics_equals_a_direct_loop(x6):
    model = small_cnn()
    x = np.concatenate([x6, -x6, 0.5 * x6])
    y = np.array([0, 1, 1, 2, 0, 2, 1, 1, 0])
    stats = ins.filter_statistics(model, x, y, "r1", batch_size=4)
    A = ins.activations(model, x, layers=["r1"])["r1"]  # (9, 6, 6, 3)
    K, (h, w, F) = 3, A.shape[1:]
    np.testing.assert_array_equal(stats.classes, [0, 1, 2])
    np.testing.assert_array_equal(stats.counts, [3, 4, 2])
    for k in range(K):
        members = [n for n in range(len(x)) if y[n] == k]
        for f in range(F):
            expected = np.mean([A[n, :, :, f].mean() for n in members])
            assert stats.mean_activation[k, f] == pytest.approx(expected)
            np.testing.assert_allclose(stats.mean_maps[k, :, :, f], sum(A[n, :, :, f] for n in members) / len(members))
        for i in range(h):
            for j in range(w):
                winners = []
                for n in members:
                    vals = list(A[n, i, j])
                    winners.append(vals.index(max(vals)))  # first maximum = smallest index
                counts = [winners.count(f) for f in range(F)]
                assert stats.mode_maps[k, i, j] == counts.index(max(counts))
    one_hot = np.eye(3)[y]
    np.testing.assert_array_equal(ins.filter_statistics(model, x, one_hot, "r1").mode_maps, stats.mode_maps)


def test_features_confusion_matrix_and_parameter_table(x6):
    model = small_cnn()
    x = np.concatenate([x6, -x6])
    f = ins.features(model, x, "r2", batch_size=4)
    np.testing.assert_allclose(f, ins.activations(model, x)["r2"].reshape(len(x), -1), rtol=1e-12)
    y = np.array([0, 1, 2, 2, 1, 0])
    pred = model.forward(x).argmax(axis=1)
    cm = ins.confusion_matrix(model, x, y, batch_size=4)
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(y, pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    table = ins.parameter_table(model)
    counts = {r.name: r.params for r in table}
    assert counts == {"c1": 3 * 3 * 2 * 3 + 3, "r1": 0, "p1": 0, "c2": 2 * 2 * 3 * 4 + 4, "r2": 0, "flat": 0,
                      "fc1": 3 * 3 * 4 * 5 + 5, "out": 5 * 3 + 3}
    assert table.total == model.count_params() == sum(counts.values())
    assert table[0].output_shape == (None, 6, 6, 3) and "total" in str(table)


def test_tsne_is_seeded_and_keeps_clusters():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 0.1, (15, 5)), rng.normal(5, 0.1, (15, 5))])
    e1, e2 = ins.tsne(feats, seed=0, max_iter=500), ins.tsne(feats, seed=0, max_iter=500)
    assert e1.shape == (30, 2)
    np.testing.assert_allclose(e1, e2)
    # every point's nearest neighbour in the map is from its own cluster
    d = np.linalg.norm(e1[:, None] - e1[None], axis=-1) + np.eye(30) * 1e9
    assert np.all((d.argmin(axis=1) < 15) == (np.arange(30) < 15))


# ----------------------------------------------------------------- no side effects
def test_no_gradients_or_hooks_left_behind(x6):
    model = small_cnn()
    gm = gap_cnn()
    x8 = np.random.default_rng(1).normal(size=(2, 8, 8, 2))
    # a half-accumulated training step must survive inspection untouched
    for m in (model, gm):
        for layer in m.layers:
            for p in layer.params.values():
                p.grad = np.full_like(p.value, 0.25)
    model.get_layer("c1").trainable = False
    calls = [
        lambda: ins.activations(model, x6),
        lambda: ins.input_gradient(model, x6, ("class", 0)),
        lambda: ins.input_gradient(model, x6, ("filter", "c2", 1)),
        lambda: ins.saliency(model, x6),
        lambda: ins.activation_maximization(model, "out", 0, steps=3),
        lambda: ins.grad_cam(model, x6, 0),
        lambda: ins.class_activation_map(gm, x8, 1),
        lambda: ins.grad_cam(gm, x8, 1),
        lambda: ins.hires_cam(model, x6, 2, layer="r2"),
        lambda: ins.filter_statistics(model, x6, [0, 1, 0], "r1"),
        lambda: ins.features(model, x6, "fc1"),
        lambda: ins.confusion_matrix(model, x6, [0, 1, 2]),
    ]
    weights = [w.copy() for w in model.get_weights()]
    for call in calls:
        call()
        for m in (model, gm):
            assert no_hooks(m)
            for layer in m.layers:
                for p in layer.params.values():
                    np.testing.assert_array_equal(p.grad, 0.25)
    assert [l.trainable for l in model.layers] == [l.name != "c1" for l in model.layers]
    for w, w0 in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, w0)
    model.zero_grad()
    ins.input_gradient(model, x6, ("class", 0))
    assert all(p.grad is None for l in model.layers for p in l.params.values())


# ----------------------------------------------------------------- report
def test_write_inspection_report_writes_readable_pngs(tmp_path):
    import matplotlib.image as mpimg
    from minicnn.inspect.report import example_indices, write_inspection_report

    model = mc.Sequential([mc.Input((8, 8, 1)), mc.Conv2D(4, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
                           mc.Flatten(), mc.Dense(3, activation="softmax")], seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((12, 8, 8, 1)).astype(np.float32)
    y = np.arange(12) % 3
    figures = write_inspection_report(model, x, y, ["a", "b", "c"], tmp_path / "rep", n_examples=3,
                                      maximization_steps=5)
    names = [p.name for _, p in figures]
    assert names == ["filters_first_layer.png", "activation_maps.png", "saliency.png", "grad_cam.png",
                     "hires_cam.png", "confusion_matrix.png", "filter_statistics.png",
                     "activation_maximization.png"]
    for title, path in figures:
        assert path.parent == tmp_path / "rep" and title
        img = mpimg.imread(path)
        assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert no_hooks(model)
    titles = dict((p.name, t) for t, p in figures)
    # a Grad-CAM that is 0 everywhere is shown before its ReLU, and the title says so
    examples = x[example_indices(y, 3)]
    zero = not np.any(ins.grad_cam(model, examples, ins.predicted_classes(model, examples)) > 0)
    assert ("before" in titles["grad_cam.png"]) == zero
    np.testing.assert_array_equal(example_indices(y, 4), [0, 1, 2, 3])
    # a network without conv layers gets the figures that apply to it
    dense = mc.Sequential([mc.Input((8, 8, 1)), mc.Flatten(), mc.Dense(3, activation="softmax")], seed=0)
    figures = write_inspection_report(dense, x, y, None, tmp_path / "dense", maximization_steps=0)
    assert [p.name for _, p in figures] == ["saliency.png", "confusion_matrix.png"]


# ----------------------------------------------------------------- against PyTorch
def test_saliency_and_grad_cam_match_pytorch():
    """The same CNN in PyTorch (weights copied, layouts converted): torch.autograd gives
    the saliency (Simonyan et al.) and Grad-CAM (Selvaraju et al.) references."""
    torch = pytest.importorskip("torch")
    model = to_float64(mc.Sequential([
        mc.Input((6, 6, 2)),
        mc.Conv2D(3, 3, padding="same", name="c1"), mc.ReLU(name="r1"), mc.MaxPool2D(2, name="p1"),
        mc.Conv2D(4, 2, padding="valid", name="c2"), mc.ReLU(name="r2"),
        mc.Flatten(name="flat"), mc.Dense(3, activation="softmax", name="out")], seed=7))
    for layer in model.layers:  # non-zero biases, so they are copied and compared too
        if "bias" in layer.params:
            layer.params["bias"].value = np.random.default_rng(1).normal(size=layer.params["bias"].value.shape)
    x = np.random.default_rng(8).normal(size=(4, 6, 6, 2))
    c = np.array([0, 2, 1, 2])

    def conv(layer, padding):
        k = layer.params["kernel"].value                      # (KH, KW, Cin, Cout): Keras layout
        t = torch.nn.Conv2d(k.shape[2], k.shape[3], k.shape[:2], padding=padding, dtype=torch.float64)
        t.weight.data = torch.tensor(k.transpose(3, 2, 0, 1))  # -> (Cout, Cin, KH, KW)
        t.bias.data = torch.tensor(layer.params["bias"].value)
        return t

    c1, c2 = conv(model.get_layer("c1"), 1), conv(model.get_layer("c2"), 0)
    dense = model.get_layer("out")
    fc = torch.nn.Linear(*dense.params["kernel"].value.shape, dtype=torch.float64)
    fc.weight.data = torch.tensor(dense.params["kernel"].value.T)  # (in, out) -> (out, in)
    fc.bias.data = torch.tensor(dense.params["bias"].value)

    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)  # NHWC -> NCHW
    a = torch.relu(c2(torch.nn.functional.max_pool2d(torch.relu(c1(xt)), 2)))  # r2: (N, 4, 2, 2)
    a.retain_grad()
    # minicnn flattens (H, W, C); torch's tensor is (C, H, W): permute before flattening
    logits = fc(a.permute(0, 2, 3, 1).reshape(len(x), -1))
    np.testing.assert_allclose(logits.detach().numpy(), model.forward(x, logits=True), rtol=1e-10)
    logits[torch.arange(len(x)), torch.tensor(c)].sum().backward()

    sal_ref = xt.grad.abs().amax(dim=1).numpy()                           # max over channels of |d score / dx|
    np.testing.assert_allclose(ins.saliency(model, x, c), sal_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ins.input_gradient(model, x, ("class", c)),
                               xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-14)

    A, dA = a.detach(), a.grad
    alpha = dA.mean(dim=(2, 3), keepdim=True)                               # (N, F, 1, 1)
    gcam_ref = torch.relu((alpha * A).sum(dim=1)).numpy()                   # (N, h, w)
    assert (gcam_ref > 0).sum() >= 4  # a comparison of maps, not of zeros
    np.testing.assert_allclose(ins.grad_cam(model, x, c, layer="r2"), gcam_ref, rtol=1e-10, atol=1e-14)
    hires_ref = torch.relu((dA * A).sum(dim=1)).numpy()
    np.testing.assert_allclose(ins.hires_cam(model, x, c, layer="r2"), hires_ref, rtol=1e-10, atol=1e-14)
    assert ins.default_cam_layer(model) == "r2"
    assert no_hooks(model)


def test_activation_maximization_defaults_draw_the_class():
    """On a small trained CNN (vertical bar / horizontal bar / diagonal, 12x12 images in 0..1),
    the default settings produce, for each class, an image that looks most like that class:
    it correlates best with the class's mean training image."""
    rng = np.random.default_rng(0)
    templates = np.zeros((3, 12, 12))
    templates[0, 2:10, 5:7] = 1
    templates[1, 5:7, 2:10] = 1
    templates[2, 2:10, 2:10] = np.eye(8)
    y = np.arange(300) % 3
    x = np.stack([np.clip(np.roll(templates[k], rng.integers(-2, 3, size=2), axis=(0, 1)) * rng.uniform(0.6, 1)
                          + 0.15 * rng.random((12, 12)), 0, 1) for k in y])[..., None].astype(np.float32)
    model = mc.Sequential([mc.Input((12, 12, 1)), mc.Conv2D(8, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
                           mc.Flatten(), mc.Dense(3, activation="softmax", name="out")], seed=0)
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, np.eye(3)[y], epochs=12, batch_size=32, seed=0, verbose=0)
    images, history = ins.activation_maximization(model, "out", [0, 1, 2])  # the defaults
    assert np.all(history[-1] > history[0])
    assert images.min() >= 0 and images.max() <= 1  # a valid input, in the data's range

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())

    means = [x[y == k, ..., 0].mean(axis=0) for k in range(3)]
    similarity = np.array([[corr(images[i, ..., 0], means[j]) for j in range(3)] for i in range(3)])
    np.testing.assert_array_equal(similarity.argmax(axis=1), [0, 1, 2])
    np.testing.assert_array_equal(model.predict(images).argmax(axis=1), [0, 1, 2])
