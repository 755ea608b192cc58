"""Saving and loading models as ``.npz`` files, without pickle.

The archive holds one array per parameter ("layer_name/param_name") and a
JSON description of the model (layers' configs, graph, compile settings) in
the entry "__model__". Loading never unpickles: ``allow_pickle=False``.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

FORMAT_VERSION = 1


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def model_config(model) -> dict:
    from .model import Sequential
    layers = model.layers if isinstance(model, Sequential) else [l for l in model.layers]
    config = {
        "format": FORMAT_VERSION,
        "class_name": type(model).__name__,
        "name": model.name,
        "layers": [{"class_name": type(l).__name__, "config": _jsonable(l.get_config())} for l in layers],
    }
    if isinstance(model, Sequential):
        config["input_shape"] = list(model.input_shape[1:])
    else:
        runner = model._runner
        index = {}
        for i, t in enumerate(runner.inputs):
            index[id(t)] = ["input", i]
        for j, node in enumerate(runner.nodes):
            index[id(node.output)] = ["node", j]
        config["inputs"] = [t.input_layer.name for t in runner.inputs]
        config["nodes"] = [{"layer": n.layer.name, "inputs": [index[id(t)] for t in n.inputs],
                            "multi_input": n.multi_input} for n in runner.nodes]
    if model.optimizer is not None:
        config["compile"] = {"optimizer": model.optimizer.get_config(), "loss": model.loss.get_config(),
                             "metrics": list(model.metric_names)}
    return config


def save_model(model, path) -> None:
    """Write ``path`` (.npz appended if missing) atomically: temp file, then rename."""
    model._require_built("save")
    path = str(path)
    if not path.endswith(".npz"):
        path += ".npz"
    arrays = {"__model__": np.array(json.dumps(model_config(model)))}
    for layer in model.layers:
        for pname, p in layer.params.items():
            arrays[f"{layer.name}/{pname}"] = p.value
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_model(path):
    """Rebuild a model saved by ``save``: same layers, same weights, same compile settings."""
    from . import losses, optim
    from .layers import LAYER_CLASSES
    from .layers.core import InputLayer
    from .model import Model, Sequential
    from .graph import SymbolicTensor

    path = str(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"load_model: {path} is not a minicnn .npz model ({err})") from None
    with archive:
        if "__model__" not in archive.files:
            raise ValueError(f"load_model: {path} has no '__model__' entry; was it written by model.save?")
        config = json.loads(str(archive["__model__"]))
        weights = {k: archive[k] for k in archive.files if k != "__model__"}

    def make(entry):
        cls = LAYER_CLASSES.get(entry["class_name"])
        if cls is None:
            raise ValueError(f"load_model: unknown layer class {entry['class_name']!r}")
        return cls.from_config(entry["config"])

    layers = [make(e) for e in config["layers"]]
    for layer in layers:
        layer._explicit_name = True  # keep the saved names
    if config["class_name"] == "Sequential":
        model = Sequential(name=config["name"])
        model.add(InputLayer(tuple(config["input_shape"])))
        for layer in layers:
            model.add(layer)
    else:
        by_name = {l.name: l for l in layers}
        inputs = [SymbolicTensor(by_name[n].output_shape, input_layer=by_name[n]) for n in config["inputs"]]
        outputs = []
        for node in config["nodes"]:
            args = [inputs[i] if kind == "input" else outputs[i] for kind, i in node["inputs"]]
            outputs.append(by_name[node["layer"]](args if node["multi_input"] else args[0]))
        model = Model(inputs[0] if len(inputs) == 1 else inputs, outputs[-1], name=config["name"])
    for layer in model.layers:
        for pname, p in layer.params.items():
            key = f"{layer.name}/{pname}"
            if key not in weights:
                raise ValueError(f"load_model: {path} lacks weights {key!r}")
            if weights[key].shape != p.value.shape:
                raise ValueError(f"load_model: {key} has shape {weights[key].shape}, expected {p.value.shape}")
            p.value = np.ascontiguousarray(weights[key])
    if "compile" in config:
        c = config["compile"]
        model.compile(optimizer=optim.get(c["optimizer"]), loss=losses.get(c["loss"]), metrics=c["metrics"])
    return model


def load_weights(model, path, skip_mismatch=False) -> None:
    """Copy the weights of a saved model into ``model`` (see Model.load_weights)."""
    path = str(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    model._require_built("load_weights")
    with np.load(path, allow_pickle=False) as archive:
        if "__model__" not in archive.files:
            raise ValueError(f"load_weights: {path} has no '__model__' entry; was it written by model.save?")
        config = json.loads(str(archive["__model__"]))
        saved = []
        for entry in config["layers"]:
            name = entry["config"]["name"]
            arrays = [archive[k] for k in archive.files if k.startswith(name + "/")]
            if arrays:
                order = [k for k in archive.files if k.startswith(name + "/")]
                saved.append((name, dict(zip([k.split("/", 1)[1] for k in order], arrays))))
    targets = [l for l in model.layers if l.params]
    if len(saved) != len(targets):
        raise ValueError(f"load_weights: {path} has {len(saved)} layers with weights, the model has {len(targets)}")
    for (name, arrays), layer in zip(saved, targets):
        shapes_ok = set(arrays) == set(layer.params) and all(
            arrays[k].shape == p.value.shape for k, p in layer.params.items())
        if not shapes_ok:
            if skip_mismatch:
                continue
            raise ValueError(f"load_weights: saved layer {name} {[(k, a.shape) for k, a in arrays.items()]} does not "
                             f"fit {layer.name} {[(k, p.value.shape) for k, p in layer.params.items()]}")
        for k, p in layer.params.items():
            p.value = np.ascontiguousarray(arrays[k], dtype=p.value.dtype)
