"""``minicnn gradcheck``: the float64 gradient check of a whole model, as a table.

The check the tests run, for a student to run on a saved model or on a lab
architecture. With a random input x and a random upstream gradient g, the
scalar

    L = sum(model.forward(x) * g) + regularization penalty

has dL/dparameter = what ``model.backward(g)`` accumulates in each
``param.grad``, and dL/dx = what it returns. Each is compared with central
differences in float64 (the method of ``minicnn.testing``: a relative error
and its kink detection), one row per array:

    layer   parameter  shape          checked  max rel. error  result  kinks skipped
    input   x          (2, 8, 8, 3)   384      3.1e-10         pass    0
    conv1   kernel     (3, 3, 3, 3)   81       8.2e-11         pass    0
    ...

Kinks: ReLU at 0 and max-pool ties are not differentiable; an entry whose
one-sided slopes disagree is reported in "kinks skipped" instead of failing
(but an array with more than a quarter of its entries skipped fails: random
inputs rarely sit on a kink, so that many means the check measured nothing).

Gradients that are zero: a conv bias followed by a training-mode BatchNorm
has a gradient of exactly 0 (the normalisation removes any constant), and
both sides are then rounding noise, whose relative error means nothing.
Central differences cannot resolve less than about ``100 * eps * |L| / h``
(about 2e-9 here), so differences below that floor count as agreement: the
relative error is taken against at least ``floor / tolerance``, and such a
row says "gradient ~ 0" under the table.
Large arrays are sampled (``max_entries`` random entries, the "checked"
column says how many of how many).

The model's parameters are converted to float64 in place (a float32 check
would measure float32 rounding, not the backward pass). In training mode
(the default, as the tests), BatchNorm's moving statistics and Dropout's
random generators are restored before every forward pass, so each pass sees
the same layer and the same dropout mask.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from ..testing import _kink_mask, numerical_gradient

__all__ = ["GradCheckRow", "check_model_gradients", "format_table", "load_architectures",
           "add_gradcheck_arguments", "run_gradcheck"]


@dataclass
class GradCheckRow:
    """One checked array: the input x or one trainable parameter."""

    layer: str
    parameter: str
    shape: tuple
    checked: int          # entries compared
    size: int             # entries in the array
    error: float          # max relative error over the checked entries (kinks left out)
    kinks: int            # entries skipped as kinks
    tolerance: float
    note: str = ""        # e.g. "gradient ~ 0": below what finite differences resolve

    @property
    def too_many_kinks(self) -> bool:
        """More than a quarter of the entries skipped: then the check says little about the array
        (random inputs sit on a kink rarely; most entries at kinks means something else is wrong)."""
        return self.kinks > max(1, self.checked // 4)

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tolerance) and not self.too_many_kinks

    @property
    def failure(self) -> str:
        """Why the row fails ("" when it passes)."""
        if self.error > self.tolerance:
            return f"error {self.error:.2e} > tolerance {self.tolerance:g}"
        if self.too_many_kinks:
            return f"{self.kinks} of {self.checked} entries skipped as kinks"
        return ""


def _model_state(model):
    """Snapshot what a training forward pass changes: moving statistics and dropout generators."""
    values = [(p, p.value.copy()) for layer in model.layers for p in layer.params.values() if not p.trainable]
    rngs = [(layer.rng, layer.rng.bit_generator.state) for layer in model.layers
            if isinstance(getattr(layer, "rng", None), np.random.Generator)]

    def restore():
        for p, v in values:
            p.value[...] = v
        for rng, state in rngs:
            rng.bit_generator.state = state

    return restore


def check_model_gradients(model, x: Optional[np.ndarray] = None, *, batch_size: int = 2, seed: int = 0,
                          h: float = 1e-5, tolerance: float = 1e-6, training: bool = True,
                          max_entries: Optional[int] = 1000) -> List[GradCheckRow]:
    """Check ``model.backward`` against float64 central differences; one row per array.

    model: a built minicnn model with one input; its parameters become float64.
    x: the input, (N, ...) as the model expects; default ``batch_size``
        standard-normal samples drawn with ``seed``.
    h: the finite-difference step; tolerance: the largest relative error that passes.
    training: run the forward passes in training mode (BatchNorm batch statistics).
    max_entries: compare at most this many random entries of each array (None: all).
    Returns the rows, the input first, then the trainable parameters in layer order.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for p in layer.params.values():
            p.value = np.ascontiguousarray(p.value, dtype=np.float64)
    if x is None:
        shape = tuple(model.input_shape[1:])
        if any(d is None for d in shape):
            raise ValueError(f"gradcheck: the model's input shape {model.input_shape} has free sizes; give x")
        x = rng.standard_normal((batch_size,) + shape)
    x = np.array(x, dtype=np.float64, copy=True)
    restore = _model_state(model)

    restore()
    y = np.asarray(model.forward(x, training=training))
    upstream = rng.standard_normal(y.shape)
    model.zero_grad()
    dx = model.backward(upstream)

    def loss() -> float:
        restore()
        out = np.asarray(model.forward(x, training=training), dtype=np.float64)
        return float(np.sum(out * upstream)) + model.regularization_loss()

    # What central differences can resolve: rounding of L, divided by 2h, with a margin.
    noise = 100 * np.finfo(np.float64).eps * max(1.0, abs(loss())) / h

    input_name = model.layers[0].name if type(model.layers[0]).__name__ == "InputLayer" else "input"
    targets = [(input_name, "x", x, dx)]
    seen = set()
    for layer in model.layers:
        for pname, p in layer.params.items():
            if p.trainable and layer.trainable and id(p) not in seen:
                seen.add(id(p))
                grad = np.zeros_like(p.value) if p.grad is None else p.grad  # no grad: no influence
                targets.append((layer.name, pname, p.value, np.array(grad, dtype=np.float64)))

    rows = []
    for layer_name, pname, array, analytic in targets:
        rows.append(_check_array(loss, layer_name, pname, array, analytic, h, tolerance, max_entries, rng,
                                 noise))
    restore()
    return rows


