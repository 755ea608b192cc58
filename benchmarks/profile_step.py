"""Where a training step's time goes: a per-op profile of one whole step.

    nice -n 19 .venv/bin/python benchmarks/profile_step.py [--nets PW09 "tiny VGG"] [--rounds 7]

For each net (batch 128, float32, numba kernels) every layer's forward and
backward pass, the loss, the optimizer update and the rest of ``train_step``
(graph runner, zero_grad, casts) are timed inside real training steps (each
layer's ``_forward`` / ``_backward`` wrapped by a timer on the instance), median
over the rounds. The fit loop's own work per batch (shuffled batch slicing,
the progress bar, the accuracy, callbacks) is timed by running ``fit`` with
the step replaced by a stub. A PyTorch step of the same net is timed
interleaved with the minicnn steps (when PyTorch is installed), so the table
also shows the step ratio under the same machine state.

GFLOP/s for the products (conv: 2*N*OH*OW*F*KH*KW*C per GEMM: forward one,
backward two, dW and dx, or one when dx is skipped; Dense likewise), and the
"floor": the time those flops would take at ``--peak-gflops`` (the machine's
2-core sgemm peak). Load average is printed with the table: under load only
the shares and the ratio mean much.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", nargs="+", default=["PW09", "tiny VGG"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: the process's CPU time (all threads), which other programs on a loaded "
                        "machine inflate much less than wall time; best with one core (taskset -c 0 ... --threads 1)")
    p.add_argument("--peak-gflops", type=float, default=170.0,
                   help="2-core sgemm peak for the floor column (2 x 85 GFLOP/s measured on the quiet machine)")
    return p.parse_args(argv)


args = parse() if __name__ == "__main__" else parse([])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, str(args.threads))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nets  # noqa: E402

import minicnn as mc  # noqa: E402
import minicnn.train as train_mod  # noqa: E402
from minicnn.train import train_step  # noqa: E402

try:
    import torch
    torch.set_num_threads(args.threads)
except ImportError:
    torch = None

clock = time.perf_counter if args.clock == "wall" else time.process_time


def layer_flops(layer, batch, need_dx):
    """(forward flops, backward flops) of a Conv2D / Dense layer's GEMMs, else (0, 0)."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        kh, kw, c, f = layer.params["kernel"].value.shape
        _, oh, ow, _ = layer.output_shape
        fwd = 2 * batch * oh * ow * f * kh * kw * c
    elif kind == "Dense":
        d, u = layer.params["kernel"].value.shape
        fwd = 2 * batch * d * u
    else:
        return 0, 0
    return fwd, fwd * (2 if need_dx else 1)


def instrument(model, times):
    """Wrap every layer's _forward/_backward, the loss and the optimizer with timers into ``times``."""
    def timed(label, fn):
        def wrapper(*a, **k):
            t = clock()
            out = fn(*a, **k)
            times[label].append(clock() - t)
            return out
        return wrapper

    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        layer._forward = timed((layer.name, "forward"), layer._forward)
        layer._backward = timed((layer.name, "backward"), layer._backward)
    model.loss.from_logits_value_and_grad = timed(("loss", "forward+backward"),
                                                  model.loss.from_logits_value_and_grad)
    model.optimizer.step = timed(("Adam update", "-"), model.optimizer.step)


def fit_loop_overhead(model, batch, n_batches=40):
    """ms per batch of fit's own loop (slicing, progress bar, accuracy), the step stubbed out."""
    shape = model.layers[0].input_shape[1:]
    rng = np.random.default_rng(1)
    x = rng.random((batch * n_batches,) + tuple(shape), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    out = np.full((batch, 10), 0.1, dtype=np.float32)
    real = train_mod.train_step
    train_mod.train_step = lambda model, xb, yb, skip_if=None: (2.3, out[: len(xb)])
    devnull = open(os.devnull, "w")
    stdout = sys.stdout
    try:
        sys.stdout = devnull  # the progress bar is drawn (verbose=1) but not shown
        t = clock()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=1, seed=0)
        elapsed = clock() - t
    finally:
        sys.stdout = stdout
        train_mod.train_step = real
        devnull.close()
    idx = rng.permutation(len(x))[:batch]
    t = clock()
    for _ in range(20):
        x[idx], y[idx]
    slicing = (clock() - t) / 20
    return 1e3 * elapsed / n_batches, 1e3 * slicing


