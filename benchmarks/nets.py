"""The four course nets the benchmarks time, in minicnn and (copied weights) in PyTorch.

- PW09: Conv32-ReLU-Conv32-ReLU-MaxPool-Conv32-ReLU-MaxPool-Dense10 (3x3 same, 32x32x3);
- tiny VGG: Conv32x2-MaxPool-Conv64x2-MaxPool-Dense128-Dense10 (3x3 same, 32x32x3);
- tiny VGG + BN: the same with BatchNorm after each conv, before its ReLU;
- Ex08: PyTorch's MNIST example (28x28x1): Conv32-ReLU-Conv64-ReLU (3x3 valid)-MaxPool-
  Dropout(0.25)-Dense128-ReLU-Dropout(0.5)-Dense10.

``to_torch(model)`` walks the minicnn layers and builds the same PyTorch net
(NCHW) with the same weights, so both start from one state. Minicnn flattens
(H, W, C), PyTorch (C, H, W): the first Dense kernel's rows are permuted.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import minicnn as mc  # noqa: E402


def _conv_stack(spec, input_shape, seed=0):
    """spec items: ("conv", F[, padding]), ("conv_bn", F), ("pool",), ("dropout", rate), ("dense", U)."""
    layers = [mc.Input(input_shape)]
    flat = False
    for i, item in enumerate(spec):
        kind = item[0]
        if kind in ("conv", "conv_bn"):
            padding = item[2] if len(item) > 2 else "same"
            layers.append(mc.Conv2D(item[1], 3, padding=padding))
            if kind == "conv_bn":
                layers.append(mc.BatchNorm())
            layers.append(mc.ReLU())
        elif kind == "pool":
            layers.append(mc.MaxPool2D(2))
        elif kind == "dropout":
            layers.append(mc.Dropout(item[1]))
        else:
            if not flat:
                layers.append(mc.Flatten())
                flat = True
            last = i == len(spec) - 1
            layers.append(mc.Dense(item[1], activation="softmax" if last else "relu"))
    model = mc.Sequential(layers, seed=seed)
    model.compile(mc.Adam(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


NETS = {
    "PW09": ([("conv", 32), ("conv", 32), ("pool",), ("conv", 32), ("pool",), ("dense", 10)], (32, 32, 3)),
    "tiny VGG": ([("conv", 32), ("conv", 32), ("pool",), ("conv", 64), ("conv", 64), ("pool",),
                  ("dense", 128), ("dense", 10)], (32, 32, 3)),
    "tiny VGG + BN": ([("conv_bn", 32), ("conv_bn", 32), ("pool",), ("conv_bn", 64), ("conv_bn", 64),
                       ("pool",), ("dense", 128), ("dense", 10)], (32, 32, 3)),
    "Ex08": ([("conv", 32, "valid"), ("conv", 64, "valid"), ("pool",), ("dropout", 0.25),
              ("dense", 128), ("dropout", 0.5), ("dense", 10)], (28, 28, 1)),
}


def build(name, seed=0):
    """The minicnn model of net ``name`` (compiled: Adam, sparse cross-entropy, accuracy)."""
    spec, shape = NETS[name]
    return _conv_stack(spec, shape, seed)


def input_shape(name):
    return NETS[name][1]


def has_dropout(name):
    return any(item[0] == "dropout" for item in NETS[name][0])


def to_torch(model):
    """The same net in PyTorch (NCHW, weights copied) and its Adam (eps 1e-7, Keras' default)."""
    import torch
    nn = torch.nn
    mods = []
    flatten_hwc = None  # (H, W, C) entering the Flatten, until the first Dense has used it
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            k = layer.params["kernel"].value
            kh, kw, c, f = k.shape
            pad = 0 if layer.padding == "valid" else (kh // 2, kw // 2)  # "same" for odd kernels, stride 1
            conv = nn.Conv2d(c, f, (kh, kw), stride=layer.strides, padding=pad)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
                conv.bias.copy_(torch.from_numpy(layer.params["bias"].value))
            mods.append(conv)
        elif kind == "BatchNorm":
            c = layer.params["gamma"].value.shape[0]
            bn = nn.BatchNorm2d if len(layer.input_shape) == 4 else nn.BatchNorm1d
            mods.append(bn(c, eps=1e-3, momentum=0.01))  # Keras' epsilon and momentum
        elif kind == "ReLU":
            mods.append(nn.ReLU())
        elif kind == "MaxPool2D":
            mods.append(nn.MaxPool2d(layer.pool_size))
        elif kind == "Dropout":
            mods.append(nn.Dropout(layer.rate))
        elif kind == "Flatten":
            flatten_hwc = layer.input_shape[1:]
            mods.append(nn.Flatten())
        elif kind == "Dense":
            k = layer.params["kernel"].value
            if flatten_hwc is not None:  # rows from minicnn's (H, W, C) order to PyTorch's (C, H, W)
                h, w, c = flatten_hwc
                k = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape[0], -1)
                flatten_hwc = None
            lin = nn.Linear(k.shape[0], k.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(k.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.params["bias"].value))
            mods.append(lin)
            if layer.activation == "relu":
                mods.append(nn.ReLU())
        else:
            raise ValueError(f"to_torch: no PyTorch counterpart written for {kind}")
    net = nn.Sequential(*mods)
    return net, torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)


def torch_step(net, opt, xt, yt):
    """One PyTorch training step (forward, cross-entropy on logits, backward, Adam)."""
    import torch
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(net(xt), yt)
    loss.backward()
    opt.step()
    return loss.item()


def to_nchw(x):
    import torch
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
