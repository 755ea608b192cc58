"""Models: the graph engine, summary counts, fit/evaluate/predict, saving, seeds, callbacks."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.testing import numerical_gradient, relative_error

from conftest import to_float64


def pw09_net(seed=0):
    """The PW09 exercise 1 network (Keras counts: 896, 9248, 9248, 20490 -> 39,882)."""
    return mc.Sequential([
        mc.Input((32, 32, 3)),
        mc.Conv2D(32, 3, padding="same"), mc.ReLU(),
        mc.Conv2D(32, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
        mc.Conv2D(32, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
        mc.Flatten(), mc.Dense(10, activation="softmax"),
    ], seed=seed)


def small_residual(seed=0):
    x = mc.Input((6, 6, 2))
    a = mc.Conv2D(3, 3, padding="same", name="stem")(x)
    b = mc.ReLU()(a)
    b = mc.Conv2D(3, 3, padding="same")(b)
    s = mc.Add()([b, a])           # `a` is used twice: by the block and by the shortcut
    s = mc.ReLU()(s)
    f = mc.Flatten()(mc.MaxPool2D(2)(s))
    return mc.Model(x, mc.Dense(4, activation="softmax")(f), seed=seed)


def test_summary_counts_match_keras():
    model = pw09_net()
    text = model.summary(print_fn=None)
    counts = [l.count_params() for l in model.layers]
    assert [c for c in counts if c] == [896, 9248, 9248, 20490]
    assert "Total params: 39,882" in text and "Trainable params: 39,882" in text
    assert "conv2d_2 (Conv2D)" in text and "(None, 8, 8, 32)" in text


def test_summary_non_trainable_batchnorm():
    model = mc.Sequential([mc.Input((4, 4, 3)), mc.Conv2D(8, 3), mc.BatchNorm(), mc.Flatten(), mc.Dense(2)])
    text = model.summary(print_fn=None)
    # conv 3*3*3*8+8 = 224, BN 4*8 = 32 (16 non-trainable), dense 32*2+2 = 66
    assert "Total params: 322" in text and "Trainable params: 306" in text and "Non-trainable params: 16" in text


def test_tiny_vgg_counts_match_keras():
    model = mc.Sequential([
        mc.Input((32, 32, 3)),
        mc.Conv2D(32, 3, padding="same", activation="relu"), mc.Conv2D(32, 3, padding="same", activation="relu"),
        mc.MaxPool2D(2),
        mc.Conv2D(64, 3, padding="same", activation="relu"), mc.Conv2D(64, 3, padding="same", activation="relu"),
        mc.MaxPool2D(2), mc.Flatten(), mc.Dense(128, activation="relu"), mc.Dense(10, activation="softmax"),
    ])
    # 896 + 9248 + 18496 + 36928 + 4096*128+128 + 1290 (Keras' summary of the same net)
    assert model.count_params() == 896 + 9248 + 18496 + 36928 + 524416 + 1290


def test_functional_input_gradient_with_tensor_used_twice(rng):
    model = small_residual()
    to_float64(model)
    x = rng.standard_normal((2, 6, 6, 2))
    y = model.forward(x, training=True)
    upstream = rng.standard_normal(y.shape)
    model.zero_grad()
    dx = model.backward(upstream)
    numeric = numerical_gradient(lambda: float(np.sum(model.forward(x) * upstream)), x, h=1e-5)
    assert relative_error(dx, numeric) < 1e-6
    stem = model.get_layer("stem").params["kernel"]
    model.zero_grad()
    model.forward(x)
    model.backward(upstream)
    num_k = numerical_gradient(lambda: float(np.sum(model.forward(x) * upstream)), stem.value, h=1e-5)
    assert relative_error(stem.grad, num_k) < 1e-6


def test_sequential_equals_functional_and_layer_chain(rng):
    seq = pw09_net(seed=3)
    x = rng.standard_normal((2, 32, 32, 3)).astype(np.float32)
    out = x
    for layer in seq.layers:
        out = layer.forward(out)
    np.testing.assert_allclose(seq.predict(x), out, rtol=1e-5, atol=1e-6)
    inp = mc.Input((32, 32, 3))
    t = inp
    for layer in seq.layers:
        t = layer(t)
    functional = mc.Model(inp, t)
    np.testing.assert_allclose(functional.predict(x), out, rtol=1e-5, atol=1e-6)


def test_logits_skip_final_softmax(rng):
    model = small_residual()
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    z = model.forward(x, logits=True)
    p = model.forward(x)
    e = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(1, keepdims=True), rtol=1e-5)


def test_same_seed_same_weights_and_training():
    def run():
        model = pw09_net(seed=5)
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        x = np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32)
        y = np.arange(16) % 10
        model.fit(x, y, epochs=1, batch_size=8, seed=1, verbose=0)
        return model.get_weights()
    w1, w2 = run(), run()
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    w3 = pw09_net(seed=6).get_weights()
    assert not np.array_equal(pw09_net(seed=5).get_weights()[0], w3[0])


def test_validation_split_takes_last_samples_and_is_never_augmented():
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)
    y = np.arange(20) % 2
    model = mc.Sequential([mc.Input((2, 2, 1)), mc.Flatten(), mc.Dense(2, activation="softmax")], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    augmented = []

    def spy(batch):
        augmented.extend(batch[:, 0, 0, 0].tolist())
        return batch

    forward_inputs = []
    handle = model.layers[0].register_forward_hook(lambda l, inp, out: forward_inputs.append(inp[0][:, 0, 0, 0].copy()))
    history = model.fit(x, y, epochs=2, batch_size=4, validation_split=0.25, augment=spy, verbose=0, seed=0)
    handle.remove()
    assert sorted(augmented) == sorted(list(range(15)) * 2)      # training samples only: the first 15
    seen = np.concatenate(forward_inputs)
    assert set(seen) == set(range(20))                             # validation (15..19) was evaluated
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["val_loss"]) == 2


def test_validation_data_is_not_augmented():
    x = np.zeros((8, 2, 2, 1), np.float32)
    calls = []
    model = mc.Sequential([mc.Input((2, 2, 1)), mc.Flatten(), mc.Dense(2, activation="softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, np.zeros(8, int), epochs=1, batch_size=8, verbose=0,
              validation_data=(np.ones((3, 2, 2, 1), np.float32), np.zeros(3, int)),
              augment=lambda b: calls.append(b.copy()) or b)
    assert len(calls) == 1 and calls[0].shape == (8, 2, 2, 1) and not calls[0].any()


def test_save_load_identical_predictions(tmp_path, rng):
    for model in (pw09_net(seed=1), small_residual(seed=2)):
        model.compile(mc.Adam(learning_rate=3e-4), "categorical_crossentropy", ["accuracy"])
        x = rng.standard_normal((4,) + model.input_shape[1:]).astype(np.float32)
        path = tmp_path / f"{model.name}.npz"
        model.save(path)
        loaded = mc.load_model(path)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
        assert loaded.optimizer.learning_rate == 3e-4 and loaded.loss.name == "categorical_crossentropy"
        with np.load(path, allow_pickle=False) as archive:  # no pickled objects inside
            assert "__model__" in archive.files


def test_load_model_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minicnn model file.*without the '__model__' entry"):
        mc.load_model(bad)


def test_set_weights_checks_shapes():
    model = pw09_net()
    weights = model.get_weights()
    model.set_weights(weights)
    with pytest.raises(ValueError, match="expects 8 arrays"):
        model.set_weights(weights[:-1])
    weights[0] = np.zeros((1, 1))
    with pytest.raises(ValueError, match=r"conv2d/kernel: expected shape \(3, 3, 3, 32\)"):
        model.set_weights(weights)


def test_model_input_errors():
    model = pw09_net()
    with pytest.raises(ValueError, match=r"expects shape \(N, 32, 32, 3\), got \(2, 28, 28, 1\)"):
        model.predict(np.zeros((2, 28, 28, 1)))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 32, 32, 3)), np.zeros(2))
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\], got values in \[0, 12\]"):
        model.fit(np.zeros((2, 32, 32, 3)), np.array([0, 12]), verbose=0)
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        model.fit(np.zeros((2, 32, 32, 3)), np.zeros(3), verbose=0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        pw09_net().backward(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("adam", "hinge")
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile("adamw")


def test_incompatible_add_inputs_named():
    x = mc.Input((4, 4, 2))
    a = mc.Conv2D(3, 3, padding="same")(x)
    with pytest.raises(ValueError, match=r"add.*same shape.*\(N, 4, 4, 3\).*\(N, 4, 4, 2\)"):
        mc.Add()([a, x])


def test_lazy_sequential_builds_on_first_data():
    model = mc.Sequential([mc.Flatten(), mc.Dense(3)], seed=0)
    with pytest.raises(ValueError, match="not built"):
        model.summary(print_fn=None)
    out = model.predict(np.ones((2, 4, 2, 1)))
    assert out.shape == (2, 3) and model.count_params() == 8 * 3 + 3


def test_first_layer_input_shape_argument():
    model = mc.Sequential([mc.Dense(4, input_shape=(3,)), mc.Dense(2)])
    assert model.input_shape == (None, 3) and model.count_params() == 16 + 10


def test_terminate_on_nan_keeps_last_good_weights(capsys):
    model = mc.Sequential([mc.Input((3,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile(mc.SGD(0.1), "sparse_categorical_crossentropy")
    x = np.ones((6, 3), np.float32)
    x[4] = np.nan  # the 3rd batch (size 2) has a NaN
    cb = mc.TerminateOnNaN()
    history = model.fit(x, np.zeros(6, int), epochs=3, batch_size=2, shuffle=False, callbacks=[cb], verbose=0)
    assert "TerminateOnNaN: batch 2" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in model.get_weights())
    # the epoch ends with the logs of its finite batches, and training stops
    assert history.epoch == [0] and np.isfinite(history.history["loss"][0]) and model.stop_training


def test_early_stopping_and_checkpoint(tmp_path):
    model = mc.Sequential([mc.Input((2,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile(mc.SGD(1e-9), "sparse_categorical_crossentropy", ["accuracy"])
    x = np.random.default_rng(0).standard_normal((20, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    stop = mc.EarlyStopping(monitor="val_loss", patience=1, min_delta=1.0)
    ckpt = mc.ModelCheckpoint(tmp_path / "ck-{epoch:02d}.npz")
    history = model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[stop, ckpt], verbose=0)
    # no epoch improves by 1.0 after the first: stops after 1 + patience + 1 = 3 epochs
    assert len(history.epoch) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-01.npz", "ck-02.npz", "ck-03.npz"]


def test_fit_progress_bar_and_verbose_2(capsys):
    model = mc.Sequential([mc.Input((2,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x = np.zeros((10, 2), np.float32)
    model.fit(x, np.zeros(10, int), epochs=1, batch_size=5, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "2/2" in out and "loss=" in out and "accuracy=" in out
    model.fit(x, np.zeros(10, int), epochs=1, batch_size=5, verbose=2)
    assert "Epoch 1/1 - loss:" in capsys.readouterr().out


def test_evaluate_matches_manual_loss(rng):
    model = mc.Sequential([mc.Input((3,)), mc.Dense(4, activation="softmax", kernel_regularizer=mc.l2(0.05))], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x = rng.standard_normal((7, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1, 2])
    p = model.predict(x).astype(np.float64)
    w = model.layers[0].params["kernel"].value.astype(np.float64)
    expected = -np.mean(np.log(p[np.arange(7), y])) + 0.05 * np.sum(w ** 2)
    score = model.evaluate(x, y, batch_size=3)
    assert isinstance(score, list) and len(score) == 2 and model.metrics_names == ["loss", "accuracy"]
    assert score[0] == pytest.approx(expected, rel=1e-5)
    assert score[1] == pytest.approx(np.mean(p.argmax(1) == y))
    assert model.evaluate(x, y, return_dict=True) == {"loss": score[0], "accuracy": score[1]}
    loss, acc = model.evaluate(x, y)  # the course notebooks' unpacking
    assert (loss, acc) == (score[0], score[1])
    # compiled without metrics: Keras returns the loss alone, a float
    model.compile("adam", "sparse_categorical_crossentropy")
    only_loss = model.evaluate(x, y, batch_size=3)
    assert isinstance(only_loss, float) and only_loss == pytest.approx(expected, rel=1e-5)
    assert model.metrics_names == ["loss"]
    # the module-level function keeps returning the dict (the lab runner reads it)
    from minicnn.train import evaluate
    assert evaluate(model, x, y) == {"loss": only_loss}


def test_fit_and_evaluate_accept_a_loader():
    from minicnn.data import ArrayDataset, DataLoader
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = mc.Sequential([mc.Input((4,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile(mc.SGD(0.5), "sparse_categorical_crossentropy", ["accuracy"])
    loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=0)
    history = model.fit(loader, epochs=5, validation_data=DataLoader(ArrayDataset(x, y), batch_size=16), verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    from_arrays = model.evaluate(x, y, batch_size=7, return_dict=True)
    from_loader = model.evaluate(DataLoader(ArrayDataset(x, y), batch_size=16), return_dict=True)
    assert from_loader["loss"] == pytest.approx(from_arrays["loss"], rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(from_loader["accuracy"])


def test_train_on_batch_is_one_step():
    model = mc.Sequential([mc.Input((3,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile(mc.SGD(0.1), "sparse_categorical_crossentropy")
    x, y = np.ones((4, 3), np.float32), np.array([0, 1, 0, 1])
    w0 = model.get_weights()[0].copy()
    loss = model.train_on_batch(x, y)
    p = mc.Sequential([mc.Input((3,)), mc.Dense(2, activation="softmax")], seed=0).predict(x)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), y])), rel=1e-5)
    # dL/dW = x^T (p - onehot) / N ; SGD: w -= 0.1 * grad
    grad = x.T @ (p - np.eye(2)[y]) / 4
    np.testing.assert_allclose(model.get_weights()[0], w0 - 0.1 * grad, rtol=1e-5, atol=1e-6)


def test_load_weights_for_fine_tuning(tmp_path):
    source = pw09_net(seed=1)
    source.save(tmp_path / "src.npz")
    target = pw09_net(seed=2)
    target.load_weights(tmp_path / "src.npz")
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), target.get_weights()))
    # a new 5-class head does not fit: error, or skipped with skip_mismatch
    other = mc.Sequential([mc.Input((32, 32, 3))] + pw09_net().layers[:-1] + [mc.Dense(5, activation="softmax")])
    with pytest.raises(ValueError, match="does not fit"):
        other.load_weights(tmp_path / "src.npz")
    other.load_weights(tmp_path / "src.npz", skip_mismatch=True)
    np.testing.assert_array_equal(other.layers[0].params["kernel"].value, source.layers[0].params["kernel"].value)


def test_functional_summary_shows_connections():
    text = small_residual().summary(print_fn=None)
    add_line = next(line for line in text.splitlines() if line.startswith("add (Add)"))
    assert add_line.rstrip().endswith("conv2d, stem")      # the block and the shortcut
    assert "Connected to" in text
    assert "Connected to" not in pw09_net().summary(print_fn=None)


# ------------------------------------------------------------------ layer names
def test_a_sub_model_never_renames_the_layers_of_the_full_model(tmp_path, rng):
    """The reproduction of the review: a sub-model on one branch renamed conv2d_1 to conv2d,
    and the full model then saved two layers under one key."""
    x = mc.Input((5, 5, 2))
    a = mc.Conv2D(3, 3, padding="same")(x)
    b = mc.Conv2D(3, 3, padding="same")(x)
    m = mc.Model(x, mc.Dense(2)(mc.Flatten()(mc.Add()([a, b]))), seed=0)
    before = [l.name for l in m.layers]
    assert before[1:3] == ["conv2d", "conv2d_1"]
    mc.Model(x, b)
    assert [l.name for l in m.layers] == before
    m.save(tmp_path / "m.npz")
    data = rng.standard_normal((3, 5, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(mc.load_model(tmp_path / "m.npz").predict(data), m.predict(data))


def test_automatic_names_are_numbered_by_the_first_model_and_then_fixed():
    convs = [mc.Conv2D(2, 3, padding="same"), mc.Conv2D(2, 3, padding="same")]
    assert [c.name for c in convs] == ["conv2d", "conv2d"]  # the class's name until a model holds them
    first = mc.Sequential([mc.Input((4, 4, 1))] + convs)
    assert [l.name for l in first.layers] == ["conv2d", "conv2d_1"]
    # a second model holding them (and a new Conv2D) renames nothing; the new one avoids their names
    x = mc.Input((4, 4, 1))
    second = mc.Model(x, mc.Conv2D(2, 1)(convs[1](convs[0](x))))
    assert [l.name for l in second.layers[1:]] == ["conv2d", "conv2d_1", "conv2d_2"]
    # names do not depend on what the session built before: a fresh model starts again at conv2d
    assert pw09_net().layers[0].name == "conv2d" and pw09_net().layers[2].name == "conv2d_1"
    # a name given by hand is kept and skipped
    named = mc.Sequential([mc.Input((3,)), mc.Dense(2, name="dense"), mc.Dense(2)])
    assert [l.name for l in named.layers] == ["dense", "dense_1"]
    # the lazily built Sequential names its layers when they are added
    lazy = mc.Sequential([mc.Dense(2), mc.Dense(2)])
    assert lazy.get_layer("dense_1") is lazy.layers[1]


def test_automatic_names_skip_the_names_of_a_loaded_model(tmp_path):
    pw09_net().save(tmp_path / "m.npz")
    loaded = mc.load_model(tmp_path / "m.npz")
    grown = mc.Sequential([mc.Input((32, 32, 3))] + loaded.layers + [mc.Dense(3)])
    assert grown.layers[-1].name == "dense_1" and loaded.layers[-1].name == "dense"


def test_model_refuses_repeated_names_instead_of_renaming():
    x = mc.Input((4,))
    with pytest.raises(ValueError, match=r"layer names must be unique within a model.*'fc' \(Dense, Dense\)"):
        mc.Model(x, mc.Dense(2, name="fc")(mc.Dense(3, name="fc")(x)))


# ------------------------------------------------------------------ symbolic handles
def test_feature_extractor_from_a_sequential_shares_the_weights(rng):
    model = mc.Sequential([
        mc.Input((8, 8, 1)), mc.Conv2D(3, 3, activation="relu"), mc.MaxPool2D(2), mc.Flatten(),
        mc.Dense(5, activation="relu", name="fc1"), mc.Dense(2, activation="softmax"),
    ], seed=0)
    extractor = mc.Model(inputs=model.input, outputs=model.get_layer("fc1").output)
    x = rng.standard_normal((4, 8, 8, 1)).astype(np.float32)
    chain = x
    for layer in model.layers[:4]:  # the same layers, applied one by one
        chain = layer.forward(chain)
    np.testing.assert_array_equal(extractor.predict(x), chain)
    # shared weights: changing the original changes the extractor
    model.get_layer("fc1").params["bias"].value += 1.0
    np.testing.assert_allclose(extractor.predict(x), np.maximum(_pre_relu(model, x), 0), rtol=1e-6)
    assert extractor.layers[1] is model.layers[0] and [l.name for l in model.layers][3] == "fc1"
    assert model.input is model.inputs[0] and model.output is model.layers[-1].output
    assert model.get_layer("fc1").input is model.layers[2].output


def _pre_relu(model, x):
    h = x
    for layer in model.layers[:3]:
        h = layer.forward(h)
    fc1 = model.get_layer("fc1")
    return h @ fc1.params["kernel"].value + fc1.params["bias"].value


def test_feature_extractor_from_a_functional_model_matches_the_activations(rng):
    model = small_residual(seed=4)
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    add_layer = next(l for l in model.layers if isinstance(l, mc.Add))
    extractor = mc.Model(model.input, add_layer.output)
    seen = {}
    handle = add_layer.register_forward_hook(lambda layer, inputs, out: seen.setdefault("out", out.copy()))
    model.predict(x)
    handle.remove()
    np.testing.assert_array_equal(extractor.predict(x), seen["out"])
    assert add_layer.input == [model.layers[3].output, model.get_layer("stem").output]
    assert model.inputs == [model.input] and model.outputs == [model.output]


def test_symbolic_handles_explain_when_they_do_not_exist():
    with pytest.raises(AttributeError, match=r"dense \(Dense\) has no symbolic output: it has not been called"):
        mc.Dense(2).output
    with pytest.raises(AttributeError, match="not built yet, so it has no inputs"):
        mc.Sequential([mc.Dense(2)]).input
    shared = mc.Dense(3, name="shared")
    x = mc.Input((3,))
    mc.Model(x, shared(shared(x)))
    with pytest.raises(AttributeError, match="shared.*is called at 2 places"):
        shared.output


def test_a_layer_that_does_not_fit_is_not_left_in_a_sequential():
    model = mc.Sequential([mc.Input((4, 4, 1)), mc.Flatten()])
    with pytest.raises(ValueError, match="expected a 4-D input"):
        model.add(mc.Conv2D(2, 3))
    model.add(mc.Dense(2))
    assert [type(l).__name__ for l in model.layers] == ["Flatten", "Dense"]


def test_backward_without_parameter_gradients(rng):
    model = small_residual(seed=1)
    to_float64(model)
    x = rng.standard_normal((2, 6, 6, 2))
    dy = rng.standard_normal((2, 4))
    model.forward(x)
    dx_full = model.backward(dy)
    grads = [p.grad.copy() for l in model.layers for p in l.params.values()]
    model.forward(x)
    dx_only = model.backward(dy, param_grads=False)
    np.testing.assert_array_equal(dx_only, dx_full)
    # untouched: the gradients of the first call were not added to a second time
    for g, p in zip(grads, [p for l in model.layers for p in l.params.values()]):
        np.testing.assert_array_equal(p.grad, g)


def test_keras_weight_handles():
    model = mc.Sequential([mc.Input((4, 4, 1)), mc.Conv2D(2, 3), mc.BatchNorm(), mc.Flatten(),
                           mc.Dense(3, use_bias=False)], seed=0)
    conv, bn, _, dense = model.layers
    assert conv.kernel is conv.params["kernel"] and conv.bias is conv.params["bias"] and dense.bias is None
    np.testing.assert_array_equal(conv.kernel.numpy(), np.asarray(conv.kernel))
    assert conv.kernel.numpy() is not conv.kernel.value  # a copy, as Keras' Variable.numpy()
    # Keras order and split: kernel, bias, gamma, beta, moving_mean, moving_variance, dense kernel
    assert [p.name for p in model.weights] == ["conv2d/kernel", "conv2d/bias", "batch_norm/gamma", "batch_norm/beta",
                                               "batch_norm/moving_mean", "batch_norm/moving_variance",
                                               "dense/kernel"]
    assert [p.name for p in model.trainable_weights] == ["conv2d/kernel", "conv2d/bias", "batch_norm/gamma",
                                                         "batch_norm/beta", "dense/kernel"]
    assert [p.name for p in model.non_trainable_weights] == ["batch_norm/moving_mean", "batch_norm/moving_variance"]
    conv.trainable = False
    assert conv.trainable_weights == [] and conv.non_trainable_weights == conv.weights
    assert model.trainable_weights[0].name == "batch_norm/gamma"
    with pytest.raises(AttributeError, match=r"dense \(Dense\) has no kernel yet"):
        mc.Dense(2).kernel


def test_deep_residual_graph_builds_in_linear_time():
    """60 residual blocks: every tensor is reachable by 2**60 paths; the model must still build at once
    (each tensor visited once when looking for the graph's inputs)."""
    import time
    x = mc.Input((4,))
    h = x
    for _ in range(60):
        h = mc.Add()([mc.Dense(4)(h), h])
    start = time.perf_counter()
    model = mc.Model(x, h)
    assert time.perf_counter() - start < 5.0
    assert len(model.layers) == 1 + 2 * 60
