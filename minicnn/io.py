"""Saving and loading models as ``.npz`` files, without pickle.

The archive holds:

- ``"__model__"``: a JSON description of the model (layers' configs, graph,
  compile settings);
- ``"<layer name>/<param name>"``: one array per parameter;
- ``"__optimizer__/iterations"`` and ``"__optimizer__/<layer>/<param>/<slot>"``
  (Adam's ``m`` and ``v``, SGD's ``velocity``): the optimizer's memory, so
  that training continues after a reload exactly as if it had not stopped.

Loading never unpickles (``allow_pickle=False``): a pickle can run any code,
so a model file from someone else must not be one.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

FORMAT_VERSION = 1
MODEL_ENTRY = "__model__"
OPTIMIZER_PREFIX = "__optimizer__/"
EXTENSION = ".npz"


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


# ------------------------------------------------------------------ writing
def check_save_path(path, owner: str = "save") -> str:
    """``path`` as a string if it names a .npz file, else a ValueError saying what minicnn writes.

    A Keras user types ``model.save("m.h5")`` or ``"m.keras"``: writing an
    .npz under that name (or silently renaming it to ``m.h5.npz``) would
    mislead, so the name is refused with the fix.
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if path.lower().endswith(EXTENSION):
        return path
    stem, ext = os.path.splitext(path)
    said = f"ends in {ext!r}" if ext else "has no extension"
    raise ValueError(f"{owner}: {path!r} {said}; minicnn writes only {EXTENSION} files (NumPy archives, "
                     f"no pickle), not HDF5 (.h5) or .keras: use e.g. {stem + EXTENSION!r}")


def _check_unique_names(model, owner: str) -> None:
    """Each layer's weights are stored under its name: two layers with one name would overwrite each other."""
    seen = {}
    for layer in model.layers:
        seen.setdefault(layer.name, []).append(layer)
    repeated = {name: ls for name, ls in seen.items() if len(ls) > 1}
    if repeated:
        which = "; ".join(f"{name!r} is used by {len(ls)} layers ({', '.join(type(l).__name__ for l in ls)})"
                          for name, ls in repeated.items())
        raise ValueError(f"{owner}: layer names must be unique to save a model, as each layer's weights are "
                         f"stored under its name: {which}. Give them distinct names (name=...)")


def _current_umask() -> int:
    """The process' umask (os.umask can only be read by setting it, so set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_npz_atomically(path: str, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` via a temporary file in the same folder, then rename.

    A crash while writing leaves the previous file intact (a checkpoint is
    never half-written). mkstemp creates the temporary file with mode 0600;
    the saved file gets the mode a plain ``open(path, "w")`` would give
    (0666 minus the umask), so others can read it when the user's umask says so.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=EXTENSION, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _weight_arrays(model) -> dict:
    return {name: p.value for name, p in model.named_parameters().items()}


def save_model(model, path, include_optimizer: bool = True) -> None:
    """Write architecture, weights, compile settings and optimizer state to ``path`` (a .npz)."""
    path = check_save_path(path, f"{model.name}.save")
    model._require_built("save")
    _check_unique_names(model, f"{model.name}.save")
    arrays = {MODEL_ENTRY: np.array(json.dumps(model_config(model)))}
    arrays.update(_weight_arrays(model))
    if include_optimizer and model.optimizer is not None:
        state = model.optimizer.get_state(model.named_parameters())
        arrays.update({OPTIMIZER_PREFIX + key: value for key, value in state.items()})
    _write_npz_atomically(path, arrays)


def save_weights(model, path) -> None:
    """Write the weights (and the architecture, which ``load_weights`` uses to match layers) to ``path``."""
    path = check_save_path(path, f"{model.name}.save_weights")
    model._require_built("save_weights")
    _check_unique_names(model, f"{model.name}.save_weights")
    arrays = {MODEL_ENTRY: np.array(json.dumps(model_config(model)))}
    arrays.update(_weight_arrays(model))
    _write_npz_atomically(path, arrays)


# ------------------------------------------------------------------ reading
def _what_file_is(path: str) -> str:
    """A guess at what a file that is not an .npz archive is, from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return "it is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single NumPy array (.npy), not an .npz archive written by model.save"
    if head.startswith(b"\x89HDF"):
        return "it is an HDF5 file (a Keras .h5 model?); minicnn reads only the .npz files model.save writes"
    if head[:1] == b"\x80":
        return "it holds pickled Python objects; minicnn never unpickles files (a pickle can run any code)"
    return f"it is not an .npz (zip) archive (it starts with the bytes {head!r})"


