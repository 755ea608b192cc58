"""Conv and pooling kernels: minicnn's backends against each other and PyTorch.

    .venv/bin/python benchmarks/bench_kernels.py            # full run, batch 128
    .venv/bin/python benchmarks/bench_kernels.py --quick    # fewer repeats

For the conv layers of the course nets (all 3x3, "same", batch 128):

    PW09 net:  32x32x3->32, 32x32x32->32, 16x16x32->32   (+ two 2x2 max pools)
    tiny VGG:  32x32x3->32, 32x32x32->32, 16x16x32->64, 16x16x64->64

it measures the forward and the backward pass of ``minicnn.ops.conv`` with each
kernel backend, and ``torch.nn.functional.conv2d`` (2 threads) when PyTorch is
installed. Before any timing, every result is checked against PyTorch (or,
without it, against the reference backend on two images), and each function is
called once so Numba's compilation is not timed. The reference backend is pure
Python: it is timed on a tiny shape only.

Reported: median time (and min) over the repeats, GFLOP/s (forward:
2*N*OH*OW*F*KH*KW*C flops, also for Winograd's layers, which do fewer;
backward twice that: dx and dW), the column buffer (or Winograd's U and M)
minicnn allocates (vs the full im2col matrix it avoids), and the peak memory
one forward+backward allocates (tracemalloc; numpy reports its buffers to it).

The comparison is also drawn (``--figure``, default ``benchmarks/kernels.png``,
beside benchmarks/README.md): per course layer, forward and backward, the
reference / NumPy / Numba / PyTorch times on a log scale. The reference
backend (pure Python loops) is timed on ``--reference-images`` images per
layer and scaled to the batch (its cost is the same for every image); the
figure says so, and states the machine, the date and the load average.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minicnn import kernels  # noqa: E402
from minicnn.ops import conv as conv_op  # noqa: E402
from minicnn.ops.conv import conv2d_backward, conv2d_forward  # noqa: E402
from minicnn.ops.pool import maxpool2d_backward, maxpool2d_forward  # noqa: E402

try:
    import torch
    import torch.nn.functional as Fn

    torch.set_num_threads(2)
except ImportError:  # the benchmark still runs, without the torch rows
    torch = None

# (label, H, W, C, F): the distinct conv layers of the two nets
CONV_LAYERS = [
    ("PW09/VGG conv1 32x32x3->32", 32, 32, 3, 32),
    ("PW09/VGG conv2 32x32x32->32", 32, 32, 32, 32),
    ("PW09 conv3 16x16x32->32", 16, 16, 32, 32),
    ("VGG conv3 16x16x32->64", 16, 16, 32, 64),
    ("VGG conv4 16x16x64->64", 16, 16, 64, 64),
]
PW09_CONVS = CONV_LAYERS[:3]
PW09_POOLS = [("PW09 maxpool 32x32x32", 32, 32, 32), ("PW09 maxpool 16x16x32", 16, 16, 32)]


def timeit(fn, repeats):
    """Median and min wall time of ``fn()`` in ms (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times)), 1e3 * float(np.min(times))


def peak_mib(fn):
    """Peak memory (MiB) numpy allocates while ``fn()`` runs."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def nchw(a):
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def torch_conv(x, w, b):
    """PyTorch forward/backward closures for the same data (NCHW, (F, C, KH, KW))."""
    xt = nchw(x).requires_grad_()
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_()
    bt = torch.from_numpy(b.copy()).requires_grad_()
    state = {}

    def forward():
        state["y"] = Fn.conv2d(xt, wt, bt, padding=1)
        return state["y"]

    def backward(dyt):
        xt.grad = wt.grad = bt.grad = None
        state["y"].backward(dyt, retain_graph=True)
        return xt.grad, wt.grad, bt.grad

    return forward, backward


def check_conv(x, w, b, dy, y, grads, torch_ref=None):
    """Raise if minicnn's conv disagrees with PyTorch (or the reference on 2 images)."""
    if torch_ref is not None:
        fwd, bwd = torch_ref
        yt = fwd()
        dxt, dwt, dbt = bwd(nchw(dy))
        exp_y = yt.detach().numpy().transpose(0, 2, 3, 1)
        exp = (dxt.numpy().transpose(0, 2, 3, 1), dwt.numpy().transpose(2, 3, 1, 0), dbt.numpy())
    else:
        with kernels.using("reference"):
            exp_y, cache = conv2d_forward(x[:2], w, b, 1, "same")
            exp = conv2d_backward(dy[:2], cache)
        y, grads = y[:2], (grads[0][:2], None, None)
    np.testing.assert_allclose(y, exp_y, rtol=1e-3, atol=1e-3)
    for got, want in zip(grads, exp):
        if got is not None:
            scale = float(np.max(np.abs(want)))
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale)


