"""``minicnn trace-conv``: a case read from a JSON file, a ``key: numbers`` text
file, a bundled example or the command line, then traced and printed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from .conv_backward import ConvBackwardTrace, conv1d_backward_trace, conv2d_backward_trace
from .trace import MODES, ConvTrace, conv1d_trace, conv2d_trace

__all__ = ["EXAMPLES_DIR", "trace_from_spec", "backward_trace_from_spec", "load_trace_json", "load_trace_text",
           "load_trace_file", "add_trace_conv_arguments", "run_trace_conv", "example_names"]

#: Folder of ready-made examples (``minicnn trace-conv --example pw08_2d``).
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "explain_examples"


# ----------------------------------------------------------------------------
# Inputs from JSON (the way the course draws them) and the command line
# ----------------------------------------------------------------------------
def _as_numbers(value, field: str) -> np.ndarray:
    """``value`` as a float64 array, or a ValueError naming the field that is not numbers."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise ValueError(f"trace-conv: field {field!r} must hold numbers (a number, a list, or rows of "
                         f"equal length), got {value!r}")
    try:
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):  # JSON null becomes NaN without a word
            raise ValueError("it holds null, NaN or an infinity")
        return array
    except (TypeError, ValueError) as err:
        if "inhomogeneous" in str(err) or "sequence" in str(err):
            why = "its rows have different lengths"
        elif "null" in str(err):
            why = str(err)
        else:
            why = f"it holds something that is not a number ({err})"
        raise ValueError(f"trace-conv: field {field!r} must hold numbers, rows of equal length; "
                         f"{why}: {value!r}") from None


def _stack_channels(planes: dict, what: str) -> Tuple[np.ndarray, List[str]]:
    """``{"R": plane, "G": plane, ...}`` -> (H, W, C) array and the channel names, in order.

    what: the field's name, e.g. "x" or "w.Filter1" (the planes are what.R, what.G, ...).
    """
    names = list(planes)
    arrays = [_as_numbers(planes[n], f"{what}.{n}") for n in names]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"trace-conv: the channels of {what} have different shapes: "
                         + ", ".join(f"{n}: {a.shape}" for n, a in zip(names, arrays)))
    return np.stack(arrays, axis=-1), names


def _filters_from_spec(w, channel_names: Optional[List[str]]) -> Tuple[np.ndarray, Optional[List[str]]]:
    """Filters given per filter and per channel -> (KH, KW, C, F).

    Accepted: a nested list already (KH, KW, C, F) (or smaller, see conv2d_trace);
    a dict ``{"filter1": {"R": plane, ...}, ...}``; a list of such per-channel dicts.
    Channels are matched by name to the input's channels when both are named.
    Returns (w, filter names): the names are the dict's keys, else None.
    """
    filter_names = None
    if isinstance(w, dict):
        filter_names = [str(k) for k in w]
        w = list(w.values())
    if isinstance(w, list) and w and isinstance(w[0], dict):
        filters = []
        for k, fdict in enumerate(w):
            if not isinstance(fdict, dict):
                raise ValueError(f"trace-conv: field 'w': filter {k} must be channel name -> plane, "
                                 f"like the others, got {fdict!r}")
            if channel_names is not None and set(fdict) == set(channel_names):
                fdict = {n: fdict[n] for n in channel_names}  # same order as x's channels
            label = f"w.{filter_names[k]}" if filter_names else f"w[{k}]"
            filters.append(_stack_channels(fdict, label)[0])
        shapes = {f.shape for f in filters}
        if len(shapes) != 1:
            raise ValueError(f"trace-conv: filters have different shapes: {[f.shape for f in filters]}")
        return np.stack(filters, axis=-1), filter_names
    return _as_numbers(w, "w"), None


