"""The object a lab script talks to: ``lab = start("pw09")``.

    data  = lab.data("cifar10")                       # the profile's subset, scaled to [0, 1]
    group = lab.train("ex1a-baseline", "pw09_cnn", data, epochs=..., batch_size=128)
    group.results                                     # one result dict per seed (results.json's shape)
    group.model(seed=0)                               # the trained network, from its checkpoint
    lab.md("text"); lab.figure(fig, "curves.png", "caption"); lab.answer("ex1-a", 0.71)
    lab.finish()                                      # README.md + results.json, written atomically

The profile, output folder, seeds, jobs and exercise selection come from the
command line (``minicnn lab run``) or, when the script runs on its own, from
its own arguments (``python labs/pw09_augmentation.py --profile quick``).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from labs import catalog

from . import machine
from . import data as lab_data
from .loader_loop import transforms_config
from .training import RunSpec, TrainingRun


class LabStopped(Exception):
    """Raised inside a lab script when it cannot go on (exercise not selected, report-only mode
    with runs missing); the command line turns it into a message, not a traceback."""


class RunGroup:
    """The runs of one exercise (one per seed)."""

    def __init__(self, lab: "Lab", runs: List[TrainingRun], data):
        self.lab, self.runs, self.data = lab, runs, data
        self.results = [r.result() for r in runs]

    @property
    def exercise(self) -> str:
        return self.runs[0].spec.exercise

    def model(self, seed: Optional[int] = None):
        """The trained model of ``seed`` (default: the first seed)."""
        for run in self.runs:
            if seed is None or run.spec.seed == seed:
                return run.model(self.data)
        raise ValueError(f"{self.exercise}: no run with seed {seed}; seeds: {[r.spec.seed for r in self.runs]}")

    def values(self, key: str) -> list:
        return [r[key] for r in self.results]

    def histories(self) -> List[dict]:
        return [r["history"] for r in self.results]


class Lab:
    def __init__(self, name: str, profile: str = "quick", out=None, report_dir=None, seeds: Optional[int] = None,
                 jobs: int = 1, data_root=None, exercises=None, restart: bool = False, report_only: bool = False,
                 progress: bool = True):
        self.spec = catalog.get(name)
        self.name = name
        self.profile = catalog.check_profile(profile)
        self.settings = dict(self.spec.settings[profile])
        if seeds is not None:
            if seeds < 1:
                raise ValueError(f"--seeds must be >= 1, got {seeds}")
            self.settings["seeds"] = seeds
        self.out = Path(out or "runs/labs").expanduser().resolve() / name / profile
        default_report = (machine.REPO / "labs" / "reports" / name if profile == "report"
                          else self.out / "report")
        self.report_dir = Path(report_dir).resolve() if report_dir else default_report
        self.jobs = int(jobs)
        if self.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {jobs}")
        self.data_root = data_root
        self.planned = {(p.exercise, p.variant): p for p in self.spec.plan(self.settings)}
        self.exercises = set(exercises) if exercises else None
        if self.exercises:
            unknown = self.exercises - {e for e, _ in self.planned}
            if unknown:
                raise ValueError(f"{name}: unknown exercise(s) {sorted(unknown)}; exercises: "
                                 f"{', '.join(dict.fromkeys(e for e, _ in self.planned))}")
        self.report_only = report_only
        self.progress = progress
        self._data: Dict[str, lab_data.LabData] = {}
        self._md: List[str] = []
        self.answers: Dict[str, object] = {}
        self.results: List[dict] = []
        self._started = time.perf_counter()
        self._trained_s = 0.0
        self._check_writable(restart)
        self._staging = self.report_dir.with_name(f".{self.report_dir.name}.writing")
        if self._staging.exists():
            shutil.rmtree(self._staging)
        self._staging.mkdir(parents=True)

    # ------------------------------------------------------------ setup
    def _check_writable(self, restart: bool) -> None:
        """A clear error before any training when an output folder cannot be written."""
        for folder in (self.out, self.report_dir.parent):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                probe = folder / f".write-test-{os.getpid()}"
                probe.write_text("")
                probe.unlink()
            except OSError as err:
                raise PermissionError(f"lab {self.name}: cannot write to {folder} ({err.strerror}); "
                                      f"choose another folder with --out") from None
        if restart and self.out.exists():
            shutil.rmtree(self.out)
            self.out.mkdir(parents=True)

    @property
    def seeds(self) -> List[int]:
        return list(range(self.settings["seeds"]))

    def data(self, name: str, n_train: Optional[int] = None, n_test: Optional[int] = None) -> lab_data.LabData:
        """The dataset, ``n_train`` / ``n_test`` images (default: the profile's settings), loaded once."""
        n_train = self.settings["n_train"] if n_train is None else int(n_train)
        n_test = self.settings["n_test"] if n_test is None else int(n_test)
        key = f"{name}:{n_train}:{n_test}"
        if key not in self._data:
            self._data[key] = lab_data.load(name, n_train, n_test, root=self.data_root)
        return self._data[key]

    # ------------------------------------------------------------ training
    def train(self, exercise: str, architecture: str, data: lab_data.LabData, epochs: int, batch_size: int,
              validation_split: float = 0.0, variant: str = "", augment=None, optimizer=None,
              loss: str = "categorical_crossentropy", test_each_epoch: bool = False,
              seeds: Optional[List[int]] = None, init_from=None, init_layers=None, init_weights: str = "final",
              loop: str = "fit", transforms=None, trainable=None, monitor: str = "auto") -> RunGroup:
        """Train ``architecture`` on ``data`` once per seed (resuming or skipping stored runs).

        augment: an ``ImageAugmenter`` (its settings are used; each run gets its own seed).
        optimizer: a config dict (``{"class_name": "Adam", "learning_rate": 1e-3}``), default Adam.
        init_from: start from another run's final weights instead of a fresh initialisation (its run
            id, e.g. ``"p1-cnn-seed0/seed0"``, or a RunGroup for its first run); init_layers: the
            layer names to copy (default: every layer with parameters both networks have);
            init_weights: "final" (the source's last epoch) or "best" (its best epoch, by its monitor).
        loop: "fit" (Keras' fit on arrays) or "loader" (the PyTorch way: DataLoader, train_on_batch per
            batch); transforms: torchvision-style transforms (a list or a Compose) for loop="loader".
        trainable: names of the layers to train, every other layer frozen (default: all train).
        monitor: the history key that picks the best epoch ("auto": val_accuracy, else accuracy).
        """
        if isinstance(init_from, RunGroup):
            init_from = init_from.runs[0].spec.run_id
        init = None if init_from is None else {"run": str(init_from),
                                               "layers": None if init_layers is None else list(init_layers)}
        if init is not None and init_weights != "final":
            if init_weights != "best":
                raise ValueError(f"{self.name}: init_weights must be 'final' or 'best', got {init_weights!r}")
            init["weights"] = "best"       # only when not the default: older run folders stay valid
        planned = self.planned.get((exercise, variant))
        if planned is None:
            raise ValueError(f"{self.name}: exercise {exercise!r} variant {variant!r} is not in the lab's plan "
                             f"(labs/catalog.py); planned: {sorted(self.planned)}")
        if (planned.architecture, planned.epochs) != (architecture, epochs):
            raise ValueError(f"{self.name}: {exercise} trains {architecture} for {epochs} epochs, the plan says "
                             f"{planned.architecture} for {planned.epochs}: update labs/catalog.py")
        base = RunSpec(lab=self.name, profile=self.profile, exercise=exercise, variant=variant, seed=0,
                       architecture=architecture, data=data.key, epochs=int(epochs), batch_size=int(batch_size),
                       validation_split=float(validation_split),
                       optimizer=dict(optimizer or {"class_name": "Adam", "learning_rate": 0.001}), loss=loss,
                       augment=_augment_config(augment), test_each_epoch=bool(test_each_epoch),
                       init_from=init, loop=loop, transforms=transforms_config(transforms),
                       trainable=None if trainable is None else list(trainable), monitor=monitor)
        runs = [TrainingRun(replace(base, seed=s), self.out / replace(base, seed=s).run_id)
                for s in (self.seeds if seeds is None else seeds)]
        for run in runs:
            run.check_config()
        todo = [r for r in runs if not r.finished]
        if todo and (self.report_only or (self.exercises is not None and exercise not in self.exercises)):
            why = ("`minicnn lab report` only reads stored runs" if self.report_only
                   else "it was not selected with --exercise")
            raise LabStopped(f"{exercise}{' ' + variant if variant else ''}: {len(todo)} run(s) not finished in "
                             f"{self.out} and {why}; the report is not written.")
        if todo:
            self._run_all(todo, data)
        group = RunGroup(self, runs, data)
        self.results.extend(group.results)
        return group

    def _run_all(self, todo: List[TrainingRun], data) -> None:
        if self.jobs > 1 and len(todo) > 1:
            from .parallel import run_parallel
            for run, result in run_parallel(todo, data, self.jobs, self.out):
                self._after_run(run, result)
            return
        for run in todo:
            result = run.run(data, progress=self.progress)
            self._after_run(run, result)

    def _after_run(self, run: TrainingRun, result: dict) -> None:
        self._trained_s += result["wall_s"]
        h = result["history"]
        val = f", val {h['val_accuracy'][-1]:.3f}" if h.get("val_accuracy") else ""
        print(f"[{self.name}] {run.spec.run_id}: train {result['train_accuracy']:.3f}{val}, "
              f"test {result['test_accuracy']:.3f}, {result['wall_s']:.0f} s; "
              f"about {format_duration(self.time_left())} left for the lab", flush=True)

    def time_left(self) -> float:
        """Seconds to train the planned runs not finished yet, at the speed measured so far in
        this lab: per architecture, the median over its finished runs of seconds per training image
        and epoch (a run's wall time), divided by ``jobs`` when runs train side by side (each run's
        wall time then counts the whole machine's time for ``jobs`` runs)."""
        rates: Dict[str, list] = {}
        finished = set()
        for path in self.out.glob("*/seed*/result.json"):
            r = json.loads(path.read_text())
            finished.add((r["exercise"], r["variant"], r["seed"]))
            planned = self.planned.get((r["exercise"], r["variant"]))
            if planned is not None and r["epochs"]:
                rates.setdefault(planned.architecture, []).append(r["wall_s"] / (r["epochs"] * planned.n_train))
        speed = {arch: float(np.median(values)) for arch, values in rates.items()}
        fallback = max(speed.values()) if speed else 0.0
        left = 0.0
        for p in self.planned.values():
            for s in range(p.first_seed, p.first_seed + p.seeds):
                if (p.exercise, p.variant, s) not in finished:
                    left += speed.get(p.architecture, fallback) * p.epochs * p.n_train
        return left / self.jobs

    # ------------------------------------------------------------ report
    def md(self, text: str) -> None:
        """Append markdown to the report (a blank line is added between pieces)."""
        self._md.append(text.strip("\n"))

    def figure(self, fig, filename: str, caption: str) -> None:
        """Save a matplotlib figure into the report and show it there with its caption."""
        if not filename.endswith(".png"):
            raise ValueError(f"lab.figure: {filename!r} must be a .png file name")
        fig.savefig(self._staging / filename, dpi=100, bbox_inches="tight")
        alt = caption.replace("*", "").replace("[", "(").replace("]", ")")
        self.md(f"![{alt}]({filename})\n\n{caption}")

    def answer(self, question: str, value) -> None:
        """A machine-readable answer (number or short text) for results.json's ``answers``."""
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        self.answers[question] = value

    def header(self, wall_s: float) -> str:
        spec = self.spec
        sources = sorted({d.source for d in self._data.values()})
        return "\n".join([
            f"# {spec.title}",
            "",
            f"Reproduces `../shared/seeds/{spec.document}` with minicnn: every number below was measured by "
            f"running `{spec.module.replace('.', '/')}.py` (`minicnn lab run {self.name} --profile {self.profile}`).",
            "",
            "| | |",
            "|---|---|",
            f"| profile | `{self.profile}`: {spec.differences.get(self.profile, '')} |",
            f"| seeds | {len(self.seeds)} per experiment (mean ± sample std, ddof = 1, when more than one) |",
            f"| data | {'; '.join(sources) or '-'} |",
            f"| machine | {machine.cpu_name()}, {machine.cores()} cores |",
            f"| date | {machine.today()} |",
            f"| minicnn commit | {machine.commit()} |",
            f"| wall time | {format_duration(wall_s)} of training in total (summed over runs, resumed "
            f"parts included) |",
            "",
        ])

    def finish(self) -> Path:
        """Write README.md and results.json, then move the finished report into place."""
        wall = sum(r["wall_s"] for r in self.results)
        text = self.header(wall) + "\n" + "\n\n".join(self._md) + "\n"
        (self._staging / "README.md").write_text(text)
        sources = sorted({d.source for d in self._data.values()})
        results = {"lab": self.name, "profile": self.profile, "data": "; ".join(sources),
                   "runs": self.results, "answers": self.answers}
        (self._staging / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        old = self.report_dir.with_name(f".{self.report_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if self.report_dir.exists():
            os.replace(self.report_dir, old)
        os.replace(self._staging, self.report_dir)
        if old.exists():
            shutil.rmtree(old)
        print(f"[{self.name}] report written to {self.report_dir}", flush=True)
        return self.report_dir


def _augment_config(augment) -> Optional[dict]:
    if augment is None:
        return None
    config = augment.get_config() if hasattr(augment, "get_config") else dict(augment)
    config = json.loads(json.dumps(config))  # tuples -> lists, as stored in config.json
    config.pop("seed", None)  # every run draws from its own seed
    return config


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


# -------------------------------------------------------------- entry point
_CONFIG: Optional[dict] = None   # set by the command line before it runs a lab module


def start(name: str) -> Lab:
    """The Lab for the script ``name``: configured by ``minicnn lab run`` or, when the script runs
    on its own, by its own command-line arguments (default: the quick profile)."""
    if _CONFIG is not None and _CONFIG.get("name") == name:
        config = dict(_CONFIG)
    else:
        from .cli import add_run_arguments
        import argparse
        parser = argparse.ArgumentParser(prog=f"labs/{name}")
        add_run_arguments(parser)
        args, _ = parser.parse_known_args(sys.argv[1:] if sys.argv[0].endswith(".py") else [])
        config = vars(args)
    config.pop("name", None)
    return Lab(name, **{k: v for k, v in config.items() if k in _LAB_ARGS})


_LAB_ARGS = ("profile", "out", "report_dir", "seeds", "jobs", "data_root", "exercises", "restart", "report_only",
             "progress")