def read_archive(path, owner: str) -> dict:
    """Every entry of a minicnn .npz file as arrays, or a clear error.

    FileNotFoundError: no such file. ValueError, naming the file: not a
    minicnn model file (and what it looks like instead), or damaged
    (truncated, or an entry whose checksum or header is wrong).
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + EXTENSION):
        path += EXTENSION
    if not os.path.exists(path):
        raise FileNotFoundError(f"{owner}: no such file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{owner}: {path!r} is a folder, not a model file")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            starts_like_zip = f.read(4) == b"PK\x03\x04"
        if starts_like_zip:  # a zip whose end (the table of contents) is missing
            raise ValueError(f"{owner}: {path!r} is damaged: it starts like an .npz archive but its end is "
                             f"missing or corrupt (truncated file? an interrupted copy or download)")
        raise ValueError(f"{owner}: {path!r} is not a minicnn model file: {_what_file_is(path)}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if MODEL_ENTRY not in names:
                shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                raise _NotMinicnn(f"it is an .npz archive without the '{MODEL_ENTRY}' entry that model.save "
                                  f"writes (its entries: {shown or 'none'}); was it written by model.save?")
            for name in names:
                arrays[name] = archive[name]
    except _NotMinicnn as err:
        raise ValueError(f"{owner}: {path!r} is not a minicnn model file: {err}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error) as err:
        raise ValueError(f"{owner}: {path!r} is damaged (an entry cannot be read: {err}); save the model "
                         f"again or use another copy") from None
    except ValueError as err:
        # NumPy's message would suggest allow_pickle=True: unsafe advice minicnn never gives.
        if "pickle" in str(err):
            raise ValueError(f"{owner}: {path!r} is not a minicnn model file: it holds pickled Python objects, "
                             f"which minicnn never loads (a pickle can run any code)") from None
        raise ValueError(f"{owner}: {path!r} is damaged (an entry cannot be read: {err})") from None
    try:
        arrays[MODEL_ENTRY] = json.loads(str(arrays[MODEL_ENTRY]))
    except (json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"{owner}: {path!r} is damaged: its '{MODEL_ENTRY}' description is not valid JSON "
                         f"({err})") from None
    return arrays


class _NotMinicnn(Exception):
    """Internal: raised inside read_archive's try block, turned into a ValueError naming the file."""


def load_model(path):
    """Rebuild a model saved by ``save``: same layers, weights, compile settings and optimizer state."""
    from . import losses, optim
    from .layers import LAYER_CLASSES
    from .layers.core import InputLayer
    from .model import Model, Sequential

    owner = "load_model"
    contents = read_archive(path, owner)
    config = contents.pop(MODEL_ENTRY)
    optimizer_state = {k[len(OPTIMIZER_PREFIX):]: v for k, v in contents.items() if k.startswith(OPTIMIZER_PREFIX)}
    weights = {k: v for k, v in contents.items() if not k.startswith(OPTIMIZER_PREFIX)}

    def make(entry):
        cls = LAYER_CLASSES.get(entry["class_name"])
        if cls is None:
            raise ValueError(f"{owner}: {path}: unknown layer class {entry['class_name']!r}")
        return cls.from_config(entry["config"])

    layers = [make(e) for e in config["layers"]]
    if config["class_name"] == "Sequential":
        model = Sequential(name=config["name"])
        model.add(InputLayer(tuple(config["input_shape"])))
        for layer in layers:
            model.add(layer)
    else:
        by_name = {l.name: l for l in layers}
        inputs = [by_name[n].tensor for n in config["inputs"]]
        outputs = []
        for node in config["nodes"]:
            args = [inputs[i] if kind == "input" else outputs[i] for kind, i in node["inputs"]]
            outputs.append(by_name[node["layer"]](args if node["multi_input"] else args[0]))
        model = Model(inputs[0] if len(inputs) == 1 else inputs, outputs[-1], name=config["name"])
    for key, p in model.named_parameters().items():
        if key not in weights:
            raise ValueError(f"{owner}: {path} lacks weights {key!r}")
        if weights[key].shape != p.value.shape:
            raise ValueError(f"{owner}: {key} has shape {weights[key].shape}, expected {p.value.shape}")
        p.value = np.ascontiguousarray(weights[key])
    if "compile" in config:
        c = config["compile"]
        model.compile(optimizer=optim.get(c["optimizer"]), loss=losses.get(c["loss"]), metrics=c["metrics"])
        if optimizer_state:
            model.optimizer.set_state(model.named_parameters(), optimizer_state)
    return model


def load_weights(model, path, skip_mismatch=False) -> None:
    """Copy the weights of a saved model into ``model`` (see Model.load_weights)."""
    owner = f"{model.name}.load_weights"
    model._require_built("load_weights")
    contents = read_archive(path, owner)
    config = contents[MODEL_ENTRY]
    saved = []
    for entry in config["layers"]:
        name = entry["config"]["name"]
        arrays = {k.split("/", 1)[1]: v for k, v in contents.items()
                  if isinstance(v, np.ndarray) and k.startswith(name + "/")}
        if arrays:
            saved.append((name, arrays))
    targets = [l for l in model.layers if l.params]
    if len(saved) != len(targets):
        raise ValueError(f"{owner}: {path} has {len(saved)} layers with weights, the model has {len(targets)}")
    for (name, arrays), layer in zip(saved, targets):
        shapes_ok = set(arrays) == set(layer.params) and all(
            arrays[k].shape == p.value.shape for k, p in layer.params.items())
        if not shapes_ok:
            if skip_mismatch:
                continue
            raise ValueError(f"{owner}: saved layer {name} {[(k, a.shape) for k, a in arrays.items()]} does not "
                             f"fit {layer.name} {[(k, p.value.shape) for k, p in layer.params.items()]}")
        for k, p in layer.params.items():
            p.value = np.ascontiguousarray(arrays[k], dtype=p.value.dtype)