def _check_array(loss: Callable[[], float], layer_name, pname, array, analytic, h, tolerance,
                 max_entries, rng, noise: float) -> GradCheckRow:
    """Central differences at (a sample of) the entries of ``array``, compared with ``analytic``."""
    if analytic is None or analytic.shape != array.shape:
        got = None if analytic is None else analytic.shape
        raise ValueError(f"gradcheck: {layer_name}/{pname}: the backward pass gave a gradient of shape "
                         f"{got} for an array of shape {array.shape}")
    flat = array.reshape(-1)  # a view: perturbing it perturbs the model
    size = flat.size
    if max_entries is None or size <= max_entries:
        index = np.arange(size)
    else:
        index = np.sort(rng.choice(size, size=max_entries, replace=False))
    numeric = numerical_gradient(loss, array, h, entries=index).reshape(-1)[index]
    chosen = analytic.reshape(-1)[index]
    # As in minicnn.testing: the error is measured against the gradient's
    # overall size, here never less than the noise floor over the tolerance;
    # suspects are entries that spoil it, and those whose left and right
    # slopes differ are kinks, not failures.
    overall = float(np.max(np.abs(chosen)) + np.max(np.abs(numeric))) if index.size else 0.0
    scale = max(overall, noise / tolerance)
    bad = np.abs(chosen - numeric) > tolerance * scale
    keep = np.ones(index.size, dtype=bool)
    if bad.any():
        is_kink = _kink_mask(loss, array, index[bad], h, floor=1e-3 * scale)
        keep[np.flatnonzero(bad)[is_kink]] = False
    a, n = chosen[keep], numeric[keep]
    error = float(np.max(np.abs(a - n)) / max(np.max(np.abs(a) + np.abs(n)), noise / tolerance)) if a.size else 0.0
    note = (f"gradient ~ 0 (below the finite-difference floor {noise:.1e}); expected for a bias right "
            f"before a training-mode BatchNorm, which subtracts any constant" if overall < noise else "")
    return GradCheckRow(layer_name, pname, tuple(array.shape), int(index.size), int(size), error,
                        int((~keep).sum()), tolerance, note)


# ----------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------
_HEAD = ("layer", "parameter", "shape", "checked", "max rel. error", "result", "kinks skipped")


def _cells(row: GradCheckRow):
    checked = f"{row.checked}" if row.checked == row.size else f"{row.checked} of {row.size}"
    return (row.layer, row.parameter, str(row.shape), checked, f"{row.error:.2e}",
            "pass" if row.ok else "FAIL", str(row.kinks))


def format_table(rows: List[GradCheckRow], markdown: bool = False) -> str:
    """The rows as an aligned text table, or a markdown table."""
    cells = [_cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(_HEAD) + " |", "|---|---|---|---:|---:|---|---:|"]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(_HEAD)]
    def line(c):
        return "  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip()
    return "\n".join([line(_HEAD)] + [line(c) for c in cells])