def _parse_spec(spec: dict, overrides: dict) -> dict:
    """The spec's fields as arrays and settings (see :func:`trace_from_spec`)."""
    spec = dict(spec)
    for key, value in overrides.items():
        if value is not None:
            spec[key] = value
    if "x" not in spec or "w" not in spec:
        raise ValueError("trace-conv: the input needs both 'x' and 'w'")
    x, names = spec["x"], None
    if isinstance(x, dict):
        x, names = _stack_channels(x, "x")
    else:
        x = _as_numbers(x, "x")
    w, filter_names = _filters_from_spec(spec["w"], names)
    stride = spec.get("stride", 1)
    padding = spec.get("padding", 0)
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(stride, list):
        stride = tuple(stride)
    parts = stride if isinstance(stride, tuple) else (stride,)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in parts):
        raise ValueError(f"trace-conv: field 'stride' must be an int >= 1 or a pair [sh, sw] of ints, "
                         f"got {stride!r}")
    b = spec.get("b")
    if b is not None:
        b = _as_numbers(b, "b")
    return {"x": x, "w": w, "b": b, "stride": stride, "padding": padding,
            "mode": spec.get("mode", "cross-correlation"), "channel_names": names,
            "filter_names": filter_names, "dy": spec.get("dy")}


def trace_from_spec(spec: dict, **overrides) -> ConvTrace:
    """Run the right tracer on a dict like the JSON files.

    spec keys: "x" (list: 1-D if flat, else (H, W) or (H, W, C); or a dict
    channel name -> (H, W) plane), "w", "b", "stride", "padding", "mode".
    ``overrides`` (stride, padding, mode) win over the spec when not None.
    A field that is not numbers is a ValueError naming the field.
    """
    p = _parse_spec(spec, overrides)
    if p["x"].ndim == 1:
        return conv1d_trace(p["x"], p["w"], 0 if p["b"] is None else p["b"], p["stride"], p["padding"],
                            p["mode"])
    return conv2d_trace(p["x"], p["w"], p["b"], p["stride"], p["padding"], p["mode"],
                        channel_names=p["channel_names"], filter_names=p["filter_names"])


def backward_trace_from_spec(spec: dict, **overrides) -> ConvBackwardTrace:
    """The backward trace of the spec's convolution (``minicnn trace-conv --backward``).

    Same keys as :func:`trace_from_spec`, plus "dy": the upstream gradient,
    shaped like the output ((OW,) or (OH, OW) with one filter; (OH, OW, F),
    or a dict filter name -> (OH, OW) plane, with several); default all ones.
    """
    p = _parse_spec(spec, overrides)
    if p["mode"] != "cross-correlation":
        raise ValueError("trace-conv --backward: the engine computes a cross-correlation and the backward "
                         "trace follows it; drop --mode convolution (or mode in the file)")
    dy = p["dy"]
    if isinstance(dy, dict):
        dy = _stack_channels(dy, "dy")[0]  # one plane per filter -> (OH, OW, F)
    elif dy is not None:
        dy = _as_numbers(dy, "dy")
    if p["x"].ndim == 1:
        return conv1d_backward_trace(p["x"], p["w"], 0 if p["b"] is None else p["b"], p["stride"],
                                     p["padding"], dy)
    return conv2d_backward_trace(p["x"], p["w"], p["b"], p["stride"], p["padding"], dy,
                                 channel_names=p["channel_names"], filter_names=p["filter_names"])


def load_trace_json(path) -> dict:
    """Read a trace-conv JSON file (see :func:`trace_from_spec` for the keys)."""
    with open(path, encoding="utf-8") as fh:
        try:
            spec = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"trace-conv: {path} is not valid JSON: {err}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"trace-conv: {path} must hold a JSON object with 'x' and 'w'")
    return spec


def load_trace_text(path) -> dict:
    """Read a trace-conv *text* file: one ``key: value`` per line, numbers as on the command line.

    ::

        # PW08-like case; rows separated by ';'
        x.R: 2 1 0 2; 2 0 1 2; 0 2 1 2; 0 0 1 0
        x.G: 0 2 2 1; 0 2 2 1; 2 0 2 0; 1 1 0 2
        w.Filter1.R: 1 1; 0 0
        w.Filter1.G: 1 0; 0 1
        b: 1
        stride: 1
        padding: 0

    A dotted key fills a nested dict (``x.R`` -> ``spec["x"]["R"]``), which is
    the per-channel / per-filter form of the JSON files; ``x: 1 2 3 4 5`` and
    ``w: 1 0 -1`` give one plane (or a 1-D signal). Lines starting with ``#``
    and blank lines are skipped. Returns the spec dict.
    """
    spec: dict = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise ValueError(f"trace-conv: {path}, line {lineno}: expected 'key: numbers', got {line!r}")
            head = key.split(".")[0]
            if head in ("stride", "padding", "mode"):
                spec[head] = value  # parsed like the command-line options
                continue
            if head not in ("x", "w", "b", "dy"):
                raise ValueError(f"trace-conv: {path}, line {lineno}: unknown key {key!r} "
                                 f"(x, w, b, dy, stride, padding, mode; x.R, w.Filter1.R for planes)")
            numbers = _parse_numbers(value, key)
            node = spec
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"trace-conv: {path}, line {lineno}: {key!r} mixes a plane and named planes")
            node[parts[-1]] = numbers
    if "b" in spec and isinstance(spec["b"], list) and len(spec["b"]) == 1:
        spec["b"] = spec["b"][0]
    for key, parse in (("stride", _parse_stride), ("padding", _parse_padding)):
        if key in spec:
            spec[key] = parse(spec[key])
    return spec


