"""The computation graph shared by Sequential and functional models.

Calling a layer on a symbolic tensor (Keras' functional API) records a
``Node``: (layer, input tensors, output tensor). A model is the list of nodes
in topological order. Forward runs them in that order; backward in reverse,
adding up the gradients of a tensor that feeds several nodes (a residual
shortcut is used twice: by the block and by ``Add``).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np


class SymbolicTensor:
    """A placeholder for an array in a model being defined: a shape and where it comes from."""

    def __init__(self, shape, node: Optional["Node"] = None, input_layer=None):
        self.shape = tuple(shape)
        self.node = node              # the node that produces it (None for a model input)
        self.input_layer = input_layer  # the InputLayer, for model inputs

    def __repr__(self) -> str:
        src = self.input_layer.name if self.node is None else self.node.layer.name
        return f"<SymbolicTensor shape={self.shape} from {src}>"


class Node:
    """One call of a layer in a graph."""

    def __init__(self, layer, inputs: List[SymbolicTensor], multi_input: bool):
        self.layer = layer
        self.inputs = inputs
        self.multi_input = multi_input  # the layer takes a list (Add)
        shape = [t.shape for t in inputs] if multi_input else inputs[0].shape
        layer._check_input_shape(shape)
        self.output = SymbolicTensor(layer.compute_output_shape(shape), node=self)
        layer._inbound_nodes.append(self)  # layer.input / layer.output (Keras' symbolic handles)

    def __repr__(self) -> str:
        return f"Node({self.layer.name} <- {[t.shape for t in self.inputs]})"


def call_layer(layer, inputs):
    """``layer(inputs)``: on symbolic tensors, add a node; on arrays, compute (eager)."""
    multi = isinstance(inputs, (list, tuple))
    items = list(inputs) if multi else [inputs]
    if all(isinstance(t, SymbolicTensor) for t in items):
        return Node(layer, items, multi).output
    if any(isinstance(t, SymbolicTensor) for t in items):
        raise TypeError(f"{layer.name}: cannot mix symbolic tensors and arrays in one call")
    return layer.forward(list(items) if multi else items[0])


def topological_nodes(outputs: List[SymbolicTensor]) -> List[Node]:
    """Nodes needed for ``outputs``, each after all the nodes it depends on (DFS post-order)."""
    order: List[Node] = []
    state: Dict[int, str] = {}

    def visit(tensor: SymbolicTensor):
        node = tensor.node
        if node is None:
            return
        key = id(node)
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise ValueError(f"the graph has a cycle through layer {node.layer.name}")
        state[key] = "visiting"
        for t in node.inputs:
            visit(t)
        state[key] = "done"
        order.append(node)

    for out in outputs:
        visit(out)
    return order


def graph_inputs(outputs: List[SymbolicTensor]) -> List[SymbolicTensor]:
    """The model inputs that ``outputs`` depend on."""
    found, seen = [], set()

    def visit(t):
        # Each tensor once: residual networks reach a tensor by many paths (2 per block), and
        # walking every path would take exponential time (ResNet50: over a million visits).
        if id(t) in seen:
            return
        seen.add(id(t))
        if t.node is None:
            found.append(t)
            return
        for s in t.node.inputs:
            visit(s)

    for out in outputs:
        visit(out)
    return found


class GraphRunner:
    """Runs nodes forward and backward, keeping one cache per node.

    values/gradients are keyed by ``id(tensor)``; caches by node position.
    """

    def __init__(self, inputs: List[SymbolicTensor], outputs: List[SymbolicTensor]):
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = topological_nodes(outputs)
        self.caches: Optional[list] = None
        # For each tensor, the index of the last node that reads it, so
        # forward can drop activations early (they live on in the caches
        # only where backward needs them).
        self.last_use: Dict[int, int] = {}
        for i, node in enumerate(self.nodes):
            for t in node.inputs:
                self.last_use[id(t)] = i

    def forward(self, xs: List[np.ndarray], training: bool, keep_cache: bool, logits: bool = False):
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        keep = {id(t) for t in self.outputs}
        caches = [None] * len(self.nodes) if keep_cache else None
        last = len(self.nodes) - 1
        for i, node in enumerate(self.nodes):
            layer = node.layer
            args = [values[id(t)] for t in node.inputs]
            x = args if node.multi_input else args[0]
            if logits and i == last and getattr(layer, "outputs_softmax", False):
                y, cache = layer._forward(x, training, logits=True)
            else:
                y, cache = layer._forward(x, training)
            if keep_cache:
                caches[i] = cache
            if layer._forward_hooks:
                layer._run_forward_hooks(x, y)
            values[id(node.output)] = y
            for t in node.inputs:
                if self.last_use.get(id(t)) == i and id(t) not in keep:
                    values.pop(id(t), None)
        self.caches = caches
        return [values[id(t)] for t in self.outputs]

    def backward(self, dys: List[np.ndarray], from_logits: bool = False, need_input_grad: bool = True,
                 param_grads: bool = True, output_grads: Optional[List[np.ndarray]] = None):
        """Gradients w.r.t. the model inputs, from ``dys``, the gradients w.r.t. the outputs.

        need_input_grad=False: None for each input (training needs no input
        gradient, and for a first conv layer dx is half its backward work).
        param_grads=False: leave every ``param.grad`` untouched (inspection
        only wants dx). from_logits: ``dys`` are w.r.t. the last layer's
        pre-softmax logits; ``output_grads`` (if given) are then the
        gradients w.r.t. its softmax output, which its backward hooks receive
        as ``grad_output`` (their contract), although the fused gradient skips them.
        """
        if self.caches is None:
            raise RuntimeError("model.backward called before model.forward (or after predict, which keeps no caches)")
        grads: Dict[int, np.ndarray] = {id(t): dy for t, dy in zip(self.outputs, dys)}
        last = len(self.nodes) - 1
        for i in range(last, -1, -1):
            node = self.nodes[i]
            g = grads.pop(id(node.output), None)
            if g is None:
                continue  # this node does not influence the outputs
            layer = node.layer
            kwargs = {}
            hook_grad_output = g
            if from_logits and i == last and getattr(layer, "outputs_softmax", False):
                kwargs["from_logits"] = True
                if output_grads is not None:
                    hook_grad_output = output_grads[0]
            if (not need_input_grad and getattr(layer, "can_skip_dx", False)
                    and all(t.node is None for t in node.inputs)):
                kwargs["need_dx"] = False  # reads only model inputs: dx would be thrown away
            if not param_grads and layer.params:
                kwargs["param_grads"] = False
            dx = layer._backward(g, self.caches[i], **kwargs)
            if layer._backward_hooks:
                # dx is None when it was not computed: hooks get grad_input=(None,), as in PyTorch
                layer._run_backward_hooks(dx, hook_grad_output)
            if dx is None:
                continue
            dxs = dx if node.multi_input else [dx]
            for t, d in zip(node.inputs, dxs):
                # Not in place: Add returns the same array for each input.
                grads[id(t)] = grads[id(t)] + d if id(t) in grads else d
        return [grads.get(id(t)) for t in self.inputs]
