"""Input gradients: how a chosen number inside the network changes with each input pixel.

Every visualisation that "looks through the network back at the image"
(saliency, activation maximization, Grad-CAM) starts from the same quantity:
pick a scalar s inside the network, run the network forward, put ds/ds = 1 at
the place where s is computed and back-propagate to the input. Because the
samples of a batch do not interact in inference mode (dropout off, BatchNorm
with its moving statistics), differentiating the *sum over the batch* of s
gives every sample its own gradient in one backward pass.

Targets, written as tuples:

- ``("class", k)``: the **pre-softmax** score (logit) of class k. The
  probability would be a poor target: raising it can be done by lowering the
  other classes, and its gradient vanishes when the network is confident.
  Works whether the softmax is inside the last Dense/Conv2D
  (``activation="softmax"``) or a separate ``Softmax`` layer.
- ``("unit", layer, j)``: unit j of a 2-D layer output (N, units), e.g. a
  hidden Dense layer. This is the layer's *output*: after its built-in
  activation if it has one (a ``Dense(128, activation="relu")`` gives the
  post-ReLU value; build the model with a separate ``ReLU`` layer to target
  the pre-activation).
- ``("filter", layer, f)``: the mean of feature map f of any layer, i.e. the
  mean over the spatial positions of channel f of an (N, h, w, F) output (on
  a 2-D output it is unit f).

``k``, ``j``, ``f`` may be an int (the same for every sample) or an (N,) array
(one per sample, e.g. each image's predicted class). A plain ``k`` (int or
(N,) array) is short for ``("class", k)``, as in keras-vis and Captum.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from ._graph import as_float_input, hooks, layer_name, resolve_node, submodel

__all__ = ["Target", "input_gradient", "saliency", "objective_and_gradient"]

_KINDS = ("class", "unit", "filter")


class Target(NamedTuple):
    """A parsed target: kind ("class" | "unit" | "filter"), layer name (None for class), index."""
    kind: str
    layer: Optional[str]
    index: object


def parse_target(target, owner: str = "input_gradient") -> Target:
    """``("class", k)`` / ``("unit", layer, j)`` / ``("filter", layer, f)`` -> Target (checked).

    A plain int k (or an (N,) array of ints) means ``("class", k)``, as in
    keras-vis and Captum.
    """
    if isinstance(target, Target):
        return target
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return Target("class", None, int(target))
    if isinstance(target, np.ndarray) and target.dtype.kind in "iu":
        return Target("class", None, target)
    if not isinstance(target, (tuple, list)) or not target or target[0] not in _KINDS:
        raise ValueError(f"{owner}: target must be a class index k (or ('class', k)), ('unit', layer, j) or "
                         f"('filter', layer, f), got target={target!r}")
    if target[0] == "class":
        if len(target) != 2:
            raise ValueError(f"{owner}: target ('class', k) takes one index, got target={target!r}")
        return Target("class", None, target[1])
    if len(target) != 3:
        raise ValueError(f"{owner}: target ({target[0]!r}, layer, index) takes a layer and an index, "
                         f"got target={target!r}")
    return Target(target[0], layer_name(target[1]), target[2])


def _describe(target: Target) -> str:
    """The target as the user wrote it, for error messages."""
    return f"({target.kind!r}, {target.index!r})" if target.kind == "class" else \
        f"({target.kind!r}, {target.layer!r}, {target.index!r})"


class _Probe:
    """A target bound to a model: forward to the target's node, seed, backward.

    Built once and called many times (activation maximization does hundreds
    of steps), so the sub-graph is found only once. ``owner`` is the public
    function the probe works for, named in error messages.
    """

    def __init__(self, model, target, owner: str = "input_gradient", arg: str = "target", shown=None):
        self.model = model
        self.owner, self.arg = owner, arg
        self.shown = shown  # the argument as the user gave it (for messages), if not the target
        self.target = parse_target(target, owner)
        if self.target.kind == "class":
            self.node = model.nodes[-1]
        else:
            self.node = resolve_node(model, self.target.layer, owner, arg=f"{arg} layer")
        # Only the part of the graph that the target depends on runs (the Keras
        # sub-model ending at the target's layer): the backward pass then starts
        # at the target's node, with our seed.
        self.submodel = submodel(model, self.node)
        self.logits = self.target.kind == "class"

    def _error(self, what: str) -> ValueError:
        shown = self.shown if self.shown is not None else self.target.index
        shown = _describe(self.target) if self.arg == "target" else repr(shown)
        return ValueError(f"{self.owner}: {self.arg}={shown}: {what}")

    def _indices(self, out: np.ndarray) -> np.ndarray:
        n, size = out.shape[0], out.shape[-1]
        idx = np.asarray(self.target.index)
        if idx.dtype.kind not in "iu":
            raise self._error(f"the index must be an int or an array of ints, got {self.target.index!r}")
        idx = np.broadcast_to(idx, (n,)) if idx.ndim == 0 else idx
        if idx.shape != (n,):
            raise self._error(f"the index must be an int or one per sample, shape ({n},), got shape {idx.shape}")
        if self.target.kind == "unit" and out.ndim != 2:
            raise self._error(f"'unit' needs a 2-D output (N, units), layer {self.node.layer.name!r} outputs "
                              f"{out.shape}; use ('filter', layer, f) for the mean of a feature map")
        if idx.min() < 0 or idx.max() >= size:
            bad = idx[(idx < 0) | (idx >= size)][0]
            raise self._error(f"{self.target.kind} index {bad} out of range 0..{size - 1} "
                              f"(layer {self.node.layer.name!r} outputs shape {out.shape})")
        return idx

    def seed(self, out: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(values (N,), seed shaped like out): s_n = mean over positions of out[n, ..., idx[n]],
        and seed = ds/d out, which is 1/(number of positions) on channel idx[n], 0 elsewhere."""
        idx = self._indices(out)
        n = out.shape[0]
        positions = int(np.prod(out.shape[1:-1]))  # 1 for (N, units)
        seed = np.zeros_like(out)
        seed[np.arange(n), ..., idx] = 1.0 / positions
        values = (out * seed).reshape(n, -1).sum(axis=1)
        return values, seed

    def __call__(self, x: np.ndarray, watch=None):
        """-> (values (N,), dx like x, watched) for input x.

        watch: a layer (name or object) whose output A and gradient dS/dA are
        also returned as ``watched = (A, dA)`` (Grad-CAM needs both), captured
        with a forward and a backward hook; else watched is None.
        """
        captured = {}
        watch_layers = [] if watch is None else [resolve_node(self.model, watch, self.owner).layer]
        if watch_layers and sum(n.layer is watch_layers[0] for n in self.model.nodes) > 1:
            # its hooks would fire once per call: A from one call, dA from another
            raise ValueError(f"{self.owner}: layer={watch_layers[0].name!r} is called at several places of the "
                             f"graph (shared weights); pick a layer called once")

        def on_forward(layer, inputs, output):
            captured["A"] = np.array(output, copy=True)

        def on_backward(layer, grad_input, grad_output):
            captured["dA"] = np.array(grad_output[0], copy=True)

        with hooks(watch_layers, forward=on_forward, backward=on_backward):
            out = self.submodel.forward(x, training=False, logits=self.logits)
            values, seed = self.seed(out)
            # the input gradient only: no parameter's .grad is touched
            dx = self.submodel.backward(seed, from_logits=self.logits, param_grads=False)
        if dx is None:  # the target does not depend on the input at all
            dx = np.zeros_like(x)
        watched = None
        if watch is not None:
            if "A" not in captured or "dA" not in captured:
                raise ValueError(f"{self.owner}: layer={layer_name(watch)!r} is not between the input and "
                                 f"the target {_describe(self.target)}")
            watched = (captured["A"], captured["dA"])
        return values, dx, watched