# ----------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------
def load_architectures() -> Optional[Dict[str, Callable]]:
    """``labs.architectures.ARCHITECTURES`` (name -> builder), or None when labs/ is not available.

    labs/ lives in the repository next to minicnn/, not in the installed
    package: when it is not importable, the repository root is tried.
    """
    try:
        module = importlib.import_module("labs.architectures")
    except ModuleNotFoundError as err:
        if err.name not in ("labs", "labs.architectures"):
            raise  # labs is there but something it imports is missing: say so
        root = Path(__file__).resolve().parents[2]
        if not (root / "labs" / "architectures.py").exists():
            return None
        sys.path.insert(0, str(root))
        module = importlib.import_module("labs.architectures")
    return getattr(module, "ARCHITECTURES", None)


def _load_model(spec: str, seed: int):
    """A model from a .npz file, or the reduced copy of a lab architecture. Returns (model, label)."""
    if os.path.exists(spec) or spec.endswith(".npz"):
        from ..io import load_model
        return load_model(spec), spec
    architectures = load_architectures()
    if architectures is None:
        raise ValueError(f"gradcheck: {spec!r} is not a file, and the labs' architectures "
                         f"(labs/architectures.py) are not available here: only model files "
                         f"(.npz, written by model.save) are accepted")
    if spec not in architectures:
        raise ValueError(f"gradcheck: {spec!r} is neither a file nor an architecture; the architectures "
                         f"are: {', '.join(sorted(architectures))}")
    return architectures[spec](reduced=True, seed=seed), f"{spec} (reduced copy, seed {seed})"


def add_gradcheck_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``minicnn gradcheck``."""
    parser.description = (
        "Compare every gradient of a model's backward pass (each trainable parameter, and the input) "
        "with float64 central differences, and print one row per array. MODEL is a .npz file written "
        "by model.save, or the name of a lab architecture (its reduced copy is checked). "
        "Exit code 0 when every row passes, 1 when one fails, 2 on bad input."
    )
    parser.add_argument("model", metavar="MODEL_FILE_OR_ARCH",
                        help="a model file (.npz from model.save) or an architecture name from labs/architectures.py")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random input and upstream gradient (and of the architecture's weights)")
    parser.add_argument("--eps", type=float, default=1e-5, help="finite-difference step h (default 1e-5)")
    parser.add_argument("--tolerance", type=float, default=1e-6,
                        help="largest max relative error that passes (default 1e-6)")
    parser.add_argument("--batch", type=int, default=2, help="number of random input samples (default 2)")
    parser.add_argument("--max-entries", type=int, default=1000,
                        help="check at most this many random entries per array; 0: all (default 1000)")
    parser.add_argument("--eval", action="store_true",
                        help="forward passes in inference mode (BatchNorm moving statistics, no dropout)")
    parser.add_argument("--format", default="text", choices=("text", "markdown"))


def run_gradcheck(args) -> int:
    """Run ``minicnn gradcheck``: print the table; 0 all pass, 1 a failure, 2 bad input."""
    try:
        if args.eps <= 0 or args.tolerance <= 0 or args.batch < 1 or args.max_entries < 0:
            raise ValueError(f"gradcheck: --eps and --tolerance must be > 0, --batch >= 1, --max-entries >= 0; "
                             f"got {args.eps}, {args.tolerance}, {args.batch}, {args.max_entries}")
        model, label = _load_model(args.model, args.seed)
        rows = check_model_gradients(model, batch_size=args.batch, seed=args.seed, h=args.eps,
                                     tolerance=args.tolerance, training=not args.eval,
                                     max_entries=args.max_entries or None)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [r for r in rows if not r.ok]
    mode = "inference" if args.eval else "training"
    print(f"gradient check of {label}: float64, {mode} mode, batch {args.batch}, seed {args.seed}, "
          f"h = {args.eps:g}, tolerance {args.tolerance:g}")
    print()
    print(format_table(rows, markdown=args.format == "markdown"))
    print()
    for r in rows:
        if r.note:
            print(f"{r.layer}/{r.parameter}: {r.note}")
    if failed:
        print(f"FAILED: {len(failed)} of {len(rows)} arrays: "
              + ", ".join(f"{r.layer}/{r.parameter} ({r.failure})" for r in failed))
        return 1
    print(f"all {len(rows)} arrays pass")
    return 0
