"""Activations: what every layer outputs for a given input (PW09 ex. 2, tiny VGG q. 10).

A forward hook is a function the layer calls after computing its output,
``fn(layer, inputs, output)``. Registering one on every layer and running the
model once records all the intermediate arrays that ``model.forward`` computes
anyway (and would otherwise drop as soon as the next layer has read them).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from ._graph import as_float_input, collect_outputs, node_index, resolve_node

__all__ = ["activations"]


def activations(model, x, layers: Optional[Sequence] = None, batch_size: Optional[int] = None
                ) -> Dict[str, np.ndarray]:
    """Outputs of the model's layers for ``x``, in inference mode.

    x: (N, H, W, C) (or whatever the model's input is).
    layers: layer names or Layer objects; None -> every layer of the graph
        (the Input layer excepted). CONV, RELU and MAXP are separate layers
        when the model was built that way, so each gets its own entry.
    batch_size: run the forward pass in batches (None: one batch).
    Returns a dict layer name -> array (N, ...) of that layer's output, in graph
    order: e.g. ``{"conv2d": (N, 32, 32, 32), "re_lu": (N, 32, 32, 32), ...}``.

    The hooks are removed afterwards, also if the forward pass raises.
    A layer called at several places of the graph reports its last call.
    """
    owner = "activations"
    x = as_float_input(model, x, owner)
    if isinstance(layers, str) or hasattr(layers, "register_forward_hook"):
        layers = [layers]  # one layer: not a string's characters
    if layers is None:
        chosen = []
        for node in model.nodes:
            if all(node.layer is not l for l in chosen):
                chosen.append(node.layer)
    else:
        # graph order, whatever order they were asked in
        nodes = sorted({id(n): n for n in (resolve_node(model, l, owner, "layers") for l in layers)}.values(),
                       key=lambda n: node_index(model, n))
        chosen = [n.layer for n in nodes]
    if not chosen:
        return {}
    return collect_outputs(model, x, chosen, batch_size, owner)