def bench_conv(label, N, H, W, C, F, backends, repeats, rng, rows, totals):
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = (rng.standard_normal((3, 3, C, F)) / np.sqrt(9 * C)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32)
    dy = rng.standard_normal((N, H, W, F)).astype(np.float32)
    gflop_fwd = 2 * N * H * W * F * 9 * C / 1e9
    full_cols = N * H * W * 9 * C * 4 / 2**20
    step = conv_op._images_per_chunk(N, H, W, 9 * C, 4)
    workers = min(conv_op.WORKERS, -(-N // step))
    chunk_mib = step * H * W * 9 * C * 4 / 2**20
    torch_ref = torch_conv(x, w, b) if torch is not None else None

    for name in backends:
        with kernels.using(name):
            y, cache = conv2d_forward(x, w, b, 1, "same")  # also compiles Numba
            grads = conv2d_backward(dy, cache)
            check_conv(x, w, b, dy, y, grads, torch_ref)
            tf = timeit(lambda: conv2d_forward(x, w, b, 1, "same"), repeats)
            tb = timeit(lambda: conv2d_backward(dy, cache), repeats)
            peak = peak_mib(lambda: conv2d_backward(dy, conv2d_forward(x, w, b, 1, "same")[1]))
        if cache.get("winograd"):  # no column buffer: Winograd's transformed tiles per worker
            from minicnn.ops.conv_winograd import _Geometry
            geo = _Geometry(x.shape, F, cache["pads"], cache["out_hw"], x.dtype, cache["winograd_tile"])
            tiles_mib = geo.cells * geo.step * geo.tiles * (C + F) * 4 / 2**20
            buffer = (f"Winograd F({geo.m}x{geo.m}): {min(conv_op.WORKERS, -(-N // geo.step))}x{tiles_mib:.1f} "
                      "MiB U+M")
        else:
            buffer = f"{workers}x{chunk_mib:.1f} MiB (full: {full_cols:.0f} MiB)"
        rows.append((label, name, tf, tb, gflop_fwd, buffer, f"{peak:.0f}"))
        totals[name] = totals.get(name, 0.0) + tf[0] + tb[0]
    if torch_ref is not None:
        fwd, bwd = torch_ref
        dyt = nchw(dy)
        with torch.no_grad():
            tf = timeit(fwd, repeats)
        fwd()
        tb = timeit(lambda: bwd(dyt), repeats)  # backward only: the graph is kept
        rows.append((label, "torch", tf, tb, gflop_fwd, "-", "-"))
        totals["torch"] = totals.get("torch", 0.0) + tf[0] + tb[0]


def bench_pool(label, N, H, W, C, backends, repeats, rng, rows, totals):
    x = rng.permutation(N * H * W * C).reshape(N, H, W, C).astype(np.float32)  # no ties
    dy = rng.standard_normal((N, H // 2, W // 2, C)).astype(np.float32)
    xt = nchw(x).requires_grad_() if torch is not None else None
    for name in backends:
        with kernels.using(name):
            y, cache = maxpool2d_forward(x)
            dx = maxpool2d_backward(dy, cache)
            if xt is not None:
                yt = Fn.max_pool2d(xt, 2)
                (dxt,) = torch.autograd.grad(yt, xt, nchw(dy))
                np.testing.assert_array_equal(y, yt.detach().numpy().transpose(0, 2, 3, 1))
                np.testing.assert_allclose(dx, dxt.numpy().transpose(0, 2, 3, 1))
            tf = timeit(lambda: maxpool2d_forward(x), repeats)
            tb = timeit(lambda: maxpool2d_backward(dy, cache), repeats)
        rows.append((label, name, tf, tb, None, "-", "-"))
        totals[name] = totals.get(name, 0.0) + tf[0] + tb[0]
    if xt is not None:
        dyt = nchw(dy)
        with torch.no_grad():
            tf = timeit(lambda: Fn.max_pool2d(xt, 2), repeats)
        yt = Fn.max_pool2d(xt, 2)
        tb = timeit(lambda: torch.autograd.grad(yt, xt, dyt, retain_graph=True), repeats)
        rows.append((label, "torch", tf, tb, None, "-", "-"))
        totals["torch"] = totals.get("torch", 0.0) + tf[0] + tb[0]


def bench_reference(layers, pools, images, batch, repeats, rng):
    """Reference backend (pure Python loops) per layer: {label: (forward ms, backward ms)} for ``batch``.

    Timed on ``images`` images and multiplied by batch / images: a loop over
    every output element costs the same for every image (checked against the
    numba result first, on the same images).
    """
    out = {}
    scale = batch / images
    for label, H, W, C, F in layers:
        x = rng.standard_normal((images, H, W, C)).astype(np.float32)
        w = (rng.standard_normal((3, 3, C, F)) / np.sqrt(9 * C)).astype(np.float32)
        dy = rng.standard_normal((images, H, W, F)).astype(np.float32)
        with kernels.using("numba"):
            y_fast, _ = conv2d_forward(x, w, None, 1, "same")
        with kernels.using("reference"):
            y, cache = conv2d_forward(x, w, None, 1, "same")
            np.testing.assert_allclose(y, y_fast, rtol=1e-4, atol=1e-4)
            tf = timeit(lambda: conv2d_forward(x, w, None, 1, "same"), repeats)
            tb = timeit(lambda: conv2d_backward(dy, cache), repeats)
        out[label] = (tf[0] * scale, tb[0] * scale)
    for label, H, W, C in pools:
        x = rng.permutation(images * H * W * C).reshape(images, H, W, C).astype(np.float32)
        dy = rng.standard_normal((images, H // 2, W // 2, C)).astype(np.float32)
        with kernels.using("reference"):
            _y, cache = maxpool2d_forward(x)
            tf = timeit(lambda: maxpool2d_forward(x), repeats)
            tb = timeit(lambda: maxpool2d_backward(dy, cache), repeats)
        out[label] = (tf[0] * scale, tb[0] * scale)
    return out


BACKEND_STYLE = {  # name -> (legend label, colour)
    "reference": ("reference (pure Python loops)", "#999999"),
    "numpy": ("NumPy (vectorised)", "#4C72B0"),
    "numba": ("Numba (compiled loops, default)", "#DD8452"),
    "torch": ("PyTorch 2 threads", "#55A868"),
}


def draw_figure(rows, reference, path, conditions, images, batch):
    """Grouped bars, one group per layer, one bar per backend; forward and backward panels.

    rows: the table rows (label, backend, (median, min) fwd, (median, min) bwd, ...);
    reference: {label: (fwd ms, bwd ms)} scaled to the batch; conditions: the
    subtitle (machine, date, load). Returns the matplotlib Figure (also saved to ``path``).
    """
    from matplotlib.figure import Figure  # no pyplot: works without a display

    labels = list(dict.fromkeys(r[0] for r in rows))
    times = {(r[0], r[1]): (r[2][0], r[3][0]) for r in rows}
    for label, t in reference.items():
        times[(label, "reference")] = t
    backends = [b for b in BACKEND_STYLE if any((l, b) in times for l in labels)]
    fig = Figure(figsize=(12, 7.5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    width = 0.8 / len(backends)
    xs = np.arange(len(labels))
    for panel, (ax, which) in enumerate(zip(axes, ("forward", "backward"))):
        for k, name in enumerate(backends):
            values = [times.get((l, name), (np.nan, np.nan))[panel] for l in labels]
            legend, colour = BACKEND_STYLE[name]
            if name == "reference":
                legend += f", timed on {images} image(s) x {batch // images}"
            ax.bar(xs + (k - (len(backends) - 1) / 2) * width, values, width, label=legend, color=colour)
        ax.set_yscale("log")
        ax.set_ylabel(f"{which} ms per batch of {batch}\n(log scale, lower is faster)")
        ax.set_title(f"{which} pass", loc="left", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[1].set_xticks(xs, [l.replace(" ", "\n", 1) for l in labels], fontsize=8)
    missing = "" if "torch" in backends else "  PyTorch not installed: no PyTorch bars."
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(backends), fontsize=8)  # off the bars
    fig.suptitle("minicnn kernel backends on the course's conv and max-pool layers "
                 f"(3x3 same / 2x2, float32, batch {batch})\n{conditions}{missing}", fontsize=10)
    fig.savefig(path, dpi=110)
    return fig


def fmt_row(r):
    label, name, tf, tb, gflop, buf, peak = r
    if gflop:
        gf = f"{gflop / tf[0] * 1e3:.0f} / {2 * gflop / tb[0] * 1e3:.0f}"
    else:
        gf = "-"
    return (f"| {label} | {name} | {tf[0]:.1f} ({tf[1]:.1f}) | {tb[0]:.1f} ({tb[1]:.1f}) | "
            f"{gf} | {buf} | {peak} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--backends", default="numba,numpy", help="comma-separated, besides the tiny reference run")
    parser.add_argument("--figure", default=str(Path(__file__).resolve().parent / "kernels.png"),
                        help="where to save the comparison figure (PNG; default benchmarks/kernels.png); "
                             "'' for none")
    parser.add_argument("--reference-images", type=int, default=1,
                        help="images per layer the reference backend is timed on, then scaled to the batch")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    backends = [b for b in args.backends.split(",") if b]
    rng = np.random.default_rng(0)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# bench_kernels  {started}")
    print(f"CPU: {cpu}, {os.cpu_count()} cores; numpy {np.__version__}; "
          f"torch {torch.__version__ if torch else 'not installed'}; batch {args.batch}, "
          f"{repeats} repeats; minicnn conv workers {conv_op.WORKERS}, chunk {conv_op.CHUNK_BYTES / 2**20:.0f} MiB "
          f"(Winograd {conv_op.WINOGRAD_CHUNK_BYTES / 2**20:.0f} MiB)")
    print()
    header = ("| layer | backend | forward ms, median (min) | backward ms, median (min) | "
              "GFLOP/s fwd / bwd | column buffer | peak MiB fwd+bwd |")
    sep = "|---|---|---|---|---|---|---|"

    rows, totals = [], {}
    for label, H, W, C, F in CONV_LAYERS:
        sub = {}
        bench_conv(label, args.batch, H, W, C, F, backends, repeats, rng, rows,
                   sub if (label, H, W, C, F) in PW09_CONVS else {})
        for k, v in sub.items():
            totals[k] = totals.get(k, 0.0) + v
    for label, H, W, C in PW09_POOLS:
        bench_pool(label, args.batch, H, W, C, backends, repeats, rng, rows, totals)
    print(header)
    print(sep)
    for r in rows:
        print(fmt_row(r))

    print()
    print("PW09 net, conv + max-pool layers, forward + backward (sum of medians):")
    for name, t in totals.items():
        ratio = f"  ({t / totals['torch']:.2f}x torch)" if "torch" in totals else ""
        print(f"- {name}: {t:.1f} ms{ratio}")

    # The reference backend: pure Python loops, timed on a tiny problem only.
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    with kernels.using("reference"):
        tf = timeit(lambda: conv2d_forward(x, w, None, 1, "same"), 3)
    with kernels.using("numba"):
        tn = timeit(lambda: conv2d_forward(x, w, None, 1, "same"), 3)
    print(f"\nreference backend (pure Python), tiny conv 2x8x8x3->4: forward {tf[0]:.1f} ms "
          f"(numba: {tn[0]:.2f} ms); too slow to time at batch {args.batch}.")

    if args.figure:
        images = max(1, min(args.reference_images, args.batch))
        reference = bench_reference(CONV_LAYERS, PW09_POOLS, images, args.batch, min(repeats, 3), rng)
        load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        conditions = (f"{cpu}, {os.cpu_count()} cores; {started}; load average {load_before:.1f} at the start, "
                      f"{load_after:.1f} at the end; median of {repeats} repeats")
        draw_figure(rows, reference, args.figure, conditions, images, args.batch)
        print(f"\nreference backend, {images} image(s) per layer scaled to batch {args.batch} (ms):")
        for label, (t_fwd, t_bwd) in reference.items():
            print(f"- {label}: forward {t_fwd:.0f}, backward {t_bwd:.0f}")
        print(f"\nfigure: {args.figure} (reference times: {images} image(s) per layer, x {args.batch / images:g})")


if __name__ == "__main__":
    main()
