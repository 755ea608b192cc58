"""minicnn against PyTorch on the course nets: training step, inference, epoch, memory.

    nice -n 19 .venv/bin/python benchmarks/bench_train_step.py [--threads 2] [--repeats 7]
        [--nets PW09 "tiny VGG" "tiny VGG + BN" Ex08] [--epoch-images 50000 | 0 to skip]

Nets (``nets.py``): PW09, tiny VGG, tiny VGG + BatchNorm (32x32x3) and Ex08,
PyTorch's MNIST example (28x28x1, with dropout). Both frameworks start from the
same weights; float32; PyTorch with ``torch.set_num_threads(--threads)``.

1. Training step (batch 128: forward, sparse cross-entropy with the fused
   softmax gradient, backward, Adam): one step of each on the same batch must
   give the same loss (nets without dropout; with dropout the masks differ, so
   their inference outputs are compared), then the two are timed interleaved,
   step for step, so both see the same machine state; median of ``--repeats``.
2. Inference: ``model.predict(x, batch_size=500)`` against ``net.eval()`` +
   softmax under ``torch.no_grad()`` on the same 500 images, outputs checked
   equal, timed interleaved.
3. Epoch (each net of ``--epoch-nets``, default all four: ``--epoch-images``
   random images of the net's input shape, the last 10 % for validation,
   batch 128, progress bar drawn): each framework in a child process of its
   own, two epochs, and its peak resident memory (VmHWM). minicnn runs from an
   empty Numba cache filled by ``python -m minicnn.kernels.warmup`` (what
   ``make venv`` runs after installing: the first epoch after an install); for
   the first net also without it (the first epoch then pays the compilation).

Every table states the load average beside its numbers: on a shared machine
absolute times are inflated, and only the interleaved ratios keep their meaning.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--predict-batch", type=int, default=500)
    p.add_argument("--kernels", default="numba", choices=["numba", "numpy"])
    p.add_argument("--nets", nargs="+", default=["PW09", "tiny VGG", "tiny VGG + BN", "Ex08"])
    p.add_argument("--epoch-images", type=int, default=50000, help="0: skip the epoch and memory section")
    p.add_argument("--epoch-nets", nargs="+", default=None, help="nets for the epoch section (default: --nets)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: time steps and inference by the process's CPU time, which other programs on a "
                        "loaded machine inflate much less than wall time; only meaningful with --threads 1 "
                        "(PyTorch's waiting threads spin, and minicnn's workers add up)")
    p.add_argument("--child", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--child-net", default="PW09", help=argparse.SUPPRESS)
    return p.parse_args(argv)


args = parse()
# Thread counts must be set before numpy/numba/torch start their pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(HERE))
import nets  # noqa: E402

import minicnn as mc  # noqa: E402
from minicnn.train import train_step  # noqa: E402

try:
    if args.child == "minicnn":
        raise ImportError  # the minicnn child must not load PyTorch (its memory would count)
    import torch  # noqa: E402
    torch.set_num_threads(args.threads)
except ImportError:
    torch = None


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def blas_description():
    """Which OpenBLAS kernels NumPy uses (``OPENBLAS_CORETYPE`` forces a choice)."""
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
        arch = info[0].get("architecture") if info else "?"
    except ImportError:
        arch = "?"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"OpenBLAS kernels {arch}" + (f" (OPENBLAS_CORETYPE={forced} in the environment)" if forced else "")


def interleaved(ours, theirs, repeats):
    """Median seconds of ours() and theirs(), called alternately ``repeats`` times (--clock)."""
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    a, b = [], []
    for _ in range(repeats):
        t = clock(); ours(); a.append(clock() - t)
        if theirs is not None:
            t = clock(); theirs(); b.append(clock() - t)
    return statistics.median(a), (statistics.median(b) if b else None)


def row(name, ours_s, theirs_s):
    if theirs_s is None:  # no number to compare with: say why instead of printing nan
        return f"| {name} | {1e3 * ours_s:.1f} | PyTorch not installed | - | {load()} |"
    return f"| {name} | {1e3 * ours_s:.1f} | {1e3 * theirs_s:.1f} | {ours_s / theirs_s:.2f} | {load()} |"


def batch_for(name, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n,) + nets.input_shape(name), dtype=np.float32)
    return x, rng.integers(0, 10, n)


def bench_step(name):
    model = nets.build(name)
    x, y = batch_for(name, args.batch)
    if torch is None:
        train_step(model, x, y)  # warm-up (Numba compilation)
        return interleaved(lambda: train_step(model, x, y), None, args.repeats)
    net, opt = nets.to_torch(model)
    xt, yt = nets.to_nchw(x), torch.from_numpy(y.astype(np.int64))
    if nets.has_dropout(name):  # different masks: compare the inference outputs instead
        net.eval()
        with torch.no_grad():
            theirs = torch.softmax(net(xt), 1).numpy()
        net.train()
        np.testing.assert_allclose(model.predict(x, batch_size=len(x)), theirs, atol=1e-5)
        train_step(model, x, y)
        nets.torch_step(net, opt, xt, yt)
    else:  # correctness before timing: same weights, same batch -> same loss
        loss_ours, _ = train_step(model, x, y)
        loss_theirs = nets.torch_step(net, opt, xt, yt)
        assert abs(loss_ours - loss_theirs) < 1e-4 * max(1, abs(loss_theirs)), (name, loss_ours, loss_theirs)
    return interleaved(lambda: train_step(model, x, y), lambda: nets.torch_step(net, opt, xt, yt), args.repeats)


def bench_predict(name):
    model = nets.build(name)
    x, _ = batch_for(name, args.predict_batch, seed=1)
    ours = lambda: model.predict(x, batch_size=args.predict_batch)  # noqa: E731
    if torch is None:
        ours()
        return interleaved(ours, None, args.repeats)
    net, _ = nets.to_torch(model)
    net.eval()
    xt = nets.to_nchw(x)

    def theirs():
        with torch.no_grad():
            return torch.softmax(net(xt), 1)

    np.testing.assert_allclose(ours(), theirs().numpy(), atol=1e-5)
    return interleaved(ours, theirs, args.repeats)


# ----------------------------------------------------------------------------- epoch children


def epoch_data(n):
    """n float32 images of the child's net's input shape in [0, 1), and labels (the last 10 % validate)."""
    return batch_for(args.child_net, n, seed=2)


def child_minicnn():
    x, y = epoch_data(args.epoch_images)
    model = nets.build(args.child_net)
    times = []

    class EpochTimer(mc.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # the progress bar is drawn, not shown
    try:
        model.fit(x, y, epochs=2, batch_size=args.batch, validation_split=0.1, verbose=1, seed=0,
                  callbacks=[EpochTimer()])
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    return times


def child_torch():
    from tqdm.auto import tqdm
    x, y = epoch_data(args.epoch_images)
    n_val = int(len(x) * 0.1)
    net, opt = nets.to_torch(nets.build(args.child_net))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # a view: no second copy of the data set
    yt = torch.from_numpy(y.astype(np.int64))
    x_train, y_train, x_val, y_val = xt[:-n_val], yt[:-n_val], xt[-n_val:], yt[-n_val:]
    gen = torch.Generator().manual_seed(0)
    times = []
    devnull = open(os.devnull, "w")
    for epoch in range(2):
        t = time.perf_counter()
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        batches = range(0, len(order), args.batch)
        total = correct = seen = 0.0
        bar = tqdm(total=len(batches), desc=f"Epoch {epoch + 1}/2", file=devnull, unit="batch")
        for start in batches:
            idx = order[start:start + args.batch]
            xb, yb = x_train[idx].contiguous(), y_train[idx]
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = torch.nn.functional.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            k = len(yb)
            total += loss.item() * k
            correct += (out.argmax(1) == yb).sum().item()
            seen += k
            bar.set_postfix({"loss": f"{total / seen:.4f}", "accuracy": f"{correct / seen:.4f}"}, refresh=False)
            bar.update(1)
        net.eval()
        with torch.no_grad():
            for start in range(0, n_val, max(args.batch, 256)):
                out = net(x_val[start:start + 256].contiguous())
                torch.nn.functional.cross_entropy(out, y_val[start:start + 256]).item()
        bar.close()
        times.append(time.perf_counter() - t)
    devnull.close()
    return times


def peak_rss_mib():
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over an exec, so a child would report its parent's peak if that was higher."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB (macOS: bytes)


def run_child(which, net, numba_cache="default"):
    """Run an epoch child; -> its JSON result (epoch seconds, peak RSS in MiB).

    numba_cache: "default" (whatever cache there is), "empty" (every kernel compiled during the first
    epoch), or "installed" (an empty cache filled by ``python -m minicnn.kernels.warmup`` first, as
    ``make venv`` does after installing).
    """
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache_dir:
        if numba_cache != "default":
            env["NUMBA_CACHE_DIR"] = cache_dir
        if numba_cache == "installed":
            subprocess.run([sys.executable, "-m", "minicnn.kernels.warmup"], env=env, check=True,
                           capture_output=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", which, "--child-net", net,
               "--threads", str(args.threads), "--batch", str(args.batch), "--epoch-images", str(args.epoch_images)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def epoch_section():
    n_val = int(args.epoch_images * 0.1)
    print(f"\n### Epoch: {args.epoch_images - n_val} training + {n_val} validation images, batch "
          f"{args.batch}, progress bar on; each run in its own process, one after the other ({load()})\n")
    print("| net | run | epoch 1 s | epoch 2 s | epoch 1 / epoch 2 | peak RSS MiB | load |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for k, net in enumerate(args.epoch_nets or args.nets):
        runs = [("minicnn, first epoch after install (make venv: kernels compiled by its warm-up)", "minicnn",
                 "installed")]
        if k == 0:  # the compilation costs the same whatever the net: measured once
            runs.append(("minicnn, empty Numba cache (pip install without the warm-up)", "minicnn", "empty"))
        if torch is not None:
            runs.append(("PyTorch", "torch", "default"))
        results = {}
        for label, which, numba_cache in runs:
            r = run_child(which, net, numba_cache)
            results[label] = r
            e1, e2 = r["epoch_s"]
            print(f"| {net} | {label} | {e1:.1f} | {e2:.1f} | {e1 / e2:.2f} | {r['max_rss_mib']:.0f} | {load()} |")
            sys.stdout.flush()
        if torch is not None:
            ours, theirs = results[runs[0][0]], results["PyTorch"]
            ratios.append(f"{net}: epoch 2 minicnn / PyTorch {ours['epoch_s'][1] / theirs['epoch_s'][1]:.2f}, "
                          f"peak RSS {ours['max_rss_mib'] / theirs['max_rss_mib']:.2f}")
    if ratios:
        print("\n" + "; ".join(ratios))


def main():
    if args.child:
        mc.kernels.use(args.kernels)
        times = child_minicnn() if args.child == "minicnn" else child_torch()
        print(json.dumps({"epoch_s": times, "max_rss_mib": peak_rss_mib()}))
        return
    mc.kernels.use(args.kernels)
    import platform
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
          f"{np.__version__}, {blas_description()}, torch "
          f"{torch.__version__ if torch else 'not installed (no PyTorch column: pip install torch)'}; "
          f"float32, {args.threads} threads, kernels={args.kernels}, {args.repeats} repeats (median), "
          f"{'CPU time' if args.clock == 'cpu' else 'wall time'}, {len(os.sched_getaffinity(0))} CPU(s) usable, "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"\n### Training step, batch {args.batch} (forward, loss, backward, Adam)\n")
    print("| net | minicnn ms | PyTorch ms | ratio | load |")
    print("|---|---|---|---|---|")
    for name in args.nets:
        print(row(name, *bench_step(name)))
        sys.stdout.flush()
    print(f"\n### Inference, predict on {args.predict_batch} images in one batch\n")
    print("| net | minicnn ms | PyTorch ms | ratio | load |")
    print("|---|---|---|---|---|")
    for name in args.nets:
        print(row(name, *bench_predict(name)))
        sys.stdout.flush()
    if args.epoch_images:
        epoch_section()


if __name__ == "__main__":
    main()
