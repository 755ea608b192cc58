"""minicnn gradcheck: exit code 0 on a correct model (file or architecture name),
1 when a backward pass is deliberately wrong, 2 on bad input; kinks counted."""
import numpy as np
import pytest

import minicnn as mc
from minicnn import cli
from minicnn.explain import check_model_gradients, gradcheck
from minicnn.layers.dense import Dense


def small_model(seed=0):
    return mc.Sequential([
        mc.Input((6, 6, 2)),
        mc.Conv2D(3, 3, padding="same", name="conv"), mc.BatchNorm(name="bn"), mc.ReLU(name="relu"),
        mc.MaxPool2D(2, name="pool"), mc.Flatten(name="flat"), mc.Dropout(0.5, name="drop"),
        mc.Dense(4, activation="softmax", kernel_regularizer=mc.regularizers.l2(0.05), name="fc"),
    ], seed=seed)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "small.npz"
    small_model().save(str(path))
    return path


def test_saved_model_passes_with_a_row_per_array(model_file, capsys):
    assert cli.main(["gradcheck", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "all 7 arrays pass" in out
    for row in ("x          (2, 6, 6, 2)", "conv   kernel     (3, 3, 2, 3)", "bn     gamma",
                "fc     kernel     (27, 4)"):
        assert row in out, row
    assert "moving_mean" not in out  # not trainable: not a gradient


def test_rows_cover_every_trainable_parameter_and_are_small():
    model = small_model(seed=3)
    rows = check_model_gradients(model, seed=1)
    expected = [("input", "x", (2, 6, 6, 2))] + [(l.name, n, p.value.shape) for l in model.layers
                                                 for n, p in l.params.items() if p.trainable]
    assert [(r.layer, r.parameter, r.shape) for r in rows] == expected
    assert all(r.ok and r.error < 1e-7 for r in rows), rows
    assert all(p.value.dtype == np.float64 for l in model.layers for p in l.params.values())


def test_deliberately_wrong_backward_fails_with_exit_code_1(model_file, capsys, monkeypatch):
    original = Dense._backward

    def wrong_backward(self, dy, cache, **kwargs):
        dx = original(self, dy, cache, **kwargs)
        if self.params["kernel"].grad is not None:
            self.params["kernel"].grad *= 1.01  # a 1 % error in dW
        return dx

    monkeypatch.setattr(Dense, "_backward", wrong_backward)
    assert cli.main(["gradcheck", str(model_file)]) == 1
    out = capsys.readouterr().out
    fc_kernel = next(line for line in out.splitlines() if line.startswith("fc     kernel"))
    assert "FAIL" in fc_kernel
    assert "FAILED: 1 of 7 arrays: fc/kernel (error " in out
    conv_row = next(line for line in out.splitlines() if line.startswith("conv   kernel"))
    assert "pass" in conv_row


def test_wrong_input_gradient_fails(model_file, capsys, monkeypatch):
    from minicnn.layers.core import Flatten
    monkeypatch.setattr(Flatten, "_backward", lambda self, dy, shape: 0.9 * dy.reshape(shape))
    assert cli.main(["gradcheck", str(model_file), "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "| input | x | (2, 6, 6, 2) |" in out and "| FAIL |" in out


def test_architecture_name_uses_the_reduced_copy(monkeypatch, capsys):
    calls = []

    def tiny(input_shape=None, reduced=False, seed=0):
        calls.append((reduced, seed))
        width = 2 if reduced else 64
        return mc.Sequential([mc.Input(input_shape or (5, 5, 1)), mc.Conv2D(width, 3, name="c"),
                              mc.ReLU(name="r"), mc.Flatten(name="f"), mc.Dense(3, name="d")], seed=seed)

    monkeypatch.setattr(gradcheck, "load_architectures", lambda: {"tiny": tiny})
    assert cli.main(["gradcheck", "tiny", "--seed", "4", "--eps", "1e-6"]) == 0
    out = capsys.readouterr().out
    assert calls == [(True, 4)]
    assert "tiny (reduced copy, seed 4)" in out and "h = 1e-06" in out
    assert "c      kernel     (3, 3, 1, 2)" in out
    assert cli.main(["gradcheck", "nope"]) == 2
    assert "the architectures are: tiny" in capsys.readouterr().err


def test_without_labs_only_model_files(monkeypatch, capsys):
    monkeypatch.setattr(gradcheck, "load_architectures", lambda: None)
    assert cli.main(["gradcheck", "pw09_cnn"]) == 2
    assert "only model files (.npz, written by model.save) are accepted" in capsys.readouterr().err


def test_missing_file_and_bad_options(tmp_path, capsys):
    assert cli.main(["gradcheck", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert cli.main(["gradcheck", str(tmp_path / "missing.npz"), "--eps", "0"]) == 2
    assert "--eps and --tolerance must be > 0" in capsys.readouterr().err


def test_relu_kinks_are_skipped_not_failed():
    model = mc.Sequential([mc.Input((8,)), mc.ReLU(name="relu"), mc.Dense(3, name="fc")], seed=0)
    x = np.random.default_rng(0).standard_normal((2, 8))
    x[0, 0] = x[0, 3] = x[1, 5] = 0.0  # three entries exactly at ReLU's kink
    rows = check_model_gradients(model, x)
    assert rows[0].parameter == "x" and rows[0].kinks == 3 and rows[0].ok
    assert rows[0].checked == 16


def test_an_array_made_of_kinks_fails(monkeypatch):
    """Dropout masks drawn anew at every pass look like kinks everywhere: that must not pass."""
    def without_generators(m):  # restore the moving statistics only, not the dropout generators
        values = [(p, p.value.copy()) for l in m.layers for p in l.params.values() if not p.trainable]
        return lambda: [p.value.__setitem__(Ellipsis, v) for p, v in values]

    monkeypatch.setattr(gradcheck, "_model_state", without_generators)
    rows = {(r.layer, r.parameter): r for r in check_model_gradients(small_model())}
    conv = rows[("conv", "kernel")]
    assert conv.error <= conv.tolerance and conv.kinks > conv.checked // 2  # nearly all skipped...
    assert not conv.ok and "skipped as kinks" in conv.failure                 # ...so it fails


def test_sampling_large_arrays():
    model = mc.Sequential([mc.Input((30,)), mc.Dense(40, name="big")], seed=0)
    rows = check_model_gradients(model, max_entries=50)
    big = rows[1]
    assert (big.checked, big.size) == (50, 1200) and big.ok
    assert "50 of 1200" in gradcheck.format_table(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bias_before_batchnorm_has_zero_gradient_and_passes(seed):
    # BatchNorm (training mode) removes any constant added before it: dL/d(conv bias) = 0
    # exactly, and both sides of the check are rounding noise, which must not fail.
    model = small_model()
    rows = {(r.layer, r.parameter): r for r in check_model_gradients(model, seed=seed)}
    bias = rows[("conv", "bias")]
    assert np.max(np.abs(model.get_layer("conv").params["bias"].grad)) < 1e-12
    assert bias.ok and bias.note.startswith("gradient ~ 0")
    assert all(r.ok and not r.note for key, r in rows.items() if key != ("conv", "bias"))


def test_numerical_gradient_on_chosen_entries_equals_the_full_estimate():
    """gradcheck samples entries of large arrays: the sampled estimate equals the full one there,
    and the other entries are left at 0 (f is evaluated twice per chosen entry only)."""
    from minicnn.testing import numerical_gradient
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    calls = []

    def f():
        calls.append(1)
        return float(np.sum(np.sin(x) * x))

    full = numerical_gradient(f, x, 1e-6)
    np.testing.assert_allclose(full, np.sin(x) + x * np.cos(x), rtol=1e-6, atol=1e-8)
    calls.clear()
    part = numerical_gradient(f, x, 1e-6, entries=np.array([1, 5, 11]))
    assert len(calls) == 6
    np.testing.assert_array_equal(part.reshape(-1)[[1, 5, 11]], full.reshape(-1)[[1, 5, 11]])
    assert np.count_nonzero(part) == 3
