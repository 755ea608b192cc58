"""Estimated training time of a lab profile on this machine.

The plan (labs/catalog.py) says how many images of which network each run
trains for how many epochs. One training step of each network is timed here
(after a warm-up, which also compiles the Numba kernels), on random data of
the network's input shape; the estimate is plan × seconds per image, plus 10 %
for the per-epoch validation and the final evaluations.
"""
from __future__ import annotations

import time
from typing import Dict

import numpy as np

from labs.architectures import build
from minicnn.train import train_step

BATCH = 64
OVERHEAD = 1.10


def seconds_per_image(architecture: str, repeats: int = 3) -> float:
    model = build(architecture, seed=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    shape = model.input_shape[1:]
    rng = np.random.default_rng(0)
    x = rng.random((BATCH,) + tuple(shape), dtype=np.float32)
    k = model.output_shape[-1]
    y = np.eye(k, dtype=np.float32)[rng.integers(0, k, BATCH)]
    train_step(model, x, y)  # warm-up: Numba compilation, buffers
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train_step(model, x, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / BATCH


def estimate(spec, profile: str, speeds: Dict[str, float]) -> float:
    """Seconds for every planned run of ``profile`` (``speeds``: architecture -> s/image, filled as needed)."""
    total = 0.0
    for run in spec.planned(profile):
        if run.architecture not in speeds:
            speeds[run.architecture] = seconds_per_image(run.architecture)
        total += speeds[run.architecture] * run.n_train * run.epochs * run.seeds
    return total * OVERHEAD