def load_trace_file(path) -> dict:
    """A JSON file (``.json``, or text starting with ``{``) or a ``key: value`` text file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json") or text.lstrip().startswith("{"):
        return load_trace_json(path)
    return load_trace_text(path)


def _parse_numbers(text: str, what: str):
    """``"1 2 3"`` -> [1, 2, 3]; ``"1 2; 3 4"`` -> [[1, 2], [3, 4]] (rows split by ';')."""
    try:
        rows = [[float(v) for v in row.replace(",", " ").split()] for row in text.split(";")]
    except ValueError:
        raise ValueError(f"trace-conv: {what} must be numbers, rows separated by ';', got {text!r}")
    if not any(rows):
        raise ValueError(f"trace-conv: {what} is empty: give numbers, e.g. {what} \"1 2 3\" "
                         f"(rows separated by ';')")
    if len(rows) == 1:
        return rows[0]
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"trace-conv: the rows of {what} have different lengths: {text!r}")
    return rows


def _parse_padding(text: Optional[str]):
    if text is None:
        return None
    if text in ("valid", "same"):
        return text
    parts = text.replace(",", " ").split()
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"trace-conv: --padding must be valid, same, an int or 'ph,pw', got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _parse_stride(text: Optional[str]):
    if text is None:
        return None
    try:
        values = [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"trace-conv: --stride must be an int or 'sh,sw', got {text!r}")
    if not values:
        raise ValueError("trace-conv: --stride is empty: give an int >= 1 or 'sh,sw'")
    if min(values) < 1:
        raise ValueError(f"trace-conv: --stride must be >= 1 (the window moves by at least one cell), "
                         f"got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def example_names() -> List[str]:
    """Names accepted by ``--example`` (the JSON files in EXAMPLES_DIR)."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.exists() else []


