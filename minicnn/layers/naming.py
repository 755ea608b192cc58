"""Automatic layer names: given once, never changed afterwards.

A layer built with ``name="fc1"`` keeps that name. A layer built without one
is called after its class (``Conv2D`` -> ``conv2d``) until it first joins a
model; that model numbers the layers it is the first to hold, in order
(``conv2d``, ``conv2d_1``, ``conv2d_2``, ... skipping the names its other
layers already have), and from then on the name is fixed.

No model renames a layer that already has its name. (Models once renamed
every automatic name on each construction: a sub-model built on one branch
of a model renamed the full model's ``conv2d_1`` to ``conv2d``, and the full
model then saved two layers under one key.)

Names thus depend only on the model being built, not on what else the
Python session built before it: a lab that trains ten models in one process
gets the same names (and the same checkpoint keys) as when it resumes one of
them in a fresh process. Keras differs here: it names layers at construction
from a session-wide counter, so the eighth ``Conv2D`` of a notebook is
``conv2d_7`` whatever model it is in.
"""
from __future__ import annotations

import re


def snake_case(name: str) -> str:
    """``Conv2D`` -> ``conv2d``, ``MaxPool2D`` -> ``max_pool2d``, ``ReLU`` -> ``re_lu`` (Keras-style names)."""
    s = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s).lower()


def name_new_layers(layers) -> None:
    """Fix the names of the layers in ``layers`` (one model's, in order) that have none yet.

    Layers whose names are already fixed (given by hand, or by an earlier
    model) are left alone; the new names avoid theirs.
    """
    taken = {layer.name for layer in layers if layer.name_is_fixed}
    next_number = {}
    for layer in layers:
        if layer.name_is_fixed:
            continue
        base = snake_case(type(layer).__name__)
        n = next_number.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        next_number[base] = n + 1
        taken.add(name)
        layer._fix_name(name)
