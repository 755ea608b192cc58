"""Reading the weights of a Keras ``.h5`` file into a minicnn model, layer by layer name.

Keras' HDF5 weight files (``model.save_weights("w.h5")``, the files behind
``keras.applications``, and ``model.save("m.h5")`` under ``model_weights``)
share one layout::

    /                                  attrs: layer_names = [b"conv1_pad", b"conv1_conv", ...]
    /conv1_conv                        attrs: weight_names = [b"conv1_conv/kernel:0", b"conv1_conv/bias:0"]
    /conv1_conv/conv1_conv/kernel:0    dataset (7, 7, 3, 64)
    /conv1_conv/conv1_conv/bias:0      dataset (64,)
    /conv1_bn                          attrs: weight_names = [.../gamma:0, .../beta:0,
                                                              .../moving_mean:0, .../moving_variance:0]
    /conv1_pad                         attrs: weight_names = []      (no weights)

A full-model file has the same tree under the group ``model_weights``. A long
attribute may be split into ``layer_names0``, ``layer_names1``, ... (HDF5 caps
the size of one attribute). Keras 3 writes weight names without ``:0``.

minicnn stores weights in Keras' layouts (conv kernels (KH, KW, C_in, C_out),
dense kernels (in, out)), so each array is copied as it is: the last part of
its weight name ("kernel", "bias", "gamma", "beta", "moving_mean",
"moving_variance") is the parameter name in the layer of the same name.

Keras itself loads these files by *order* (its n-th layer with weights gets
the file's n-th); here every layer is matched by name, and its weights by
name too (or in order, as Keras does, when the file names them another way,
like Keras 1's "conv1_W"). The whole file is checked before anything is
copied: a missing, extra or misshaped weight is one error naming all of them,
and the model is left untouched.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["WeightFileError", "require_h5py", "read_keras_h5", "load_keras_h5"]

INSTALL_HINT = "pip install minicnn[h5]"
MAX_LISTED = 12  # names listed per kind of problem before "... and N more"


class WeightFileError(ValueError):
    """A weight file that cannot be read, or that does not fit the model."""


def require_h5py():
    """The ``h5py`` module, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"reading Keras' .h5 weight files needs h5py, which is not installed: "
            f"run `{INSTALL_HINT}` (or `pip install h5py`)") from None
    return h5py


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _string_list_attr(group, name: str) -> list:
    """A list-of-strings attribute, joined back if Keras split it into name0, name1, ..."""
    if name in group.attrs:
        return [_text(v) for v in np.atleast_1d(group.attrs[name])]
    out, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        out += [_text(v) for v in np.atleast_1d(group.attrs[f"{name}{chunk}"])]
        chunk += 1
    return out


def _param_name(weight_name: str) -> str:
    """``"conv1_conv/kernel:0"`` -> ``"kernel"`` (Keras 3: ``"conv1_conv/kernel"``)."""
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def read_keras_h5(path) -> dict:
    """Every weight of a Keras ``.h5`` file: ``{layer name: {parameter name: array}}``.

    Layers without weights (padding, activations, pooling) are left out. The
    order is the file's ``layer_names`` order.
    """
    h5py = require_h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weight file at {path}")
    if not h5py.is_hdf5(path):
        with open(path, "rb") as f:
            head = f.read(8)
        raise WeightFileError(f"{path}: not an HDF5 file (it starts with {head!r}; "
                              f"Keras' .h5 files start with b'\\x89HDF\\r\\n\\x1a\\n')")
    weights = {}
    with h5py.File(path, "r") as f:
        root = f
        if "layer_names" not in f.attrs and "layer_names0" not in f.attrs:
            if "model_weights" not in f:
                raise WeightFileError(
                    f"{path}: an HDF5 file but not Keras weights: no 'layer_names' attribute at the top "
                    f"and no 'model_weights' group (top-level keys: {sorted(f.keys())[:10]})")
            root = f["model_weights"]  # a whole model saved with model.save("m.h5")
        for layer_name in _string_list_attr(root, "layer_names"):
            if layer_name not in root:
                raise WeightFileError(f"{path}: layer {layer_name!r} is listed in 'layer_names' "
                                      f"but has no group")
            group = root[layer_name]
            params = {}
            for weight_name in _string_list_attr(group, "weight_names"):
                if weight_name not in group:
                    raise WeightFileError(f"{path}: weight {weight_name!r} of layer {layer_name!r} is listed "
                                          f"in 'weight_names' but has no dataset")
                params[_param_name(weight_name)] = np.asarray(group[weight_name])
            if params:
                weights[layer_name] = params
    return weights


def _listed(items) -> str:
    items = list(items)
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def load_keras_h5(model, path, aliases=None) -> list:
    """Copy the weights of the Keras ``.h5`` file ``path`` into ``model``, by layer name.

    aliases: {model layer name: file layer name} for layers that the file
    names differently (ResNet50's classifier: "predictions" in the model,
    "probs" in the ImageNet file).
    Returns the names of the loaded parameters, ``"layer/param"``.
    Raises ``WeightFileError`` naming every missing, extra or misshaped
    weight, before changing anything.
    """
    path = Path(path)
    stored = read_keras_h5(path)
    aliases = dict(aliases or {})
    wanted = {layer.name: layer for layer in model.layers if layer.params}

    missing_layers, missing, extra, misshaped, pairs = [], [], [], [], []
    used = set()
    for name, layer in wanted.items():
        file_name = name if name in stored else aliases.get(name)
        if file_name not in stored:
            missing_layers.append(name)
            continue
        used.add(file_name)
        arrays = stored[file_name]
        if set(arrays) != set(layer.params) and len(arrays) == len(layer.params):
            # Names from another convention (Keras 1's "conv1_W", "conv1_b"): take
            # them in order, as Keras does; the order (trainable first) is minicnn's.
            arrays = dict(zip(layer.params, arrays.values()))
        for pname, p in layer.params.items():
            if pname not in arrays:
                missing.append(f"{name}/{pname} {p.value.shape}")
            elif arrays[pname].shape != p.value.shape:
                misshaped.append(f"{name}/{pname}: the model has {p.value.shape}, "
                                 f"the file has {arrays[pname].shape}")
            else:
                pairs.append((layer, pname, arrays[pname]))
        for pname in arrays:
            if pname not in layer.params:
                extra.append(f"{file_name}/{pname} {arrays[pname].shape} ({name} has {list(layer.params)})")
    extra_layers = [n for n in stored if n not in used]

    problems = []
    if missing_layers:
        problems.append(f"{len(missing_layers)} layer(s) of the model have no weights in the file: "
                        f"{_listed(missing_layers)}")
    if extra_layers:
        problems.append(f"{len(extra_layers)} layer(s) of the file are not in the model: {_listed(extra_layers)}")
    if missing:
        problems.append(f"{len(missing)} weight(s) of the model are not in the file: {_listed(missing)}")
    if extra:
        problems.append(f"{len(extra)} weight(s) of the file are not in the model: {_listed(extra)}")
    if misshaped:
        problems.append(f"{len(misshaped)} weight(s) of the wrong shape: {_listed(misshaped)}")
    if problems:
        raise WeightFileError(f"{path} does not fit model {model.name!r}; nothing was loaded.\n  - "
                              + "\n  - ".join(problems))

    for layer, pname, value in pairs:
        p = layer.params[pname]
        p.value = np.ascontiguousarray(value, dtype=p.value.dtype)
    return [f"{layer.name}/{pname}" for layer, pname, _ in pairs]