def add_trace_conv_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``minicnn trace-conv``."""
    parser.description = (
        "Trace a convolution step by step. Give the input and the filters in a JSON file "
        '({"x": ..., "w": ..., "b": ..., "stride": 1, "padding": 0}; "x" may be given per channel, '
        '{"R": [[...]], "G": ..., "B": ...}), use a bundled example, or give them inline: '
        '--x "1 2 3 4 5" --w "1 0 -1" (1-D), --x "1 2; 3 4" (2-D, rows split by ;).'
    )
    parser.epilog = (
        "examples:\n"
        "  minicnn trace-conv --x \"1 2 3 4 5\" --w \"1 0 -1\" --stride 2 --padding 1\n"
        "      1-D, S = 2, P = 1 (PW08 ex. 1a: try S = 1, 2, 4 and P = 0, 1)\n"
        "  minicnn trace-conv --x \"1 2 0; 3 4 1; 1 1 1\" --w \"1 0; 0 -1\" --b 1 --padding same\n"
        "      2-D, one channel, TensorFlow's \"same\" padding\n"
        "  minicnn trace-conv --example pw08_2d --stride 2 --format markdown\n"
        "      PW08 ex. 1b (4x4x3 input, two 2x2x3 filters); the filters' B planes are missing\n"
        "      from our copy of the text and set to 0: the note printed first says so\n"
        "  minicnn trace-conv my_case.json --mode convolution\n"
        "      true convolution: the kernel is flipped before it slides\n"
        "  minicnn trace-conv my_case.txt\n"
        "      a text file: lines such as 'x.R: 2 1 0 2; 2 0 1 2; ...', 'w.Filter1.R: 1 1; 0 0', 'b: 1 -1'\n"
        "  minicnn trace-conv --x \"1 2 3 4 5\" --w \"1 0 -1\" --stride 2 --padding 1 --backward --dy \"1 2 3\"\n"
        "      the backward pass: every term of dW, dx and db, dx as a full convolution, and the\n"
        "      engine's conv2d_backward on the same numbers (dy defaults to all ones)\n"
        "every output value is printed as window * kernel products + bias, with the output-size\n"
        "formula (numbers substituted) first. Exit code 2 on bad input."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    src = parser.add_mutually_exclusive_group()
    src.add_argument("json", nargs="?", default=None, metavar="FILE",
                     help="JSON file, or a text file of 'key: numbers' lines (x: 1 2; 3 4 / x.R: ... / "
                          "w.Filter1.R: ... / b: 1 / stride: 2 / padding: 1)")
    src.add_argument("--example", default=None,
                     help="a bundled example: " + (", ".join(example_names()) or "none installed"))
    parser.add_argument("--x", default=None, help='input numbers, e.g. "1 2 3 4 5" or "1 2; 3 4"')
    parser.add_argument("--w", default=None, help='kernel numbers, e.g. "1 0 -1" or "1 0; 0 1"')
    parser.add_argument("--b", default=None, help="bias(es), e.g. 1 or \"1 -1\"")
    parser.add_argument("--stride", default=None, help="stride S (int, or 'sh,sw'); default 1")
    parser.add_argument("--padding", default=None,
                        help="padding: valid, same (TensorFlow), an int P, or 'ph,pw'; default 0")
    parser.add_argument("--mode", default=None, choices=MODES,
                        help="cross-correlation (default, as CNN libraries) or convolution (kernel flipped)")
    parser.add_argument("--format", default="text", choices=("text", "markdown"), dest="format",
                        help="plain text (default) or markdown (tables, for a report)")
    parser.add_argument("--backward", action="store_true",
                        help="trace the backward pass instead: every term of dW, dx and db, dx as a full "
                             "convolution, and the engine's conv2d_backward on the same numbers")
    parser.add_argument("--dy", default=None,
                        help='with --backward: the upstream gradient dL/dy, shaped like the output, e.g. '
                             '"1 2 3" or "1 0; 0 2" (default: all ones); several filters: "dy" in a JSON file')


def run_trace_conv(args) -> int:
    """Run ``minicnn trace-conv``; prints the trace and returns the exit code (2 on bad input)."""
    try:
        if args.example is not None:
            path = EXAMPLES_DIR / f"{args.example}.json"
            if not path.exists():
                raise ValueError(f"trace-conv: no bundled example {args.example!r}; the examples are: "
                                 f"{', '.join(example_names()) or 'none (the folder is missing)'}")
            spec = load_trace_json(path)
        elif args.json is not None:
            spec = load_trace_file(args.json)
        else:
            spec = {}
        if args.x is not None:
            spec["x"] = _parse_numbers(args.x, "--x")
        if args.w is not None:
            spec["w"] = _parse_numbers(args.w, "--w")
        if args.b is not None:
            b = _parse_numbers(args.b, "--b")
            spec["b"] = b[0] if len(b) == 1 else b
        if "x" not in spec or "w" not in spec:
            raise ValueError("trace-conv: give a JSON file, --example NAME, or both --x and --w")
        backward = getattr(args, "backward", False)
        if getattr(args, "dy", None) is not None:
            if not backward:
                raise ValueError("trace-conv: --dy is the upstream gradient of the backward trace: add --backward")
            spec["dy"] = _parse_numbers(args.dy, "--dy")
        make = backward_trace_from_spec if backward else trace_from_spec
        trace = make(spec, stride=_parse_stride(args.stride), padding=_parse_padding(args.padding),
                     mode=args.mode)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = trace.to_markdown() if args.format == "markdown" else trace.to_text()
    note = spec.get("note")
    if note:
        text = (f"> Note: {note}\n\n" if args.format == "markdown" else f"Note: {note}\n\n") + text
    print(text)
    return 0
