"""Automatic layer names, given once, when a layer is constructed (as Keras does).

``Conv2D(8, 3)`` is named ``conv2d``, the next one ``conv2d_1``, then
``conv2d_2``...: one counter per class name for the whole Python session.
A layer's name never changes afterwards; in particular a model never
renames the layers it is built on. (It once did, to make names unique per
model, and a sub-model built on one branch of a model renamed layers of the
full model: its save file then held two layers under one name.)

Names given by hand (``name="fc1"``) are remembered too, so an automatic name
never repeats one: after ``load_model`` (whose layers keep their saved names
``conv2d``, ``dense``...), a new ``Conv2D`` becomes ``conv2d_1``.

``clear_session()`` starts the counters again, as Keras' ``clear_session``:
in a notebook, re-running the cell that builds a model then gives the
same names again. It does nothing else (minicnn keeps no other global state).
"""
from __future__ import annotations

import re
from typing import Dict, Set

_next_number: Dict[str, int] = {}  # base name -> the next number to try
_taken: Set[str] = set()           # every name given to a layer in this session


def snake_case(name: str) -> str:
    """``Conv2D`` -> ``conv2d``, ``MaxPool2D`` -> ``max_pool2d``, ``ReLU`` -> ``re_lu`` (Keras-style names)."""
    s = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s).lower()


def auto_name(base: str) -> str:
    """The next free name of ``base``: ``base``, then ``base_1``, ``base_2``, ..."""
    n = _next_number.get(base, 0)
    name = base if n == 0 else f"{base}_{n}"
    while name in _taken:
        n += 1
        name = f"{base}_{n}"
    _next_number[base] = n + 1
    _taken.add(name)
    return name


def reserve(name: str) -> None:
    """Remember a name given by hand, so no automatic name repeats it."""
    _taken.add(name)


def clear_session() -> None:
    """Restart automatic layer names (the next Conv2D is ``conv2d`` again), as Keras' ``clear_session``.

    Layers that already exist keep their names.
    """
    _next_number.clear()
    _taken.clear()
