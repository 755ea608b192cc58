"""Every network the labs train, by name, each as a function returning an uncompiled model.

    build(input_shape=None, reduced=False, seed=0) -> minicnn.Model

``reduced=True`` gives the reduced copy the tests gradient-check (and
``minicnn gradcheck NAME`` checks): the same layer types in the same order,
fewer filters and units, a smaller input. Lab scripts refer to networks by
name, so a run's configuration (and its folder) says exactly what was trained.
Layers carry explicit names (conv1, relu1, pool1, ...): the reports' figures
are named after them, and auto-names would depend on how many models the
process built before.
"""
from __future__ import annotations

from typing import Callable, Dict

import minicnn as mc

ARCHITECTURES: Dict[str, Callable[..., mc.Model]] = {}


def architecture(fn):
    """Register ``fn`` under its name (``pw09_cnn`` -> ``ARCHITECTURES["pw09_cnn"]``)."""
    ARCHITECTURES[fn.__name__] = fn
    return fn


def build(name: str, **kwargs) -> mc.Model:
    """ARCHITECTURES[name](**kwargs); a name "package.module:function" builds with that function
    (networks defined outside this file, e.g. in tests)."""
    if ":" in name:
        import importlib
        module, _, function = name.partition(":")
        return getattr(importlib.import_module(module), function)(**kwargs)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**kwargs)


# ---------------------------------------------------------------- PW09
@architecture
def pw09_cnn(input_shape=None, reduced=False, seed=0):
    """PW09 ex. 1: CONV(32,same)-RELU-CONV(32,same)-RELU-MAXP(2)-CONV(32,same)-RELU-MAXP(2)-DENSE(10, softmax).

    3x3 kernels. 32x32x3 -> ... -> 8x8x32 -> 2048 -> 10 (39,882 parameters).
    """
    f, shape = (3, (8, 8, 3)) if reduced else (32, (32, 32, 3))
    return mc.Sequential([
        mc.Input(input_shape or shape),
        mc.Conv2D(f, 3, padding="same", name="conv1"), mc.ReLU(name="relu1"),
        mc.Conv2D(f, 3, padding="same", name="conv2"), mc.ReLU(name="relu2"), mc.MaxPool2D(2, name="pool1"),
        mc.Conv2D(f, 3, padding="same", name="conv3"), mc.ReLU(name="relu3"), mc.MaxPool2D(2, name="pool2"),
        mc.Flatten(name="flatten"), mc.Dense(10, activation="softmax", name="dense"),
    ], name="pw09_cnn", seed=seed)
