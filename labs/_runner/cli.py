"""``minicnn lab list | run NAME | report NAME``: the labs from the command line.

    minicnn lab list
    minicnn lab run pw09 --profile quick|report|full [--exercise ID ...] [--seeds N] [--jobs N]
                         [--data-root DIR] [--out DIR] [--restart]
    minicnn lab report pw09 [--profile report]      (rebuild the report from stored runs, no training)
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options a lab run takes (shared by ``minicnn lab run`` and a script run on its own)."""
    parser.add_argument("--profile", default="quick", help="quick (minutes), report (the committed report) "
                        "or full (the document's settings); default quick")
    parser.add_argument("--exercise", dest="exercises", nargs="+", metavar="ID",
                        help="train only these exercises (the report needs them all)")
    parser.add_argument("--seeds", type=int, default=None, help="run seeds 0..N-1 (default: the profile's)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side in N processes")
    parser.add_argument("--data-root", default=None, help="dataset folder (default: the minicnn data cache)")
    parser.add_argument("--out", default=None, help="folder for run checkpoints (default runs/labs)")
    parser.add_argument("--report-dir", default=None,
                        help="where to write the report (default: labs/reports/NAME for the report "
                             "profile, OUT/NAME/PROFILE/report otherwise)")
    parser.add_argument("--restart", action="store_true", help="discard stored runs of this profile first")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lab_command", required=True)
    listing = sub.add_parser("list", help="labs, their exercises, estimated training times on this machine and "
                                          "how many runs are already stored")
    listing.add_argument("--out", default=None, help="folder of stored runs to count (default runs/labs)")
    run = sub.add_parser("run", help="train a lab's experiments (resuming stored runs) and write its report")
    run.add_argument("name")
    add_run_arguments(run)
    report = sub.add_parser("report", help="rebuild a lab's report from its stored runs, without training")
    report.add_argument("name")
    add_run_arguments(report)
    parser.set_defaults(run=run_command)


def run_command(args) -> int:
    from labs import catalog
    if args.lab_command == "list":
        return _list(catalog, getattr(args, "out", None))
    try:
        spec = catalog.get(args.name)
        catalog.check_profile(args.profile)
    except ValueError as err:
        print(f"minicnn lab: {err}", file=sys.stderr)
        return 2
    return run_lab(spec, args, report_only=args.lab_command == "report")


def run_lab(spec, args, report_only: bool = False) -> int:
    """Run the lab module as a script, configured by ``args``."""
    from minicnn.data import DatasetError

    from . import lab as lab_mod
    config = {k: v for k, v in vars(args).items() if k in lab_mod._LAB_ARGS}
    config.update(name=spec.name, report_only=report_only)
    lab_mod._CONFIG = config
    try:
        runpy.run_module(spec.module, run_name="__main__", alter_sys=False)
    except lab_mod.LabStopped as err:
        print(f"minicnn lab: {err}", file=sys.stderr)
        return 1
    except DatasetError as err:
        print(f"minicnn lab {spec.name}: {err}", file=sys.stderr)
        return 2
    except (ValueError, PermissionError, RuntimeError) as err:
        if not _raised_by_runner(err):
            raise
        print(f"minicnn lab {spec.name}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nminicnn lab {spec.name}: interrupted; finished epochs are kept, run the same command "
              f"to resume", file=sys.stderr)
        return 130
    finally:
        lab_mod._CONFIG = None
    return 0


def _raised_by_runner(err: BaseException) -> bool:
    """Errors from the runner's own checks are messages for the user; others are bugs (traceback)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "labs/_runner/" in tb.tb_frame.f_code.co_filename.replace("\\", "/")


def stored_runs(spec, profile: str, out) -> tuple:
    """(finished, planned) runs of a lab profile in ``out`` (the folders ``minicnn lab run --out`` writes)."""
    from .training import run_id
    folder = Path(out or "runs/labs").expanduser() / spec.name / profile
    finished = planned = 0
    for p in spec.planned(profile):
        for seed in range(p.first_seed, p.first_seed + p.seeds):
            planned += 1
            finished += (folder / run_id(p.exercise, p.variant, seed) / "result.json").is_file()
    return finished, planned


def _list(catalog, out=None) -> int:
    from .estimate import estimate
    from .lab import format_duration
    speeds = {}
    for spec in catalog.LABS.values():
        print(f"{spec.name}: {spec.title}  (labs/{spec.module.split('.')[-1]}.py, ../shared/seeds/{spec.document})")
        exercises = list(dict.fromkeys(p.exercise for p in spec.planned("full")))
        print(f"  exercises: {', '.join(exercises)}")
        for profile in catalog.PROFILES:
            seconds = estimate(spec, profile, speeds)
            done, planned = stored_runs(spec, profile, out)
            stored = f" ({done} of {planned} runs stored)" if done else ""
            print(f"  {profile:<7} about {format_duration(seconds)} of training here{stored}; "
                  f"{spec.differences.get(profile, '')}")
    return 0
