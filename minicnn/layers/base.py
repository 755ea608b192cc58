"""The Layer base class: parameters, lazy build, hooks, freezing, input checks.

A layer's math lives in two methods that subclasses write:

    _forward(x, training) -> (y, cache)     # cache: only what backward needs
    _backward(dy, cache)  -> dx             # and adds parameter gradients

Layers with parameters also take ``param_grads=False`` in ``_backward``
(models pass it when only the input gradient is wanted: nothing is added to
``param.grad``).

The public ``forward``/``backward`` wrap them with checks and hooks and keep
one cache, so a layer can be used on its own. Models call ``_forward`` and
``_backward`` directly and keep one cache per graph node, so one layer object
can appear at several places in a graph (shared weights).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .naming import snake_case


class Parameter:
    """A trainable (or not) array with its gradient.

    value: the array; grad: an array of the same shape, or None before any
    backward pass; trainable: whether optimizers update it.
    """

    def __init__(self, value: np.ndarray, trainable: bool = True, name: str = ""):
        self.value = value
        self.grad: Optional[np.ndarray] = None
        self.trainable = trainable
        self.name = name

    @property
    def shape(self):
        return self.value.shape

    def numpy(self) -> np.ndarray:
        """A copy of the value (Keras: ``layer.kernel.numpy()``)."""
        return self.value.copy()

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(layer.kernel)`` is the value."""
        return self.value if dtype is None else self.value.astype(dtype)

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` (gradients of a parameter used several times add up)."""
        if grad.shape != self.value.shape:
            raise ValueError(f"{self.name}: gradient shape {grad.shape} != parameter shape {self.value.shape}")
        if self.grad is None:
            self.grad = grad.astype(self.value.dtype, copy=True)
        else:
            self.grad += grad

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", non-trainable"
        return f"Parameter({self.name or '?'}, shape={self.value.shape}, dtype={self.value.dtype}{flag})"


class HookHandle:
    """Returned by ``register_*_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: Dict[int, Callable], key: int):
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Layer:
    """Base class of every layer. See the module docstring for the protocol.

    Attributes:
        name: ``name=...``, or given by the first model that holds the layer
              (conv2d, conv2d_1, ...); never changed afterwards (see naming.py).
        params: dict name -> Parameter ("kernel", "bias", "gamma", "beta", ...).
        trainable: False freezes the parameters; dx is still computed.
        input_shape / output_shape: Keras-style, batch first as None.
    """

    #: number of dimensions the input must have (None: any); checked in forward.
    expected_ndim: Optional[int] = None

    def __init__(self, name: Optional[str] = None, trainable: bool = True, input_shape=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        # Without a name: the class's (conv2d) until the first model holding the
        # layer numbers it (conv2d_1, ...); fixed from then on (see naming.py).
        self.name = name if name is not None else snake_case(type(self).__name__)
        self.name_is_fixed = name is not None
        self.trainable = bool(trainable)
        self.params: Dict[str, Parameter] = {}
        self.built = False
        self.input_shape: Optional[Tuple] = None
        self.output_shape: Optional[Tuple] = None
        # Keras lets the first layer of a Sequential carry the input shape.
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._inbound_nodes: list = []  # graph nodes calling this layer (layer(tensor) adds one)
        self._forward_hooks: Dict[int, Callable] = {}
        self._backward_hooks: Dict[int, Callable] = {}
        self._next_hook_id = 0
        self._cache = None
        self._has_cache = False
        self.dtype = np.float32

    def _fix_name(self, name: str) -> None:
        """Give the layer its final name (once: see naming.py); its parameters are named after it."""
        self.name = name
        self.name_is_fixed = True
        for pname, p in self.params.items():
            p.name = f"{name}/{pname}"

    # ------------------------------------------------------------------ build
    def build(self, input_shape) -> None:
        """Create the parameters for ``input_shape`` (batch dimension included, may be None).

        Subclasses with parameters override ``_build(input_shape, rng)``.
        """
        self._build_with_rng(input_shape, np.random.default_rng())

    def _build_with_rng(self, input_shape, rng: np.random.Generator) -> None:
        input_shape = self._normalize_shape(input_shape)
        self._check_input_shape(input_shape)
        self._build(input_shape, rng)
        for pname, p in self.params.items():
            p.name = f"{self.name}/{pname}"
        self.input_shape = input_shape
        self.output_shape = self.compute_output_shape(input_shape)
        self.built = True

    @staticmethod
    def _normalize_shape(shape):
        if isinstance(shape, list):  # several inputs (Add)
            return [Layer._normalize_shape(s) for s in shape]
        return (None,) + tuple(int(d) for d in shape[1:])

    def _build(self, input_shape, rng: np.random.Generator) -> None:
        """Create parameters. Default: none."""

    def add_param(self, name: str, value: np.ndarray, trainable: bool = True) -> Parameter:
        p = Parameter(np.ascontiguousarray(value, dtype=self.dtype), trainable, f"{self.name}/{name}")
        self.params[name] = p
        return p

    def compute_output_shape(self, input_shape):
        """Output shape for a given input shape. Default: unchanged (elementwise layers)."""
        return input_shape

    # ----------------------------------------------------------------- checks
    def _check_input_shape(self, shape) -> None:
        """Raise ValueError naming the layer when ``shape`` cannot be this layer's input."""
        if self.expected_ndim is not None and len(shape) != self.expected_ndim:
            raise ValueError(
                f"{self.name} ({type(self).__name__}): expected a {self.expected_ndim}-D input "
                f"{self._shape_hint()}, got shape {self._fmt(shape)}"
            )
        if self.built and self.input_shape is not None and not isinstance(shape, list):
            want = self.input_shape
            if len(want) == len(shape) and any(
                w is not None and s is not None and w != s for w, s in zip(want[1:], shape[1:])
            ) and self._strict_shape():
                raise ValueError(
                    f"{self.name} ({type(self).__name__}): expected input shape {self._fmt(want)}, "
                    f"got {self._fmt(shape)}"
                )

    def _strict_shape(self) -> bool:
        """Whether every non-batch dimension must match the built shape. Conv and pooling relax this."""
        return True

    def _shape_hint(self) -> str:
        return {4: "(N, H, W, C)", 2: "(N, features)"}.get(self.expected_ndim, "")

    @staticmethod
    def _fmt(shape) -> str:
        return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"

    def _check_last_dim(self, shape, noun: str) -> None:
        """Once built, the last axis (channels or features) must keep its size."""
        if self.built and shape[-1] != self.input_shape[-1]:
            raise ValueError(f"{self.name} ({type(self).__name__}): expected {self.input_shape[-1]} {noun}, "
                             f"got input shape {self._fmt(shape)}")

    def _as_float_array(self, x):
        """x as a float array: integers are cast (as Keras does for images); anything else is an error."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if x.dtype.kind in "iub":
            return x.astype(self.dtype)
        if x.dtype.kind != "f":
            raise ValueError(f"{self.name} ({type(self).__name__}): input must be numeric, got dtype {x.dtype}")
        return x

    # ------------------------------------------------------------ public API
    def forward(self, x, training: bool = False):
        """Compute the output for ``x``, remembering what ``backward`` needs."""
        if isinstance(x, (list, tuple)):  # several inputs (Add): build / _forward check them together
            x = [self._as_float_array(t) for t in x]
            shape = [t.shape for t in x]
        else:
            x = self._as_float_array(x)
            shape = x.shape
            self._check_input_shape(shape)
        if not self.built:
            self._build_with_rng(shape, np.random.default_rng())
        y, cache = self._forward(x, training)
        self._cache, self._has_cache = cache, True
        self._run_forward_hooks(x, y)
        return y

    def backward(self, dy):
        """Back-propagate ``dy`` (shaped like the last output); return dx.

        Parameter gradients are *added* to ``param.grad`` (reset them with
        ``zero_grad``). Frozen layers (trainable=False) only return dx.
        """
        if not self._has_cache:
            raise RuntimeError(f"{self.name} ({type(self).__name__}): backward called before forward")
        dy = np.asarray(dy)
        expected = self._cached_output_shape
        if expected is not None and dy.shape != expected:
            raise ValueError(
                f"{self.name} ({type(self).__name__}): dy has shape {dy.shape}, "
                f"the last output had shape {expected}"
            )
        dx = self._backward(dy, self._cache)
        self._run_backward_hooks(dx, dy)
        return dx

    @property
    def _cached_output_shape(self):
        return getattr(self, "_last_output_shape", None)

    def _run_forward_hooks(self, x, y):
        self._last_output_shape = y.shape
        for fn in list(self._forward_hooks.values()):
            fn(self, tuple(x) if isinstance(x, list) else (x,), y)

    def _run_backward_hooks(self, dx, dy):
        for fn in list(self._backward_hooks.values()):
            fn(self, tuple(dx) if isinstance(dx, list) else (dx,), (dy,))

    def __call__(self, inputs):
        """Keras functional API: call on symbolic tensors to build a graph."""
        from ..graph import call_layer  # local import: graph depends on layers
        return call_layer(self, inputs)

    # ------------------------------------------------------ symbolic handles
    def _only_node(self, what: str):
        """The one graph node calling this layer (Keras' ``layer.input``/``layer.output``)."""
        if not self._inbound_nodes:
            raise AttributeError(f"{self.name} ({type(self).__name__}) has no symbolic {what}: it has not been "
                                 f"called on a symbolic tensor; put it in a model with an Input(...) first, "
                                 f"or call it on one: layer(mc.Input(shape))")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"{self.name} ({type(self).__name__}) is called at {len(self._inbound_nodes)} "
                                 f"places (shared weights), so it has no single {what}; take the tensor "
                                 f"returned by the call you mean")
        return self._inbound_nodes[0]

    @property
    def output(self):
        """The symbolic tensor this layer computes in its model's graph, as in Keras:
        ``Model(inputs=model.input, outputs=model.get_layer("fc1").output)`` is a
        feature extractor sharing this layer's weights."""
        return self._only_node("output").output

    @property
    def input(self):
        """The symbolic tensor (a list for Add) this layer reads in its model's graph."""
        node = self._only_node("input")
        return list(node.inputs) if node.multi_input else node.inputs[0]

    # ----------------------------------------------------------------- hooks
    def register_forward_hook(self, fn: Callable) -> HookHandle:
        """``fn(layer, inputs: tuple, output)`` after every forward. Returns a handle."""
        return self._add_hook(self._forward_hooks, fn)

    def register_backward_hook(self, fn: Callable) -> HookHandle:
        """``fn(layer, grad_input: tuple, grad_output: tuple)`` after every backward.

        grad_output is dL/d(this layer's output), grad_input dL/d(its input),
        as in PyTorch. When a model does not compute dL/d(input) (the first
        layer during training: the data needs no gradient), the hook still
        runs, with ``grad_input=(None,)`` (PyTorch does the same). On an output
        layer with a softmax trained with cross-entropy, the model back-propagates
        the fused gradient (p - y) / N to the logits, yet the hook gets
        dL/d(probabilities) as grad_output, as its contract says.
        """
        return self._add_hook(self._backward_hooks, fn)

    def _add_hook(self, hooks, fn) -> HookHandle:
        if not callable(fn):
            raise TypeError(f"{self.name}: hook must be callable, got {fn!r}")
        key = self._next_hook_id
        self._next_hook_id += 1
        hooks[key] = fn
        return HookHandle(hooks, key)

    # ------------------------------------------------------------ parameters
    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def _update_params(self) -> bool:
        """Whether backward should compute parameter gradients (not frozen)."""
        return self.trainable

    def count_params(self) -> int:
        return int(sum(p.value.size for p in self.params.values()))

    def trainable_params(self) -> List[Parameter]:
        if not self.trainable:
            return []
        return [p for p in self.params.values() if p.trainable]

    @property
    def weights(self) -> List[Parameter]:
        """The parameters, in order (Keras' ``layer.weights``)."""
        return list(self.params.values())

    @property
    def trainable_weights(self) -> List[Parameter]:
        return self.trainable_params()

    @property
    def non_trainable_weights(self) -> List[Parameter]:
        trainable = {id(p) for p in self.trainable_params()}
        return [p for p in self.params.values() if id(p) not in trainable]

    def get_weights(self) -> List[np.ndarray]:
        return [p.value.copy() for p in self.params.values()]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"{self.name}: expected {len(self.params)} arrays, got {len(weights)}")
        for (pname, p), w in zip(self.params.items(), weights):
            w = np.asarray(w)
            if w.shape != p.value.shape:
                raise ValueError(f"{self.name}/{pname}: expected shape {p.value.shape}, got {w.shape}")
            p.value = np.ascontiguousarray(w, dtype=p.value.dtype)

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Constructor arguments, such that ``type(layer)(**config)`` rebuilds it."""
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        args = {k: v for k, v in self.get_config().items() if k not in ("name", "trainable")}
        inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return f"{type(self).__name__}({inner}{', ' if inner else ''}name={self.name!r})"
