"""Compile the Numba kernels ahead of use, so the first training after an install does not wait.

    python -m minicnn.kernels.warmup        (``make venv`` runs it after installing)

Numba compiles each kernel on its first call and keeps the machine code in
its cache (``cache=True``: ``__pycache__`` beside the kernel files, or
``NUMBA_CACHE_DIR``). Without this step the first epoch of a PW09 training
pays that compilation, about 4.5 s of CPU on the course machine, measured
against about 0.7 s to load the cached code. This trains a tiny net built of
every layer kind the course uses (3x3 convs on 3 and 8 channels, the others
by im2col, BatchNorm on images and vectors, ReLU, max and average pooling,
dropout, Dense, softmax + cross-entropy, Adam) for one step and runs its
inference, in float32 (training) and float64 (gradient checks), once with
each Winograd tile size, so each kernel is compiled for the array types it
really receives.
"""
from __future__ import annotations

import time

import numpy as np


def tiny_net(seed=0):
    """A small model with every layer kind whose kernels are compiled (8x8x3 images, 4 classes)."""
    import minicnn as mc
    return mc.Sequential([
        mc.Input((8, 8, 3)),
        mc.Conv2D(8, 3, padding="same"), mc.BatchNorm(), mc.ReLU(),    # im2col for thin inputs
        mc.Conv2D(8, 3, padding="same"), mc.ReLU(),                    # Winograd (F(2x2) or F(4x4), 3x3)
        mc.MaxPool2D(2),
        mc.Conv2D(8, 3, padding="same"), mc.ReLU(),                    # Winograd, dx needed below
        mc.Conv2D(8, 2, strides=2), mc.ReLU(),                         # im2col + col2im
        mc.AvgPool2D(2, padding="same"), mc.Dropout(0.25),
        mc.Flatten(), mc.Dense(6), mc.BatchNorm(), mc.ReLU(),
        mc.Dense(4, activation="softmax"),
    ], seed=seed)


def compile_kernels(verbose=True) -> float:
    """Run the tiny net's training step and inference in float32 and float64; -> seconds taken."""
    from .. import kernels
    from ..ops import conv
    from ..ops.conv_winograd import TRANSFORMS
    from ..train import train_step
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    default_tile = conv.WINOGRAD_TILE
    try:
        with kernels.using("numba"):
            for tile in sorted(TRANSFORMS):  # both Winograd variants: a student may switch to the other
                conv.WINOGRAD_TILE = tile
                for dtype in (np.float32, np.float64):
                    model = tiny_net()
                    model.compile("adam", "sparse_categorical_crossentropy")
                    x = rng.random((4, 8, 8, 3)).astype(dtype)
                    if dtype == np.float64:  # a gradient check's model: every parameter in float64
                        model.build((None, 8, 8, 3))
                        for p in model.weights:
                            p.value = p.value.astype(np.float64)
                    train_step(model, x, np.arange(4) % 4)
                    model.predict(x)
    finally:
        conv.WINOGRAD_TILE = default_tile
    elapsed = time.perf_counter() - start
    if verbose:
        print(f"minicnn: Numba kernels compiled and cached in {elapsed:.1f} s")
    return elapsed


if __name__ == "__main__":
    compile_kernels()
