"""One ResNet50 forward pass on 224x224x3 images (inference, float32, batch 1 and 8):
minicnn's ``applications.ResNet50`` vs the same network in plain PyTorch.

torchvision is not available here, so the PyTorch twin is written below with
``torch.nn`` (the torchvision-style modules, laid out as Keras' ResNet50:
biased convolutions, BatchNorm epsilon 1.001e-5, the stride on the first 1x1
convolution of a block). minicnn's random weights (with random BatchNorm
statistics) are copied into it, and the two outputs must agree before
anything is timed. Both run on the same number of threads, one after the other.

    python benchmarks/bench_resnet50.py [--threads 2] [--repeats 7] [--batches 1 8]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--kernels", default="numba", choices=["numba", "numpy"])
    return p.parse_args()


args = parse()
# Thread counts must be set before numpy/numba/torch start their pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402

import minicnn as mc  # noqa: E402
from minicnn.applications import ResNet50  # noqa: E402
from minicnn.applications.resnet50 import BN_EPSILON, STAGES  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(args.threads)
except ImportError:
    torch = None


def randomize_batchnorm(model, seed=0):
    """Random moving statistics and scales, so the check is not on identity BatchNorms."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, mc.BatchNorm):
            c = layer.params["gamma"].shape[0]
            small = layer.name.endswith("_3_bn")  # keeps the residual sums of order 1
            layer.params["gamma"].value[:] = rng.uniform(0.1, 0.3 if small else 1.0, c)
            layer.params["beta"].value[:] = 0.1 * rng.standard_normal(c)
            layer.params["moving_mean"].value[:] = 0.1 * rng.standard_normal(c)
            layer.params["moving_variance"].value[:] = rng.uniform(0.5, 2.0, c)


if torch is not None:
    nn = torch.nn

    class ConvBN(nn.Module):
        """Conv2d (biased, as Keras') then BatchNorm2d, copied from minicnn's layers ``conv`` and ``bn``."""

        def __init__(self, conv, bn, stride=1, padding=0):
            super().__init__()
            kh, kw, cin, cout = conv.params["kernel"].shape
            self.conv = nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=padding, bias=True)
            self.bn = nn.BatchNorm2d(cout, eps=BN_EPSILON)
            with torch.no_grad():  # Keras (KH, KW, C_in, C_out) -> PyTorch (C_out, C_in, KH, KW)
                self.conv.weight.copy_(torch.from_numpy(conv.params["kernel"].value.transpose(3, 2, 0, 1).copy()))
                self.conv.bias.copy_(torch.from_numpy(conv.params["bias"].value))
                for ours, theirs in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                                     ("moving_variance", "running_var")):
                    getattr(self.bn, theirs).copy_(torch.from_numpy(bn.params[ours].value))

        def forward(self, x):
            return self.bn(self.conv(x))

    class Bottleneck(nn.Module):
        def __init__(self, model, name, stride, projection):
            super().__init__()
            def cb(i, **kw):
                return ConvBN(model.get_layer(f"{name}_{i}_conv"), model.get_layer(f"{name}_{i}_bn"), **kw)
            self.shortcut = cb(0, stride=stride) if projection else nn.Identity()
            self.branch = nn.Sequential(cb(1, stride=stride), nn.ReLU(), cb(2, padding=1), nn.ReLU(), cb(3))

        def forward(self, x):
            return torch.relu(self.shortcut(x) + self.branch(x))

    class TorchResNet50(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.stem = nn.Sequential(
                ConvBN(model.get_layer("conv1_conv"), model.get_layer("conv1_bn"), stride=2, padding=3),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1))  # -inf padding = Keras' zero padding after a ReLU
            blocks = []
            for stage, _, n_blocks, stride in STAGES:
                for b in range(1, n_blocks + 1):
                    blocks.append(Bottleneck(model, f"{stage}_block{b}", stride if b == 1 else 1, b == 1))
            self.blocks = nn.Sequential(*blocks)
            dense = model.get_layer("predictions")
            self.fc = nn.Linear(2048, 1000)
            with torch.no_grad():  # Keras (in, out) -> PyTorch (out, in)
                self.fc.weight.copy_(torch.from_numpy(dense.params["kernel"].value.T.copy()))
                self.fc.bias.copy_(torch.from_numpy(dense.params["bias"].value))

        def forward(self, x):  # x: (N, 3, H, W)
            x = self.blocks(self.stem(x))
            return torch.softmax(self.fc(x.mean(dim=(2, 3))), dim=1)


def timed_ms(fn):
    """(wall ms, CPU ms of this process, all threads) of one call. Under load the wall time
    includes waiting for a core; the CPU time does not (but counts threads spinning while they wait)."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3


def main():
    mc.kernels.use(args.kernels)
    model = ResNet50(seed=0)
    randomize_batchnorm(model)
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()
    print(f"# ResNet50 forward, 224x224x3, float32 -- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
          f"UTC, {platform.machine()}, {os.cpu_count()} cores, threads={args.threads}, kernels={args.kernels}, "
          f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}")
    print(f"# load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    net = None
    if torch is not None:
        net = TorchResNet50(model).eval()
        x = rng.uniform(-120, 130, (2, 224, 224, 3)).astype(np.float32)
        ours = model.forward(x, logits=True)
        with torch.no_grad():
            feats = net.blocks(net.stem(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()))
            theirs = net.fc(feats.mean(dim=(2, 3))).numpy()
        err = np.abs(ours - theirs).max() / np.abs(theirs).max()
        assert err < 1e-4, f"minicnn and PyTorch disagree: max relative error {err:.2e}"
        print(f"# outputs agree: max |difference| / max |logit| = {err:.1e} (logits up to {np.abs(theirs).max():.1f})")

    print("| batch | minicnn wall ms median (min) | PyTorch wall ms median (min) | minicnn / PyTorch (wall) "
          "| CPU ms median, minicnn / PyTorch | minicnn images/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in args.batches:
        x = rng.uniform(-120, 130, (batch, 224, 224, 3)).astype(np.float32)
        runs = {"minicnn": lambda: model.predict(x, batch_size=batch)}
        if net is not None:
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

            def torch_forward():
                with torch.no_grad():
                    net(xt)
            runs["torch"] = torch_forward
        times = {}
        for name, fn in runs.items():
            # One framework at a time: PyTorch's OpenMP threads keep spinning for a
            # while after each call, which would be charged to minicnn's CPU time.
            time.sleep(0.5)
            fn()  # warm-up: Numba compiles, buffers are allocated
            times[name] = [timed_ms(fn) for _ in range(args.repeats)]

        def stats(name):
            wall = [w for w, _ in times[name]]
            return statistics.median(wall), min(wall), statistics.median(c for _, c in times[name])

        o_med, o_min, o_cpu = stats("minicnn")
        row = f"| {batch} | {o_med:.0f} ({o_min:.0f}) | "
        if net is not None:
            t_med, t_min, t_cpu = stats("torch")
            row += f"{t_med:.0f} ({t_min:.0f}) | {o_med / t_med:.2f}x | {o_cpu:.0f} / {t_cpu:.0f} | "
        else:
            row += f"PyTorch not installed | - | {o_cpu:.0f} / - | "
        print(row + f"{batch / o_med * 1e3:.1f} |")
    load_after = os.getloadavg()
    print(f"# load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
