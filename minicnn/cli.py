"""minicnn, a from-scratch CNN engine in NumPy written to be read: train the
course's networks, check a convolution or a gradient by hand, look inside.

Run `minicnn COMMAND -h` for the options of one command.
"""
# Developer note: each sub-command lives next to the code it drives
# (demo.py, data/, explain/); this file only wires them into one parser.
from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="minicnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    from . import demo
    demo_parser = sub.add_parser("demo", help="train the course's simple CNN and write a report")
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(run=demo.run)

    data_parser = sub.add_parser("data", help="manage datasets")
    data_sub = data_parser.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser("download", help="download a dataset into the cache")
    download.add_argument("name", choices=["mnist", "fashion_mnist", "cifar10"])
    download.add_argument("--root", default=None, help="data folder (default: $MINICNN_DATA or ~/.cache/minicnn)")
    download.set_defaults(run=_run_data_download)

    from . import explain
    trace = sub.add_parser("trace-conv", help="trace a convolution step by step")
    explain.add_trace_conv_arguments(trace)
    trace.set_defaults(run=explain.run_trace_conv)
    gradcheck = sub.add_parser("gradcheck", help="check a model's gradients against float64 finite differences")
    explain.add_gradcheck_arguments(gradcheck)
    gradcheck.set_defaults(run=explain.run_gradcheck)

    lab_parser = sub.add_parser("lab", help="the course labs: list, run, report")
    try:
        from labs._runner import cli as lab_cli
    except ImportError:  # minicnn installed without the repository's labs/ folder
        lab_parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)
        lab_parser.set_defaults(run=lambda args: _no_labs())
    else:
        lab_cli.add_arguments(lab_parser)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")
        return 0


def _no_labs() -> int:
    print("minicnn lab: the labs/ folder is not installed; run from a clone of the repository "
          "(pip install -e .)", file=sys.stderr)
    return 2


def _run_data_download(args) -> int:
    from .data import DatasetError, download_dataset
    try:
        path = download_dataset(args.name, root=args.root)
    except DatasetError as err:  # the message says what failed and what to do: no traceback
        print(f"minicnn data download: {err}", file=sys.stderr)
        return 1
    print(f"{args.name}: files ready in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
