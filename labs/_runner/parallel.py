"""``--jobs N``: independent runs (the seeds of an exercise) in N worker processes.

Each worker is limited to cores / N threads (BLAS, Numba, and the conv op's
worker threads), so N workers share the machine instead of fighting over it.
The data reach the workers as ``.npy`` files opened memory-mapped, not as
pickled copies (CIFAR-10 in float32 is 600 MB). A run's arithmetic does not
depend on the thread count, so results equal those of ``--jobs 1``.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import numpy as np

from . import machine
from .data import LabData

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@contextmanager
def _thread_env(threads: int):
    """Spawned workers read these when they import NumPy/Numba."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: str(threads) for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _share(data: LabData, out: Path) -> dict:
    """Write the arrays once as .npy files; -> what a worker needs to rebuild the LabData."""
    folder = out / ".shared" / data.key.replace(":", "_").replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    for name in _ARRAYS:
        path = folder / f"{name}.npy"
        if not path.is_file():
            tmp = folder / f".{name}.{os.getpid()}.npy"
            np.save(tmp, getattr(data, name))
            os.replace(tmp, path)
    meta = {f.name: getattr(data, f.name) for f in fields(LabData) if f.name not in _ARRAYS}
    return {"folder": str(folder), "meta": meta}


def _worker_init(threads: int) -> None:
    from minicnn.ops import conv
    conv.WORKERS = threads


def _work(spec, folder, shared):
    from .training import TrainingRun
    arrays = {n: np.load(Path(shared["folder"]) / f"{n}.npy", mmap_mode="r") for n in _ARRAYS}
    data = LabData(**shared["meta"], **arrays)
    return TrainingRun(spec, folder).run(data, progress=False)


def rounds(n_runs: int, jobs: int, cores: int):
    """[(runs, workers, threads per worker)]: full rounds of ``jobs`` runs, then the rest on the whole machine.

    The runs of an exercise take about equally long, so with 3 seeds and
    ``--jobs 2`` a single pool would train the third seed alone on one of
    two cores for a whole run; here it gets both cores instead.
    """
    full = (n_runs // jobs) * jobs
    plan = [(full, jobs, max(1, cores // jobs))] if full else []
    rest = n_runs - full
    if rest:
        plan.append((rest, rest, max(1, cores // rest)))
    return plan


def run_parallel(runs, data: LabData, jobs: int, out: Path):
    """Yield (run, result) as runs finish, training ``jobs`` of them at a time (see ``rounds``)."""
    shared = _share(data, out)
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent's thread pools would not survive it
    start = 0
    for n, workers, threads in rounds(len(runs), jobs, machine.cores()):
        batch = runs[start:start + n]
        start += n
        with _thread_env(threads), ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                       initializer=_worker_init, initargs=(threads,)) as pool:
            futures = {pool.submit(_work, run.spec, run.folder, shared): run for run in batch}
            for future in as_completed(futures):
                yield futures[future], future.result()
