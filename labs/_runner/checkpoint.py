"""One training run's checkpoint: everything needed to continue it bit for bit.

``checkpoint.npz`` holds, without pickle:
- ``weights/<i>``: every parameter, in the model's order (BatchNorm's moving
  statistics too); by position, not by name, because layer names depend on
  how many layers the process created before (Keras' naming counters);
- ``optimizer/<i>/<slot>``, ``optimizer/iterations``: the optimizer's memory
  (Adam's moments and step count), by the same positions;
- ``__meta__``: JSON with the finished epoch count, the history so far, the
  wall time spent, and the state of every random generator the run draws from
  (batch shuffling, augmentation, dropout masks).

It is written atomically (temporary file in the same folder, then rename), so
a run killed while saving keeps its previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def write_atomic(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path: Path, obj) -> None:
    write_atomic(path, lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode()))


def generators_of(model, fit_rng, augmenter):
    """name -> np.random.Generator for every random stream of a run."""
    gens = {"fit": fit_rng}
    if augmenter is not None:
        gens["augment"] = augmenter.rng
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            gens[f"layer/{layer.name}"] = rng
    return gens


def save(path: Path, model, generators, epoch: int, history: dict, wall_s: float) -> None:
    named = model.named_parameters()
    position = {name: f"{i:03d}" for i, name in enumerate(named)}
    arrays = {f"weights/{position[k]}": p.value for k, p in named.items()}
    for key, value in model.optimizer.get_state(named).items():
        name, _, slot = key.rpartition("/")
        arrays[f"optimizer/{position[name]}/{slot}" if name else f"optimizer/{key}"] = value
    meta = {"epoch": epoch, "history": history, "wall_s": wall_s, "names": list(named),
            "rng": {k: g.bit_generator.state for k, g in generators.items()}}
    arrays["__meta__"] = np.array(json.dumps(meta))
    write_atomic(Path(path), lambda f: np.savez(f, **arrays))


def _restore_weights(z, meta, path, named) -> None:
    """Copy ``weights/<i>`` of the open .npz ``z`` into the parameters ``named`` (checked: count, shapes)."""
    names = list(named)
    if len(meta["names"]) != len(names):
        raise ValueError(f"{path} holds {len(meta['names'])} parameters, the model has {len(names)}: the "
                         f"checkpoint does not belong to this architecture (use --restart to discard it)")
    for i, (k, p) in enumerate(named.items()):
        key = f"weights/{i:03d}"
        if z[key].shape != p.value.shape:
            raise ValueError(f"{path}: parameter {i} ({meta['names'][i]}) has shape {z[key].shape}, the "
                             f"model's {k} has {p.value.shape} (use --restart to discard the checkpoint)")
        p.value = np.ascontiguousarray(z[key], dtype=p.value.dtype)


def save_weights(path: Path, model, epoch: int) -> None:
    """Only the weights (``best.npz``: a run's best epoch so far), atomically, in the checkpoint's layout."""
    named = model.named_parameters()
    arrays = {f"weights/{i:03d}": p.value for i, p in enumerate(named.values())}
    arrays["__meta__"] = np.array(json.dumps({"epoch": epoch, "names": list(named)}))
    write_atomic(Path(path), lambda f: np.savez(f, **arrays))


def load_weights(path: Path, model) -> int:
    """Restore the weights written by ``save_weights`` (or ``save``) into ``model``; -> their epoch."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        _restore_weights(z, meta, path, model.named_parameters())
    return int(meta["epoch"])


def load(path: Path, model, generators) -> dict:
    """Restore weights, optimizer state and generators into ``model``/``generators``; -> meta."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        named = model.named_parameters()
        names = list(named)
        _restore_weights(z, meta, path, named)
        state = {}
        for key in z.files:
            if key.startswith("optimizer/"):
                rest = key[len("optimizer/"):]
                index, _, slot = rest.partition("/")
                state[f"{names[int(index)]}/{slot}" if slot else rest] = z[key]
    model.optimizer.set_state(named, state)
    for k, g in generators.items():
        if k not in meta["rng"]:
            raise ValueError(f"{path}: no state for random generator {k!r}")
        g.bit_generator.state = meta["rng"][k]
    return meta
