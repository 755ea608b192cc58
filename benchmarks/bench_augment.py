"""How fast is data augmentation? Images per second on CIFAR-sized batches.

    python benchmarks/bench_augment.py [--repeats 50] [--batch 128]

Budget: augmenting one batch of 128 should cost at most 10 % of a training
step of the course's CIFAR network (PW09; PyTorch's step is about 124 ms on
the reference machine), i.e. about 12 ms.

The images are random uint8 / float32 arrays of CIFAR-10's shape: the cost
of these transforms does not depend on the pixel values. Numba compiles the
resampling kernel on first use, so every pipeline is run once (and its output
checked) before timing. Results go, by hand, to benchmarks/README.md
("## Augmentation").
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from minicnn.data import ImageAugmenter
from minicnn.data import transforms as T

BUDGET_MS = 12.4  # 10 % of PyTorch's PW09 step (124 ms)


def pipelines():
    """name -> (callable, input dtype)."""
    return {
        "Keras-style: ImageAugmenter(flip + shift 0.1 + rotation 15, bilinear)": (
            ImageAugmenter(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1,
                           horizontal_flip=True, seed=0), np.float32),
        "torchvision-style: flip + RandomCrop(32, pad 4) + RandomRotation(15)": (
            T.Compose([T.RandomHorizontalFlip(seed=0), T.RandomCrop(32, padding=4, seed=1),
                       T.RandomRotation(15, seed=2)]), np.uint8),
        "  RandomHorizontalFlip alone": (T.RandomHorizontalFlip(seed=0), np.uint8),
        "  RandomCrop(32, padding=4) alone": (T.RandomCrop(32, padding=4, seed=0), np.uint8),
        "  RandomRotation(15) alone (nearest)": (T.RandomRotation(15, seed=0), np.uint8),
        "  ImageAugmenter(rotation_range=15) alone (bilinear)": (
            ImageAugmenter(rotation_range=15, seed=0), np.float32),
    }


def check(name, fn, x):
    """Run once (compiles Numba) and check the output before timing it."""
    out = fn(x)
    assert out.shape == x.shape and out.dtype == x.dtype, name
    assert not np.shares_memory(out, x), name
    if x.dtype == np.uint8:
        assert out.min() >= 0 and out.max() <= 255
    else:
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    # a sanity check of the kernel itself: a flip with p=1 is np.flip
    assert (T.RandomHorizontalFlip(p=1.0)(x) == x[:, :, ::-1]).all()


def time_it(fn, x, repeats):
    """Median wall-clock and median CPU time (``process_time``) of one call, in seconds.

    On a busy machine the wall clock also counts time spent waiting for a core;
    CPU time is what the augmentation itself costs."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn(x)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x8 = rng.integers(0, 256, (args.batch, 32, 32, 3), dtype=np.uint8)
    xf = x8.astype(np.float32) / 255
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"batch {args.batch}x32x32x3, median of {args.repeats}")
    print(f'"within {BUDGET_MS} ms": yes when augmenting one batch takes at most {BUDGET_MS} ms (wall), '
          f"10 % of one PW09 training step with PyTorch on the reference machine (124 ms): augmenting on "
          f"the fly then slows training by at most 10 %.")
    print(f"| pipeline | wall ms / batch | CPU ms / batch | images / s (wall) | within {BUDGET_MS} ms |")
    print("| --- | ---: | ---: | ---: | :---: |")
    for name, (fn, dtype) in pipelines().items():
        x = x8 if dtype == np.uint8 else xf
        check(name, fn, x)
        wall, cpu = time_it(fn, x, args.repeats)
        ok = "yes" if wall * 1e3 <= BUDGET_MS else "NO"
        print(f"| {name.strip()} ({np.dtype(dtype).name}) | {wall * 1e3:.2f} | {cpu * 1e3:.2f} | "
              f"{args.batch / wall:,.0f} | {ok} |")


if __name__ == "__main__":
    main()