def objective_and_gradient(model, x, target, watch=None, owner: str = "objective_and_gradient"):
    """The target's value per sample and its input gradient: ``(values (N,), dx (N, H, W, C))``.

    See the module docstring for ``target``. With ``watch=layer`` also returns
    that layer's output A and dS/dA as a third item ``(A, dA)``.
    """
    x = as_float_input(model, x, owner)
    values, dx, watched = _Probe(model, target, owner)(x, watch)
    return (values, dx) if watch is None else (values, dx, watched)


def input_gradient(model, x, target) -> np.ndarray:
    """Gradient of the target w.r.t. the input: dx (N, H, W, C) for x (N, H, W, C).

    target: ``k`` or ``("class", k)`` (pre-softmax logit k), ``("unit", layer, j)`` or
    ``("filter", layer, f)``; see the module docstring. The scalar
    differentiated is the sum over the batch, so ``dx[n]`` is the gradient of
    sample n's own value. The model runs in inference mode; no parameter
    gradients are left behind.
    """
    return objective_and_gradient(model, x, target, owner="input_gradient")[1]


def saliency(model, x, class_index=None) -> np.ndarray:
    """Saliency maps (Simonyan et al., 2014): (N, H, W) for x (N, H, W, C).

    map[n, i, j] = max over channels c of |d logit_k / d x[n, i, j, c]|: how
    much a small change of pixel (i, j) moves the class score (the
    pre-softmax logit, as in the paper). class_index: an int, one per sample
    (N,), or None for each image's predicted class.
    """
    x = as_float_input(model, x, "saliency")
    if class_index is None:
        class_index = predicted_classes(model, x)
    dx = _Probe(model, ("class", class_index), "saliency", arg="class_index")(x)[1]
    return np.abs(dx).max(axis=-1)


def predicted_classes(model, x) -> np.ndarray:
    """argmax of the model's output for each sample, (N,) ints (inference mode, no caches kept)."""
    x = as_float_input(model, x, "predicted_classes")
    out = submodel(model, model.nodes[-1]).forward(x, training=False, logits=True)  # the logits' argmax
    return out.reshape(len(x), -1).argmax(axis=1)