def profile(name):
    model = nets.build(name)
    shape = nets.input_shape(name)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    loop_ms, slice_ms = fit_loop_overhead(nets.build(name), args.batch)
    if torch is not None:
        net, opt = nets.to_torch(model)
        xt, yt = nets.to_nchw(x), torch.from_numpy(y.astype(np.int64))
        nets.torch_step(net, opt, xt, yt)
    train_step(model, x, y)  # warm-up: Numba compilation, first allocations
    plain, theirs = [], []
    for _ in range(args.rounds):  # the unwrapped step, interleaved with PyTorch's
        t = clock(); train_step(model, x, y); plain.append(clock() - t)
        if torch is not None:
            t = clock(); nets.torch_step(net, opt, xt, yt); theirs.append(clock() - t)
    times = defaultdict(list)
    instrument(model, times)
    steps = []
    for _ in range(args.rounds):
        t = clock(); train_step(model, x, y); steps.append(clock() - t)
    step_ms = 1e3 * statistics.median(steps)
    first_param_layer = next(l for l in model.layers if l.params)
    rows, accounted = [], 0.0
    for (label, phase), ts in times.items():
        ms = 1e3 * statistics.median(ts)
        accounted += ms
        layer = next((l for l in model.layers if l.name == label), None)
        flops = 0
        if layer is not None:
            fwd, bwd = layer_flops(layer, args.batch, need_dx=layer is not first_param_layer)
            flops = fwd if phase == "forward" else bwd
        rows.append((f"{label} ({type(layer).__name__})" if layer is not None else label, phase, ms, flops))
    rows.append(("rest of train_step (graph runner, zero_grad, casts)", "-", max(step_ms - accounted, 0.0), 0))
    rows.append(("fit loop per batch (slicing, bar, accuracy)", "-", loop_ms, 0))
    total = step_ms + loop_ms
    load = os.getloadavg()
    print(f"\n### {name}: step {1e3 * statistics.median(plain):.1f} ms unwrapped, {step_ms:.1f} ms wrapped"
          + (f"; PyTorch {1e3 * statistics.median(theirs):.1f} ms, ratio "
             f"{statistics.median(plain) / statistics.median(theirs):.2f}" if theirs else "")
          + f"; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"(of the fit loop: shuffled batch slicing x[idx], y[idx] {slice_ms:.2f} ms)\n")
    print("| op | pass | ms | share | GFLOP/s | floor ms |")
    print("|---|---|---:|---:|---:|---:|")
    flops_total = 0
    for label, phase, ms, flops in rows:
        gf = f"{flops / ms / 1e6:.0f}" if flops else "-"
        floor = f"{flops / args.peak_gflops / 1e6:.1f}" if flops else "-"
        flops_total += flops
        print(f"| {label} | {phase} | {ms:.2f} | {100 * ms / total:.1f} % | {gf} | {floor} |")
    print(f"| **total (step + fit loop)** | | **{total:.1f}** | 100 % | {flops_total / total / 1e6:.0f} | "
          f"{flops_total / args.peak_gflops / 1e6:.1f} |")
    sys.stdout.flush()


def main():
    print(f"batch {args.batch}, float32, numba kernels, {args.threads} threads, {args.clock} clock, "
          f"{len(os.sched_getaffinity(0))} CPU(s) usable, {args.rounds} rounds (median); "
          f"floor at {args.peak_gflops:.0f} GFLOP/s")
    for name in args.nets:
        profile(name)


if __name__ == "__main__":
    main()
