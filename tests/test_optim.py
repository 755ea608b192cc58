"""Optimizers against hand-computed updates (Keras' formulas)."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.layers.base import Parameter


def param(values, grad):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad = np.array(grad, dtype=np.float64)
    return p


def test_sgd_plain():
    p = param([1.0, -2.0], [0.5, 1.0])
    mc.SGD(0.1).step([p])
    np.testing.assert_allclose(p.value, [1.0 - 0.05, -2.0 - 0.1])


def test_sgd_momentum_and_nesterov_two_steps():
    p = param([1.0], [1.0])
    opt = mc.SGD(0.1, momentum=0.9)
    opt.step([p])   # v = -0.1, w = 0.9
    opt.step([p])   # v = 0.9*-0.1 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(p.value, [0.71])
    q = param([1.0], [1.0])
    opt = mc.SGD(0.1, momentum=0.9, nesterov=True)
    opt.step([q])   # v = -0.1, w = 1 + 0.9*-0.1 - 0.1 = 0.81
    opt.step([q])   # v = -0.19, w = 0.81 + 0.9*-0.19 - 0.1 = 0.539
    np.testing.assert_allclose(q.value, [0.539])


def test_adam_first_steps_by_hand():
    p = param([1.0], [2.0])
    opt = mc.Adam(learning_rate=0.1)
    opt.step([p])
    # t=1: m = 0.2, v = 0.004; lr_t = 0.1*sqrt(0.001)/0.1; w -= lr_t * m/(sqrt(v)+eps)
    m, v = 0.2, 0.001 * 4
    lr_t = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    expected = 1.0 - lr_t * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(p.value, [expected])
    assert abs(expected - 0.9) < 1e-5   # the first Adam step moves by ~lr
    p.grad = np.array([-1.0])
    opt.step([p])
    m2, v2 = 0.9 * m + 0.1 * -1.0, 0.999 * v + 0.001 * 1.0
    lr_t2 = 0.1 * np.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)
    np.testing.assert_allclose(p.value, [expected - lr_t2 * m2 / (np.sqrt(v2) + 1e-7)])


def test_parameters_without_gradient_are_untouched():
    p = Parameter(np.ones(2))
    mc.Adam().step([p])
    np.testing.assert_array_equal(p.value, np.ones(2))


@pytest.mark.parametrize("make,match", [
    (lambda: mc.SGD(-1), "learning_rate must be > 0"),
    (lambda: mc.SGD(0.1, momentum=1.2), "momentum must be in"),
    (lambda: mc.Adam(beta_1=1.0), "beta_1 must be in"),
    (lambda: mc.Adam(epsilon=0), "epsilon must be > 0"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_keras_defaults():
    adam = mc.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (1e-3, 0.9, 0.999, 1e-7)
    assert mc.SGD().learning_rate == 0.01


@pytest.mark.parametrize("make_opt", [lambda: mc.Adam(1e-2), lambda: mc.SGD(0.05, momentum=0.9)])
def test_optimizer_state_round_trip_continues_bit_identically(make_opt):
    """Steps 1-3, save state, restore into a fresh model + optimizer, steps 4-6 ==
    six uninterrupted steps (the moments and the step count come back)."""
    import minicnn as mc
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]

    def model():
        m = mc.Sequential([mc.Input((5,)), mc.Dense(4, activation="relu"), mc.Dense(3, activation="softmax")], seed=1)
        m.compile(optimizer=make_opt(), loss="categorical_crossentropy")
        return m

    straight = model()
    for _ in range(6):
        straight.train_on_batch(x, y)
    first = model()
    for _ in range(3):
        first.train_on_batch(x, y)
    state = {k: v.copy() for k, v in first.optimizer.get_state(first.named_parameters()).items()}
    assert int(state["iterations"]) == 3
    resumed = model()
    resumed.set_weights(first.get_weights())
    resumed.optimizer.set_state(resumed.named_parameters(), state)
    for _ in range(3):
        resumed.train_on_batch(x, y)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_set_state_names_unknown_parameter():
    import minicnn as mc
    m = mc.Sequential([mc.Input((5,)), mc.Dense(3)], seed=0)
    with pytest.raises(ValueError, match="nope/kernel"):
        mc.Adam().set_state(m.named_parameters(), {"iterations": np.array(1), "nope/kernel/m": np.zeros((5, 3))})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_equals_numpy_adam_bit_for_bit(dtype):
    """The Numba update (kernels/adam.py) against the NumPy one it replaces, over several steps."""
    from minicnn import kernels
    rng = np.random.default_rng(3)
    shapes = [(3, 3, 4, 5), (5,), (7, 2)]
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[(rng.standard_normal(s) * 10.0 ** rng.integers(-4, 2)).astype(dtype) for s in shapes]
             for _ in range(4)]
    results = {}
    for backend in ("numba", "numpy"):
        params = [Parameter(v.copy()) for v in values]
        opt = mc.Adam(learning_rate=0.01, beta_1=0.8, epsilon=1e-6)
        with kernels.using(backend):
            for step_grads in grads:
                for p, g in zip(params, step_grads):
                    p.grad = g.copy()
                opt.step(params)
        results[backend] = [p.value for p in params] + [s[k] for s in opt._state.values() for k in ("m", "v")]
    assert all(a.dtype == dtype for a in results["numba"])
    for fast, ref in zip(results["numba"], results["numpy"]):
        np.testing.assert_array_equal(fast, ref)
    assert not np.array_equal(results["numba"][0], values[0])  # the weights did move
