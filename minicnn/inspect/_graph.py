"""Small helpers shared by the inspection algorithms (not public API).

Three ideas are used everywhere in ``minicnn.inspect``:

1. *Find the node of a layer.* A model is a list of nodes (layer calls) in
   graph order; ``resolve_node`` turns a layer name (or Layer object) into the
   node that computes it.
2. *Cut the model at that node,* the Keras way:
   ``Model(inputs=model.input, outputs=model.get_layer(name).output)``
   (``submodel``). The sub-model shares the model's layers (their weights and
   hooks); its forward is the model's forward cut short, and its backward
   starts with a gradient *seeded at that node*: exactly what "d (unit j of
   layer L) / d input" needs, without touching the rest of the network.
3. *Leave the model as we found it.* Backward runs with
   ``param_grads=False`` (inspection differentiates w.r.t. the input only,
   so no ``param.grad`` is touched), and ``hooks`` removes its hooks even if
   an exception is raised.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np


def require_built(model, x=None, owner: str = "inspect") -> None:
    """Sequential models may build on their first batch: let them, then check."""
    if not model.built and x is not None:
        model._ensure_built_for(np.asarray(x)[:1])
    if not model.built:
        raise ValueError(f"{owner}: model {model.name!r} is not built; give it an Input(...) or call it on data first")


def layer_name(layer) -> str:
    return layer if isinstance(layer, str) else getattr(layer, "name", repr(layer))


def resolve_node(model, layer, owner: str = "inspect", arg: str = "layer"):
    """The node computing ``layer`` (a name or a Layer). A layer called at
    several places (shared weights) resolves to its *last* call.

    owner, arg: the public function and argument, named in the error message.
    """
    name = layer_name(layer)
    found = [n for n in model.nodes if n.layer.name == name and (isinstance(layer, str) or n.layer is layer)]
    if not found:
        names = [n.layer.name for n in model.nodes]
        raise ValueError(f"{owner}: {arg}={name!r} is not a layer of model {model.name!r}; its layers are {names}")
    return found[-1]


def node_index(model, node) -> int:
    for i, n in enumerate(model.nodes):
        if n is node:
            return i
    raise ValueError(f"{model.name}: node {node!r} is not in this model")


def submodel(model, node):
    """``Model(inputs=model.input, outputs=<node's output>)``: the part of the model that ``node``
    depends on, sharing the model's layers. With ``node`` the model's last node it computes
    what ``model.forward`` computes. (For a layer called once, the node's output is
    ``layer.output``; for a shared layer, the output of the call ``resolve_node`` chose.)
    """
    from ..model import Model
    if len(model.inputs) != 1:
        raise ValueError(f"{model.name}: inspection supports single-input models; this one has "
                         f"{len(model.inputs)} inputs")
    return Model(inputs=model.input, outputs=node.output, name=f"{model.name}_to_{node.layer.name}")


def as_float_input(model, x, owner: str = "inspect") -> np.ndarray:
    """x as a float array (integers become float32, as in ``model.forward``); float64 stays float64.

    Checks x against the model's input shape (N, H, W, C) and names ``owner``
    (the public function) in the error.
    """
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        x = x.astype(np.float32)
    elif x.dtype.kind != "f":
        raise ValueError(f"{owner}: x must be numeric, got dtype {x.dtype}")
    require_built(model, x if x.ndim > 0 else None, owner)
    want = model.input_shape
    if x.ndim != len(want) or any(w is not None and w != s for w, s in zip(want[1:], x.shape[1:])):
        dims = ", ".join("?" if d is None else str(d) for d in want[1:])
        hint = " (one image? add a batch axis: x[None])" if x.ndim == len(want) - 1 else ""
        raise ValueError(f"{owner}: x must have shape (N, {dims}) for model {model.name!r}, "
                         f"got x.shape={x.shape}{hint}")
    return x


@contextmanager
def hooks(layers: Sequence, forward: Optional[Callable] = None, backward: Optional[Callable] = None
          ) -> Iterator[None]:
    """Register ``forward`` / ``backward`` as hooks on each layer; always remove them.

    forward: fn(layer, inputs, output); backward: fn(layer, grad_input, grad_output).
    The handles are removed in ``finally``, so an exception inside the block
    (or while registering) leaves no hook behind.
    """
    handles = []
    try:
        for layer in layers:
            if forward is not None:
                handles.append(layer.register_forward_hook(forward))
            if backward is not None:
                handles.append(layer.register_backward_hook(backward))
        yield
    finally:
        for h in handles:
            h.remove()


def batches(n: int, batch_size, owner: str = "inspect") -> List[slice]:
    """Slices covering 0..n in steps of batch_size (None: one slice)."""
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size
                                   or batch_size < 1):
        raise ValueError(f"{owner}: batch_size must be a positive int or None, got {batch_size!r}")
    if batch_size is None or batch_size >= n:
        return [slice(0, n)]
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def collect_outputs(model, x, layers: Sequence, batch_size=None, owner: str = "inspect") -> Dict[str, np.ndarray]:
    """Outputs of ``layers`` (Layer objects) for ``x``, in inference mode, via forward hooks.

    The forward pass runs only as far as the deepest requested layer (a
    sub-model ending there), keeps no caches, and goes batch by batch; the
    per-batch outputs are concatenated.
    """
    x = as_float_input(model, x, owner)
    nodes = [resolve_node(model, layer, owner) for layer in layers]
    sub = submodel(model, max(nodes, key=lambda n: node_index(model, n)))
    wanted = {id(layer) for layer in layers}
    parts: Dict[str, list] = {layer.name: [] for layer in layers}

    def record(layer, inputs, output):
        if id(layer) in wanted:
            # copy: a later layer must not be able to change what we return
            parts[layer.name].append(np.array(output, copy=True))

    with hooks(layers, forward=record):
        for sl in batches(len(x), batch_size, owner):
            n_before = {k: len(v) for k, v in parts.items()}
            sub.predict_on_batch(x[sl])
            for k, v in parts.items():  # a shared layer fires more than once: keep its last call
                if len(v) > n_before[k] + 1:
                    del v[n_before[k]:-1]
    return {name: np.concatenate(v, axis=0) for name, v in parts.items()}
