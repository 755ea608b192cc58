"""Models: the functional ``Model(inputs, outputs)`` and ``Sequential``.

Both are a ``GraphRunner`` over layer nodes (see graph.py). Training,
evaluation and prediction live in train.py; saving in io.py.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optim
from .graph import GraphRunner, SymbolicTensor, graph_inputs
from .layers.base import Layer, Parameter
from .layers.core import InputLayer
from .layers.naming import name_new_layers


class Model:
    """A graph of layers from ``inputs`` to ``outputs`` (Keras' functional API).

    >>> x = Input((8, 8, 1)); h = Conv2D(4, 3, padding="same")(x)
    >>> y = Dense(10, activation="softmax")(Flatten()(h))
    >>> model = Model(x, y, seed=0)

    seed: weights are initialised from ``np.random.default_rng(seed)`` so the
    same seed gives the same weights (None: different every time, as Keras).
    """

    def __init__(self, inputs=None, outputs=None, name: Optional[str] = None, seed: Optional[int] = None):
        self.name = name or "model"
        self.seed = seed
        self.optimizer = None
        self.loss = None
        self.metric_names: List[str] = []
        self.stop_training = False
        self.history = None
        self._runner: Optional[GraphRunner] = None
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    # ---------------------------------------------------------------- graph
    def _init_graph(self, inputs, outputs):
        self._single_input = not isinstance(inputs, (list, tuple))
        inputs = [inputs] if self._single_input else list(inputs)
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise ValueError("Model: only single-output models are supported")
            outputs = outputs[0]
        for t in inputs + [outputs]:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model: inputs and outputs must be symbolic tensors (from Input(...) and "
                                f"layer calls), got {type(t).__name__}")
        needed = graph_inputs([outputs])
        missing = [t for t in needed if all(t is not i for i in inputs)]
        if missing:
            raise ValueError(f"Model: the outputs depend on inputs not given to Model: {missing}")
        self._runner = GraphRunner(inputs, [outputs])
        self._input_layers = [t.input_layer for t in inputs]
        name_new_layers(self.layers)
        self._check_unique_names()
        self._build_layers()

    @property
    def nodes(self):
        return self._runner.nodes if self._runner else []

    @property
    def layers(self) -> List[Layer]:
        """Layers in execution order (input layers first, as in Keras' functional models)."""
        seen, out = set(), []
        for layer in list(getattr(self, "_input_layers", [])) + [n.layer for n in self.nodes]:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

    def get_layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}: no layer named {name!r}; layers are {[l.name for l in self.layers]}")

    def _check_unique_names(self):
        """A model never renames a named layer (it may belong to other models too, see
        layers/naming.py): it refuses a repeated name."""
        seen = {}
        for layer in self.layers:
            seen.setdefault(layer.name, []).append(type(layer).__name__)
        repeated = [f"{name!r} ({', '.join(types)})" for name, types in seen.items() if len(types) > 1]
        if repeated:
            raise ValueError(f"{self.name}: layer names must be unique within a model (get_layer and save "
                             f"find layers by name), repeated: {'; '.join(repeated)}; give the layers "
                             f"distinct names (name=...)")

    def _build_layers(self):
        """Create every layer's weights, in graph order, from the model's seed."""
        root = np.random.default_rng(self.seed)
        for i, node in enumerate(self.nodes):
            layer = node.layer
            rng = np.random.default_rng(root.integers(2**63)) if self.seed is not None else np.random.default_rng()
            if not layer.built:
                shape = [t.shape for t in node.inputs] if node.multi_input else node.inputs[0].shape
                layer._build_with_rng(shape, rng)

    @property
    def built(self) -> bool:
        return self._runner is not None

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{self.name}: the model is not built yet; give the first layer input_shape=..., "
                             f"start with Input(shape), or call build(input_shape) before {what}")

    # ----------------------------------------------------- symbolic handles
    @property
    def inputs(self) -> List[SymbolicTensor]:
        """The model's input tensors (Keras' ``model.inputs``)."""
        if not self.built:
            raise AttributeError(f"{self.name}: the model is not built yet, so it has no inputs; start it with "
                                 f"Input(shape) or call build(input_shape)")
        return list(self._runner.inputs)

    @property
    def input(self):
        """The input tensor (a list for several inputs): ``Model(inputs=model.input, outputs=...)``."""
        inputs = self.inputs
        return inputs[0] if self._single_input else inputs

    @property
    def outputs(self) -> List[SymbolicTensor]:
        """The model's output tensors (Keras' ``model.outputs``)."""
        if not self.built:
            raise AttributeError(f"{self.name}: the model is not built yet, so it has no outputs; start it with "
                                 f"Input(shape) or call build(input_shape)")
        return list(self._runner.outputs)

    @property
    def output(self) -> SymbolicTensor:
        """The output tensor (Keras' ``model.output``)."""
        return self.outputs[0]

    @property
    def input_shape(self):
        self._require_built("input_shape")
        return self._runner.inputs[0].shape

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self._runner.outputs[0].shape

    # ------------------------------------------------------- forward/backward
    def _prepare_inputs(self, x):
        xs = [x] if self._single_input else list(x)
        out = []
        for t, a in zip(self._runner.inputs, xs):
            a = np.asarray(a)
            if a.dtype.kind in "iub":
                a = a.astype(np.float32)  # like Keras: integer images become float32
            elif a.dtype.kind != "f":
                raise ValueError(f"{self.name}: input must be numeric, got dtype {a.dtype}")
            want = t.shape
            if a.ndim != len(want) or any(w is not None and w != s for w, s in zip(want[1:], a.shape[1:])):
                fmt = Layer._fmt
                one_sample = a.ndim == len(want) - 1 and all(w is None or w == s for w, s in zip(want[1:], a.shape))
                hint = " (one sample? add a batch axis: x[None])" if one_sample else ""
                raise ValueError(f"{self.name}: input {t.input_layer.name} expects shape {fmt(want)}, "
                                 f"got {a.shape}{hint}")
            out.append(a)
        return out

    def forward(self, x, training: bool = False, logits: bool = False):
        """Run the model and keep what ``backward`` needs.

        x: (N, ...) matching the input shape. logits=True stops the last layer
        before its softmax (pre-softmax class scores).
        """
        self._ensure_built_for(x)
        xs = self._prepare_inputs(x)
        return self._runner.forward(xs, training, keep_cache=True, logits=logits)[0]

    def backward(self, dy, from_logits: bool = False, need_input_grad: bool = True, param_grads: bool = True,
                 output_grad=None):
        """Back-propagate ``dy`` (gradient w.r.t. the output, or w.r.t. the
        logits when ``from_logits``); return dx, the gradient w.r.t. the input
        (None with ``need_input_grad=False``, which training uses to save work).

        Parameter gradients are added to ``param.grad``; ``param_grads=False``
        leaves them untouched (saliency, Grad-CAM and activation maximization
        want only dx). output_grad: with ``from_logits``, the gradient w.r.t.
        the softmax output, given to the output layer's backward hooks as
        ``grad_output`` (training passes it when such a hook exists).
        """
        if not self.built or self._runner.caches is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        dxs = self._runner.backward([np.asarray(dy)], from_logits=from_logits, need_input_grad=need_input_grad,
                                    param_grads=param_grads,
                                    output_grads=None if output_grad is None else [np.asarray(output_grad)])
        return dxs[0] if self._single_input else dxs

    def _ensure_built_for(self, x):
        """Sequential models without an input shape build on the first data they see."""
        self._require_built("it is run")

    def __call__(self, x, training=False):
        return self.forward(x, training)

    # ------------------------------------------------------------- weights
    def trainable_params(self):
        out, seen = [], set()
        for layer in self.layers:
            for p in layer.trainable_params():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    def named_parameters(self) -> dict:
        """name -> Parameter for every parameter ("conv2d/kernel", ...), as saved in files."""
        return {f"{layer.name}/{pname}": p for layer in self.layers for pname, p in layer.params.items()}

    @property
    def weights(self) -> List[Parameter]:
        """Every parameter, layer by layer (Keras' ``model.weights``; ``w.numpy()`` is the array)."""
        return list({id(p): p for layer in self.layers for p in layer.weights}.values())

    @property
    def trainable_weights(self) -> List[Parameter]:
        """The parameters the optimizer updates (not frozen layers', not BatchNorm's moving statistics)."""
        return self.trainable_params()

    @property
    def non_trainable_weights(self) -> List[Parameter]:
        trainable = {id(p) for p in self.trainable_params()}
        return [p for p in self.weights if id(p) not in trainable]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def get_weights(self) -> List[np.ndarray]:
        self._require_built("get_weights")
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        self._require_built("set_weights")
        weights = list(weights)
        expected = sum(len(l.params) for l in self.layers)
        if len(weights) != expected:
            raise ValueError(f"{self.name}: set_weights expects {expected} arrays, got {len(weights)}")
        i = 0
        for layer in self.layers:
            n = len(layer.params)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self) -> int:
        return sum(l.count_params() for l in self.layers)

    def regularization_loss(self) -> float:
        return float(sum(l.regularization_loss() for l in self.layers if hasattr(l, "regularization_loss")))

    # ------------------------------------------------------------- summary
    def summary(self, print_fn=print) -> str:
        """Per layer: name (type), output shape, parameter count; then totals (Keras' layout).

        Functional models also show, as Keras does, which layers feed each one
        ("Connected to"), so a residual shortcut is visible.
        """
        self._require_built("summary")
        fmt = Layer._fmt
        sequential = isinstance(self, Sequential)
        sources = {} if sequential else self._connections()
        rows = [(f"{l.name} ({type(l).__name__})", fmt(l.output_shape).replace("N", "None"), l.count_params(),
                 ", ".join(sources.get(l.name, [])))
                for l in self.layers if not (sequential and isinstance(l, InputLayer))]
        w1 = max(28, max(len(r[0]) for r in rows) + 2)
        w2 = max(26, max(len(r[1]) for r in rows) + 2)
        w4 = 0 if sequential else max(len("Connected to"), max(len(r[3]) for r in rows)) + 2
        width = w1 + w2 + 12 + w4
        header = f"{'Layer (type)':<{w1}}{'Output Shape':<{w2}}{'Param #':>10}"
        if not sequential:
            header += f"  {'Connected to':<{w4 - 2}}"
        lines = [f'Model: "{self.name}"', "_" * width, header, "=" * width]
        for i, (name, shape, n, connected) in enumerate(rows):
            line = f"{name:<{w1}}{shape:<{w2}}{n:>10,}"
            lines.append(line + (f"  {connected}" if connected else ""))
            lines.append("_" * width if i < len(rows) - 1 else "=" * width)
        trainable = sum(p.value.size for p in self.trainable_params())
        total = self.count_params()
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def _connections(self):
        """layer name -> names of the layers whose outputs it reads."""
        producer = {id(t): t.input_layer.name for t in self._runner.inputs}
        producer.update({id(n.output): n.layer.name for n in self.nodes})
        out = {}
        for n in self.nodes:
            out.setdefault(n.layer.name, []).extend(producer[id(t)] for t in n.inputs)
        return out

    # ------------------------------------------------------ compile / train
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None):
        """Choose the optimizer, the loss and the metrics (Keras' defaults: Adam, no metrics;
        ``metrics=["accuracy"]`` adds the accuracy to fit's history and evaluate's result)."""
        self.optimizer = optim.get(optimizer)
        self.loss = losses_mod.get(loss)
        self.metric_names = [metrics_mod.get(m)[0] for m in (metrics or [])]
        return self

    def fit(self, x, y=None, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
            shuffle=True, augment=None, callbacks=(), verbose=1, seed=None, initial_epoch=0):
        """Train on arrays (x, y), or on a loader of (x_batch, y_batch) with y=None.

        Returns a History (``history.history["loss"]`` etc., one value per epoch).
        """
        from .train import fit
        return fit(self, x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                   validation_data=validation_data, shuffle=shuffle, augment=augment, callbacks=callbacks,
                   verbose=verbose, seed=seed, initial_epoch=initial_epoch)

    def evaluate(self, x, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss and metrics over the whole set (arrays or a loader), as Keras returns them:

        the loss alone (a float) when the model was compiled without metrics,
        else ``[loss, *metrics]`` in the order of ``model.metrics_names``
        (``score = model.evaluate(x, y); score[1]`` is the accuracy);
        ``return_dict=True``: ``{"loss": ..., "accuracy": ...}``.
        """
        from .train import evaluate
        result = evaluate(self, x, y, batch_size=batch_size, verbose=verbose)
        if return_dict:
            return result
        values = [result[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    @property
    def metrics_names(self) -> List[str]:
        """What ``evaluate`` returns, in order: ``["loss", "accuracy"]`` (Keras' ``metrics_names``)."""
        return ["loss"] + list(self.metric_names)

    def predict(self, x, batch_size=32, verbose=0):
        """Outputs for ``x`` in batches, in inference mode, keeping no caches."""
        from .train import predict
        return predict(self, x, batch_size=batch_size, verbose=verbose)

    def predict_on_batch(self, x):
        """The outputs for one batch x (N, ...), in inference mode (Keras' ``predict_on_batch``)."""
        from .train import predict_on_batch
        return predict_on_batch(self, x)

    def train_on_batch(self, x, y):
        """One optimizer step on one batch (a hand-written loop's building block). -> loss."""
        from .train import train_step
        if self.optimizer is None:
            raise RuntimeError(f"{self.name}: call compile(...) before train_on_batch")
        self._ensure_built_for(x)
        return train_step(self, x, y)[0]

    def save(self, path, include_optimizer: bool = True):
        """Architecture, weights, compile settings and the optimizer's state in one .npz (no pickle).

        ``path`` must end in .npz. With the optimizer's state (Adam's moments
        and step count, SGD's velocity), ``load_model(path).fit(...)``
        continues the interrupted training exactly.
        """
        from .io import save_model
        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path):
        """Only the weights (and the layer list ``load_weights`` matches them by), in a .npz."""
        from .io import save_weights
        save_weights(self, path)

    def load_weights(self, path, skip_mismatch=False):
        """Copy weights from a file written by ``save`` or ``save_weights`` into this model, layer by layer in order.

        Layers are matched by position among the layers that have parameters,
        so a model rebuilt with other names loads fine. ``skip_mismatch``:
        leave layers whose shapes differ untouched (fine-tuning a new head).
        """
        from .io import load_weights
        load_weights(self, path, skip_mismatch=skip_mismatch)

    def get_config(self) -> dict:
        from .io import model_config
        return model_config(self)

    def __repr__(self):
        n = len(self.layers) if self.built else 0
        return f"<{type(self).__name__} {self.name!r}: {n} layers, {self.count_params() if self.built else '?'} params>"


class Sequential(Model):
    """A plain stack of layers: ``Sequential([Conv2D(...), ReLU(), ...])``.

    The input shape comes from an ``Input(shape)`` first item, from the
    first layer's ``input_shape=`` argument, from ``build(input_shape)``, or
    from the first batch given to fit/predict/forward.
    """

    def __init__(self, layers=None, name: Optional[str] = None, seed: Optional[int] = None):
        super().__init__(name=name or "sequential", seed=seed)
        self._layers: List[Layer] = []
        self._input: Optional[SymbolicTensor] = None
        self._output: Optional[SymbolicTensor] = None  # the last layer's output, once connected
        self._single_input = True
        for item in layers or []:
            self.add(item)

    def add(self, item):
        if isinstance(item, SymbolicTensor) and item.input_layer is not None:
            item = item.input_layer
        if isinstance(item, InputLayer):
            if self._layers or self._input is not None:
                raise ValueError(f"{self.name}: Input(...) must come first")
            self._input = item.tensor
        elif isinstance(item, Layer):
            if any(item is l for l in self._layers):
                raise ValueError(f"{self.name}: layer {item.name} is already in the model")
            self._layers.append(item)
            name_new_layers(self._layers)  # named now, so get_layer works before the model is built
        else:
            raise TypeError(f"{self.name}: expected a Layer or Input(...), got {type(item).__name__}")
        if self._input is None and self._layers and self._layers[0]._declared_input_shape:
            self._input = InputLayer(self._layers[0]._declared_input_shape).tensor
        if self._input is not None and self._layers:
            try:
                self._connect()
            except Exception:
                if self._layers and self._layers[-1] is item:
                    self._layers.pop()  # a layer that does not fit is not left in the model
                raise

    def _connect(self):
        """Call the layers not yet connected on the graph's last tensor (each layer is called once,
        so ``layer.output`` is its output in this model)."""
        done = 0 if self._output is None else len(self._layers) - 1
        t = self._input if self._output is None else self._output
        for layer in self._layers[done:]:
            t = layer(t)
        self._output = t
        self._init_graph(self._input, t)

    @property
    def layers(self) -> List[Layer]:
        return list(self._layers)

    def build(self, input_shape):
        """``input_shape`` with the batch axis, as in Keras: (None, 32, 32, 3)."""
        shape = tuple(input_shape)[1:]
        if self.built:
            if tuple(self.input_shape[1:]) != tuple(shape):
                raise ValueError(f"{self.name}: already built for input shape {Layer._fmt(self.input_shape)}, "
                                 f"got build({tuple(input_shape)})")
            return
        self._input = InputLayer(shape).tensor
        self._connect()

    def _ensure_built_for(self, x):
        if not self.built:
            if not self._layers:
                raise ValueError(f"{self.name}: the model has no layers")
            self.build(np.shape(x))


def Input(shape, name=None):
    from .layers.core import Input as _Input
    return _Input(shape, name=name)
