"""Optimizers with Keras' defaults and update rules.

An optimizer updates ``Parameter.value`` in place from ``Parameter.grad``.
Its state (momentum, moments) is kept per parameter object.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Optimizer(ABC):
    def __init__(self, learning_rate):
        if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self._state = {}

    def step(self, params):
        """Apply one update to every parameter that has a gradient."""
        self.iterations += 1
        for p in params:
            if p.grad is not None:
                self._update(p, self._state.setdefault(id(p), {}))

    def get_state(self, params) -> dict:
        """The optimizer's memory as named arrays, to save with the model.

        params: dict name -> Parameter (``model.named_parameters()``). Returns
        ``{"iterations": array(t), "<param name>/<slot>": array}`` (slots: Adam's
        ``m`` and ``v``, SGD's ``velocity``). Without this a reloaded model
        restarts Adam from zero moments and step 1: not the same training.
        """
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, p in params.items():
            for slot, value in self._state.get(id(p), {}).items():
                state[f"{name}/{slot}"] = value
        return state

    def set_state(self, params, state) -> None:
        """Restore what ``get_state`` returned, onto the parameters of the same names."""
        state = dict(state)
        if "iterations" not in state:
            raise ValueError(f"{type(self).__name__}.set_state: the state has no 'iterations' entry")
        restored = {}
        for key, value in state.items():
            if key == "iterations":
                continue
            name, _, slot = key.rpartition("/")
            p = params.get(name)
            if p is None:
                raise ValueError(f"{type(self).__name__}.set_state: state for {name!r}, which the model does not "
                                 f"have; its parameters are {sorted(params)}")
            if value.shape != p.value.shape:
                raise ValueError(f"{type(self).__name__}.set_state: {key} has shape {value.shape}, "
                                 f"the parameter has {p.value.shape}")
            restored.setdefault(id(p), {})[slot] = np.array(value, dtype=p.value.dtype)
        self.iterations = int(state["iterations"])
        self._state = restored

    @abstractmethod
    def _update(self, p, state):
        """Change ``p.value`` in place from ``p.grad``; ``state`` is this parameter's own dict."""

    def get_config(self):
        return {"class_name": type(self).__name__, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """Keras SGD: v = momentum * v - lr * g; w += v (nesterov: w += momentum * v - lr * g)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, p, state):
        g = p.grad
        if self.momentum == 0.0:
            p.value -= self.learning_rate * g
            return
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = np.zeros_like(p.value)
        v *= self.momentum
        v -= self.learning_rate * g
        if self.nesterov:
            p.value += self.momentum * v - self.learning_rate * g
        else:
            p.value += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam as in Keras:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,
        w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    (Keras puts epsilon outside the bias correction; PyTorch inside. The
    difference is of the order of eps.)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        for name, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not isinstance(b, (int, float)) or not 0.0 <= b < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {b!r}")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"Adam: epsilon must be > 0, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, p, state):
        if "m" not in state:
            state["m"] = np.zeros_like(p.value)
            state["v"] = np.zeros_like(p.value)
        if _compiled_adam_fits(p, state):
            self._update_compiled(p, state)
        else:
            self._update_numpy(p, state)

    def _step_size(self):
        """lr * sqrt(1 - b2^t) / (1 - b1^t): the bias corrections folded into the learning rate."""
        t = self.iterations
        return self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)

    def _update_numpy(self, p, state):
        """The update as NumPy array expressions: the readable version (and the reference)."""
        g, m, v = p.grad, state["m"], state["v"]
        m *= self.beta_1
        m += (1 - self.beta_1) * g
        v *= self.beta_2
        v += (1 - self.beta_2) * (g * g)
        p.value -= (self._step_size() * m / (np.sqrt(v) + self.epsilon)).astype(p.value.dtype, copy=False)

    def _update_compiled(self, p, state):
        """The same update as one Numba pass (minicnn/kernels/adam.py): same numbers, bit for bit.

        The scalars are converted to the parameter's dtype first, as NumPy
        converts Python floats in the expressions of ``_update_numpy``; the
        step size stays float64, as it is there (see the kernel's docstring).
        """
        from .kernels.adam import adam_update
        f = p.value.dtype.type
        adam_update(p.value.reshape(-1), p.grad.reshape(-1), state["m"].reshape(-1), state["v"].reshape(-1),
                    f(self.beta_1), f(1 - self.beta_1), f(self.beta_2), f(1 - self.beta_2), f(self.epsilon),
                    np.float64(self._step_size()), p.value.dtype == np.float32)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


def _compiled_adam_fits(p, state):
    """Whether the Numba update applies: numba kernels active, one float dtype, contiguous arrays
    (reshape(-1) must be a view, so the kernel writes into the parameter itself)."""
    from . import kernels
    arrays = (p.value, p.grad, state["m"], state["v"])
    return (kernels.current() == "numba" and p.value.dtype in (np.float32, np.float64)
            and all(a.dtype == p.value.dtype and a.flags.c_contiguous for a in arrays))


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(spec):
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, dict):
        config = dict(spec)
        cls = {"SGD": SGD, "Adam": Adam}[config.pop("class_name")]
        return cls(**config)
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    raise ValueError(f"compile: unknown optimizer {spec!r}; use 'adam', 'sgd', Adam(...) or SGD(...)")
