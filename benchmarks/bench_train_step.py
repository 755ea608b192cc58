"""One training step (forward, loss, backward, Adam) at batch 128, float32:
minicnn vs PyTorch, interleaved in one run, on the same CPU threads.

Nets: PW09 (Conv32-ReLU-Conv32-ReLU-MaxPool-Conv32-ReLU-MaxPool-Dense10,
3x3 same, 32x32x3), the tiny VGG (Conv32x2-MaxPool-Conv64x2-MaxPool-
Dense128-Dense10) and the tiny VGG with BatchNorm before each ReLU. Before timing, both frameworks run one step from the same
weights on the same batch and their losses must agree.

    python benchmarks/bench_train_step.py [--threads 2] [--repeats 15] [--kernels numba]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--kernels", default="numba", choices=["numba", "numpy"])
    return p.parse_args()


args = parse()
# Thread counts must be set before numpy/numba/torch start their pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402

import minicnn as mc  # noqa: E402
from minicnn.train import train_step  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(args.threads)
except ImportError:
    torch = None


def pw09():
    return [("conv", 32), ("conv", 32), ("pool",), ("conv", 32), ("pool",), ("dense", 10)]


def tiny_vgg():
    return [("conv", 32), ("conv", 32), ("pool",), ("conv", 64), ("conv", 64), ("pool",),
            ("dense", 128), ("dense", 10)]


def tiny_vgg_bn():
    """Tiny VGG with BatchNorm after each conv, before the activation (question 13)."""
    return [("conv_bn", 32), ("conv_bn", 32), ("pool",), ("conv_bn", 64), ("conv_bn", 64), ("pool",),
            ("dense", 128), ("dense", 10)]


def build_minicnn(spec):
    layers = [mc.Input((32, 32, 3))]
    flat = False
    for i, item in enumerate(spec):
        if item[0] == "conv":
            layers += [mc.Conv2D(item[1], 3, padding="same"), mc.ReLU()]
        elif item[0] == "conv_bn":
            layers += [mc.Conv2D(item[1], 3, padding="same"), mc.BatchNorm(), mc.ReLU()]
        elif item[0] == "pool":
            layers.append(mc.MaxPool2D(2))
        else:
            if not flat:
                layers.append(mc.Flatten())
                flat = True
            last = i == len(spec) - 1
            layers.append(mc.Dense(item[1], activation="softmax" if last else "relu"))
    model = mc.Sequential(layers, seed=0)
    model.compile(mc.Adam(), "sparse_categorical_crossentropy")
    return model


def build_torch(spec, model):
    """The same net in PyTorch (NCHW), with minicnn's weights copied in."""
    nn = torch.nn
    mods, c, hw, flat = [], 3, 32, False
    params = [l for l in model.layers if l.params]
    pi = 0
    for item in spec:
        if item[0] in ("conv", "conv_bn"):
            conv = nn.Conv2d(c, item[1], 3, padding=1)
            src = params[pi]; pi += 1
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(src.params["kernel"].value.transpose(3, 2, 0, 1).copy()))
                conv.bias.copy_(torch.from_numpy(src.params["bias"].value))
            mods.append(conv)
            if item[0] == "conv_bn":
                pi += 1  # gamma = 1, beta = 0 on both sides; Keras' eps and momentum
                mods.append(nn.BatchNorm2d(item[1], eps=1e-3, momentum=0.01))
            mods.append(nn.ReLU())
            c = item[1]
        elif item[0] == "pool":
            mods.append(nn.MaxPool2d(2))
            hw //= 2
        else:
            src = params[pi]; pi += 1
            lin = nn.Linear(src.params["kernel"].value.shape[0], item[1])
            k = src.params["kernel"].value
            if not flat:
                # minicnn flattens (H, W, C); PyTorch (C, H, W)
                k = k.reshape(hw, hw, c, -1).transpose(2, 0, 1, 3).reshape(k.shape[0], -1)
                mods.append(nn.Flatten())
                flat = True
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(k.T.copy()))
                lin.bias.copy_(torch.from_numpy(src.params["bias"].value))
            mods.append(lin)
            if item is not spec[-1]:
                mods.append(nn.ReLU())
    net = nn.Sequential(*mods)
    return net, torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)


def torch_step(net, opt, xt, yt):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(net(xt), yt)
    loss.backward()
    opt.step()
    return loss.item()


def bench(name, spec, x, y):
    model = build_minicnn(spec)
    row = {"net": name}
    if torch is not None:
        net, opt = build_torch(spec, model)
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        yt = torch.from_numpy(y.astype(np.int64))
        # correctness before timing: same weights, same batch -> same loss
        loss_ours, _ = train_step(model, x, y)
        loss_theirs = torch_step(net, opt, xt, yt)
        assert abs(loss_ours - loss_theirs) < 1e-4 * max(1, abs(loss_theirs)), (loss_ours, loss_theirs)
    else:
        train_step(model, x, y)  # warm-up (Numba compilation)
    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine state
        t = time.perf_counter(); train_step(model, x, y); ours.append(time.perf_counter() - t)
        if torch is not None:
            t = time.perf_counter(); torch_step(net, opt, xt, yt); theirs.append(time.perf_counter() - t)
    row["minicnn_ms"] = 1e3 * statistics.median(ours)
    row["minicnn_max_ms"] = 1e3 * max(ours)
    if theirs:
        row["torch_ms"] = 1e3 * statistics.median(theirs)
        row["ratio"] = row["minicnn_ms"] / row["torch_ms"]
    return row


def main():
    mc.kernels.use(args.kernels)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    print(f"batch {args.batch}, float32, {args.threads} threads, kernels={args.kernels}, "
          f"torch {torch.__version__ if torch else 'not installed (no PyTorch column: pip install torch)'}, "
          f"{args.repeats} repeats (median)")
    print("| net | minicnn ms | minicnn max ms | PyTorch ms | ratio |")
    print("|---|---|---|---|---|")
    for name, spec in (("PW09", pw09()), ("tiny VGG", tiny_vgg()), ("tiny VGG + BN", tiny_vgg_bn())):
        r = bench(name, spec, x, y)
        if "torch_ms" in r:
            theirs = f"{r['torch_ms']:.1f} | {r['ratio']:.2f}"
        else:  # no number to compare with: say why instead of printing nan
            theirs = "PyTorch not installed | -"
        print(f"| {r['net']} | {r['minicnn_ms']:.1f} | {r['minicnn_max_ms']:.1f} | {theirs} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
