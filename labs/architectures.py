"""Every network the labs train, by name, each as a function returning an uncompiled model.

    build(input_shape=None, reduced=False, seed=0) -> minicnn.Model

``reduced=True`` gives the reduced copy the tests gradient-check (and
``minicnn gradcheck NAME`` checks): the same layer types in the same order,
fewer filters and units, a smaller input. Lab scripts refer to networks by
name, so a run's configuration (and its folder) says exactly what was trained.
Layers carry explicit names (conv1, relu1, pool1, ...): the reports' figures
are named after them, and auto-names would depend on how many models the
process built before.
"""
from __future__ import annotations

from typing import Callable, Dict

import minicnn as mc

ARCHITECTURES: Dict[str, Callable[..., mc.Model]] = {}


def architecture(fn):
    """Register ``fn`` under its name (``pw09_cnn`` -> ``ARCHITECTURES["pw09_cnn"]``)."""
    ARCHITECTURES[fn.__name__] = fn
    return fn


def build(name: str, **kwargs) -> mc.Model:
    """ARCHITECTURES[name](**kwargs); a name "package.module:function" builds with that function
    (networks defined outside this file, e.g. in tests)."""
    if ":" in name:
        import importlib
        module, _, function = name.partition(":")
        return getattr(importlib.import_module(module), function)(**kwargs)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**kwargs)


# ---------------------------------------------------------------- PW09
@architecture
def pw09_cnn(input_shape=None, reduced=False, seed=0):
    """PW09 ex. 1: CONV(32,same)-RELU-CONV(32,same)-RELU-MAXP(2)-CONV(32,same)-RELU-MAXP(2)-DENSE(10, softmax).

    3x3 kernels. 32x32x3 -> ... -> 8x8x32 -> 2048 -> 10 (39,882 parameters).
    """
    f, shape = (3, (8, 8, 3)) if reduced else (32, (32, 32, 3))
    return mc.Sequential([
        mc.Input(input_shape or shape),
        mc.Conv2D(f, 3, padding="same", name="conv1"), mc.ReLU(name="relu1"),
        mc.Conv2D(f, 3, padding="same", name="conv2"), mc.ReLU(name="relu2"), mc.MaxPool2D(2, name="pool1"),
        mc.Conv2D(f, 3, padding="same", name="conv3"), mc.ReLU(name="relu3"), mc.MaxPool2D(2, name="pool2"),
        mc.Flatten(name="flatten"), mc.Dense(10, activation="softmax", name="dense"),
    ], name="pw09_cnn", seed=seed)


# ---------------------------------------------------------------- PW08
# Exercise 2: shallow networks on the flattened 32x32x3 image (3,072 inputs).
# Exercise 3: CNNs. Reduced copies: 4x4x3 (dense) or 8x8x3 (CNN) inputs, a few units / filters.
def _pw08_input(input_shape, reduced, small):
    return mc.Input(input_shape or (small if reduced else (32, 32, 3)))


def _pw08_dense(name, l2, input_shape, reduced, seed):
    reg = mc.regularizers.l2(0.05) if l2 else None
    return mc.Sequential([
        _pw08_input(input_shape, reduced, (4, 4, 3)),
        mc.Flatten(name="flatten"),
        mc.Dense(10, activation="softmax", kernel_regularizer=reg, name="dense"),
    ], name=name, seed=seed)


@architecture
def pw08_dense_l2(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2, one-layer network: FLATTEN-DENSE(10, softmax), L2(0.05) on the kernel.

    32x32x3 -> 3072 -> 10 (30,730 parameters).
    """
    return _pw08_dense("pw08_dense_l2", True, input_shape, reduced, seed)


@architecture
def pw08_dense(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2, the same one-layer network without L2 (to see what the regularizer prevents)."""
    return _pw08_dense("pw08_dense", False, input_shape, reduced, seed)


def _pw08_mlp(name, hidden, dropout, input_shape, reduced, seed):
    """FLATTEN-[DENSE(units, relu)(-DROPOUT)]*-DENSE(10, softmax)."""
    layers = [_pw08_input(input_shape, reduced, (4, 4, 3)), mc.Flatten(name="flatten")]
    for k, units in enumerate(hidden, start=1):
        layers.append(mc.Dense(max(2, units // 64) if reduced else units, activation="relu", name=f"fc{k}"))
        if dropout:
            layers.append(mc.Dropout(dropout, name=f"dropout{k}"))
    layers.append(mc.Dense(10, activation="softmax", name="dense"))
    return mc.Sequential(layers, name=name, seed=seed)


@architecture
def pw08_mlp(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2, two-layer network: FLATTEN-DENSE(128, relu)-DENSE(10, softmax) (394,634 parameters)."""
    return _pw08_mlp("pw08_mlp", (128,), 0.0, input_shape, reduced, seed)


@architecture
def pw08_mlp_512(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2 tuning, wider: FLATTEN-DENSE(512, relu)-DENSE(10, softmax)."""
    return _pw08_mlp("pw08_mlp_512", (512,), 0.0, input_shape, reduced, seed)


@architecture
def pw08_mlp_512_256(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2 tuning, deeper: FLATTEN-DENSE(512, relu)-DENSE(256, relu)-DENSE(10, softmax)."""
    return _pw08_mlp("pw08_mlp_512_256", (512, 256), 0.0, input_shape, reduced, seed)


@architecture
def pw08_mlp_512_256_dropout(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 2 tuning, deeper with dropout 0.2 after each hidden layer."""
    return _pw08_mlp("pw08_mlp_512_256_dropout", (512, 256), 0.2, input_shape, reduced, seed)


def _pw08_cnn(name, blocks, input_shape, reduced, seed):
    """[CONV(filters, k, same)-RELU-MAXP(2)] per block, FLATTEN-DENSE(10, softmax).

    blocks: ((filters, kernel size), ...); the reduced copy keeps the kernel sizes, 2 filters per block.
    """
    layers = [_pw08_input(input_shape, reduced, (8, 8, 3))]
    for k, (filters, size) in enumerate(blocks, start=1):
        layers += [mc.Conv2D(2 if reduced else filters, size, padding="same", name=f"conv{k}"),
                   mc.ReLU(name=f"relu{k}"), mc.MaxPool2D(2, name=f"pool{k}")]
    layers += [mc.Flatten(name="flatten"), mc.Dense(10, activation="softmax", name="dense")]
    return mc.Sequential(layers, name=name, seed=seed)


@architecture
def pw08_cnn(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 3, simple CNN: CONV(32, 3x3, S=1, same)-RELU-MAXP(2)-FLATTEN-DENSE(10, softmax).

    32x32x3 -> 32x32x32 -> 16x16x32 -> 8192 -> 10 (82,826 parameters).
    """
    return _pw08_cnn("pw08_cnn", ((32, 3),), input_shape, reduced, seed)


@architecture
def pw08_cnn_2conv(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 3, deeper: two CONV-RELU-MAXP pairs, 32 then 64 filters 3x3."""
    return _pw08_cnn("pw08_cnn_2conv", ((32, 3), (64, 3)), input_shape, reduced, seed)


@architecture
def pw08_cnn_3conv(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 3, deeper: three CONV-RELU-MAXP pairs, 32, 64, 128 filters 3x3 (down to 4x4x128)."""
    return _pw08_cnn("pw08_cnn_3conv", ((32, 3), (64, 3), (128, 3)), input_shape, reduced, seed)


@architecture
def pw08_cnn_3conv_5x5(input_shape=None, reduced=False, seed=0):
    """PW08 ex. 3, deeper with larger kernels: 32 filters 3x3, 64 filters 5x5, 128 filters 5x5."""
    return _pw08_cnn("pw08_cnn_3conv_5x5", ((32, 3), (64, 5), (128, 5)), input_shape, reduced, seed)


# ---------------------------------------------------------------- tiny VGG (seed 002)
def _vgg_block(x, filters, block, batchnorm=False, pool=True):
    """[Conv2D(3x3, same) (+ BatchNorm) + ReLU] x 2, then MaxPool(2): one VGG block."""
    for i in (1, 2):
        x = mc.Conv2D(filters, 3, padding="same", name=f"block{block}_conv{i}")(x)
        if batchnorm:  # after the convolution, before the activation (question 13)
            x = mc.BatchNormalization(name=f"block{block}_bn{i}")(x)
        x = mc.ReLU(name=f"block{block}_relu{i}")(x)
    return mc.MaxPool2D(2, name=f"block{block}_pool")(x) if pool else x


def _vgg(name, widths, batchnorm, input_shape, reduced, seed):
    if reduced:
        widths, shape, units = tuple(max(2, w // 16) for w in widths), (8, 8, 3), 6
    else:
        shape, units = (32, 32, 3), 128
    inputs = mc.Input(input_shape or shape, name="image")
    x = inputs
    for b, w in enumerate(widths, start=1):
        x = _vgg_block(x, w, b, batchnorm)
    x = mc.Flatten(name="flatten")(x)
    x = mc.Dense(units, activation="relu", name="fc1")(x)
    return mc.Model(inputs, mc.Dense(10, activation="softmax", name="predictions")(x), name=name, seed=seed)


@architecture
def tiny_vgg(input_shape=None, reduced=False, seed=0):
    """Two VGG blocks (32, then 64 filters), Flatten, Dense(128, ReLU), Dense(10, softmax): 591,274 parameters."""
    return _vgg("tiny_vgg", (32, 64), False, input_shape, reduced, seed)


@architecture
def tiny_vgg_bn(input_shape=None, reduced=False, seed=0):
    """tiny_vgg with BatchNormalization after each convolution, before its ReLU (question 13)."""
    return _vgg("tiny_vgg_bn", (32, 64), True, input_shape, reduced, seed)


@architecture
def tiny_vgg_3blocks(input_shape=None, reduced=False, seed=0):
    """tiny_vgg with a third block of 128 filters (question 14)."""
    return _vgg("tiny_vgg_3blocks", (32, 64, 128), False, input_shape, reduced, seed)


def _residual_block(x, filters, block, shortcut=True):
    """conv-relu-conv, plus the block's input (projected by a 1x1 conv when the channel count
    changes), then the ReLU after the addition, as in ResNet. ``shortcut=False``: the same block
    without the addition (and without the projection), a "plain" block in He et al.'s words."""
    y = mc.Conv2D(filters, 3, padding="same", name=f"block{block}_conv1")(x)
    y = mc.ReLU(name=f"block{block}_relu1")(y)
    y = mc.Conv2D(filters, 3, padding="same", name=f"block{block}_conv2")(y)
    if shortcut:
        identity = x if x.shape[-1] == filters else mc.Conv2D(filters, 1, name=f"block{block}_projection")(x)
        y = mc.Add(name=f"block{block}_add")([y, identity])
    return mc.ReLU(name=f"block{block}_out")(y)


def _tiny_resnet(name, shortcuts, input_shape, reduced, seed):
    stem, widths, shape, units = (4, (4, 8), (8, 8, 3), 6) if reduced else (32, (32, 64), (32, 32, 3), 128)
    inputs = mc.Input(input_shape or shape, name="image")
    x = mc.Conv2D(stem, 7, padding="same", name="stem_conv")(inputs)
    x = mc.BatchNormalization(name="stem_bn")(x)
    x = mc.ReLU(name="stem_relu")(x)
    x = mc.MaxPool2D(2, name="stem_pool")(x)
    for b, w in enumerate(widths, start=1):
        x = _residual_block(x, w, b, shortcuts)
    x = mc.AveragePooling2D(2 if reduced else 4, name="avg_pool")(x)
    x = mc.Flatten(name="flatten")(x)
    x = mc.Dense(units, activation="relu", name="fc1")(x)
    return mc.Model(inputs, mc.Dense(10, activation="softmax", name="predictions")(x), name=name, seed=seed)


@architecture
def tiny_resnet(input_shape=None, reduced=False, seed=0):
    """Question 15: Conv2D 7x7 (32, same) + BatchNorm + ReLU + MaxPool(2); the two blocks without
    their pooling and with residual connections; AveragePooling(4) ("global average pooling with
    pool_size = 4"), Flatten, Dense(128, ReLU), Dense(10, softmax)."""
    return _tiny_resnet("tiny_resnet", True, input_shape, reduced, seed)


@architecture
def tiny_resnet_plain(input_shape=None, reduced=False, seed=0):
    """tiny_resnet without its residual connections (no Add, no 1x1 projection), all else equal:
    the control that tells what the shortcuts themselves change (question 15)."""
    return _tiny_resnet("tiny_resnet_plain", False, input_shape, reduced, seed)


# ---------------------------------------------------------------- PW11 (seed 003)
# Part 1: a CNN on MNIST with three conv layers L1-L3 and a dense part. Few filters per layer
# (9, 9, 16): part 1 colours every pixel by its most active filter, and a dozen colours can
# still be told apart where 32 could not. CONV, RELU and MAXP are separate layers, so the
# lab can read each filter's output after its ReLU (what Keras' Conv2D(activation="relu")
# returns) and target the pre-activation in activation maximization.
# Part 3: the same conv layers (same names, so the trained weights load into them), then
# global average pooling and one Dense softmax layer: the architecture CAM needs.
def _pw11_features(reduced):
    """conv1-relu1-pool1-conv2-relu2-pool2-conv3-relu3 on 28x28x1 (the reduced copy: 8x8x1, 2 filters)."""
    f1, f2, f3 = (2, 2, 2) if reduced else (9, 9, 16)
    return [mc.Conv2D(f1, 5, padding="same", name="conv1"), mc.ReLU(name="relu1"), mc.MaxPool2D(2, name="pool1"),
            mc.Conv2D(f2, 5, padding="same", name="conv2"), mc.ReLU(name="relu2"), mc.MaxPool2D(2, name="pool2"),
            mc.Conv2D(f3, 3, padding="same", name="conv3"), mc.ReLU(name="relu3")]


@architecture
def pw11_cnn(input_shape=None, reduced=False, seed=0):
    """PW11 part 1: L1 CONV(9, 5x5, same)-RELU-MAXP(2), L2 CONV(9, 5x5, same)-RELU-MAXP(2),
    L3 CONV(16, 3x3, same)-RELU-MAXP(2), FLATTEN, DENSE(25)-RELU, DENSE(10, softmax).

    28x28x1 -> 28x28x9 -> 14x14x9 -> 14x14x9 -> 7x7x9 -> 7x7x16 -> 3x3x16 -> 144 -> 25 -> 10
    (234 + 2,034 + 1,312 + 3,625 + 260 = 7,465 parameters).
    """
    return mc.Sequential([
        mc.Input(input_shape or ((8, 8, 1) if reduced else (28, 28, 1))),
        *_pw11_features(reduced), mc.MaxPool2D(2, name="pool3"),
        mc.Flatten(name="flatten"), mc.Dense(3 if reduced else 25, name="fc1"), mc.ReLU(name="relu4"),
        mc.Dense(10, activation="softmax", name="dense"),
    ], name="pw11_cnn", seed=seed)


@architecture
def pw11_cam(input_shape=None, reduced=False, seed=0):
    """PW11 part 3: pw11_cnn's conv layers L1-L3 (same names), then GLOBAL AVERAGE POOLING of
    relu3's 7x7x16 maps and DENSE(10, softmax): CAM's architecture (Zhou et al., 2016).

    28x28x1 -> ... -> 7x7x16 -> 16 -> 10 (3,580 + 170 = 3,750 parameters). The last max pooling
    is dropped, as in the CAM paper, so the maps keep relu3's 7x7 resolution.
    """
    return mc.Sequential([
        mc.Input(input_shape or ((8, 8, 1) if reduced else (28, 28, 1))),
        *_pw11_features(reduced), mc.GlobalAvgPool2D(name="gap"),
        mc.Dense(10, activation="softmax", name="dense"),
    ], name="pw11_cam", seed=seed)


# ---------------------------------------------------------------- Ex08 (seed 004)
def _ex08_net(name, batchnorm, input_shape, reduced, seed):
    """PyTorch's MNIST example network (pytorch/examples, mnist/main.py), with its layer names;
    ``batchnorm`` adds a BatchNorm after each conv and after fc1, before the ReLU."""
    f1, f2, units = (2, 3, 4) if reduced else (32, 64, 128)
    bn = (lambda k: [mc.BatchNorm(name=f"bn{k}")]) if batchnorm else (lambda k: [])
    return mc.Sequential([
        mc.Input(input_shape or ((8, 8, 1) if reduced else (28, 28, 1))),
        mc.Conv2D(f1, 3, name="conv1"), *bn(1), mc.ReLU(name="relu1"),
        mc.Conv2D(f2, 3, name="conv2"), *bn(2), mc.ReLU(name="relu2"),
        mc.MaxPool2D(2, name="pool1"), mc.Dropout(0.25, name="dropout1"),
        mc.Flatten(name="flatten"),
        mc.Dense(units, name="fc1"), *bn(3), mc.ReLU(name="relu3"), mc.Dropout(0.5, name="dropout2"),
        mc.Dense(10, activation="softmax", name="fc2"),   # PyTorch: fc2 then log_softmax + nll_loss
    ], name=name, seed=seed)


@architecture
def ex08_mnist_net(input_shape=None, reduced=False, seed=0):
    """Ex08 q. 1.2: CONV(32, 3x3)-RELU-CONV(64, 3x3)-RELU-MAXP(2)-DROPOUT(0.25)-FLATTEN-DENSE(128)-RELU-
    DROPOUT(0.5)-DENSE(10, softmax), 'valid' padding, as PyTorch's MNIST example.

    28x28x1 -> 26x26x32 -> 24x24x64 -> 12x12x64 -> 9216 -> 128 -> 10
    (320 + 18,496 + 1,179,776 + 1,290 = 1,199,882 parameters).
    """
    return _ex08_net("ex08_mnist_net", False, input_shape, reduced, seed)


@architecture
def ex08_mnist_net_bn(input_shape=None, reduced=False, seed=0):
    """Ex08 q. 1.4: ex08_mnist_net with BatchNorm after conv1, conv2 and fc1 (before each ReLU).

    1,199,882 + 4 x (32 + 64 + 128) = 1,200,778 parameters, of which 448 are the moving means and
    variances (not trainable; PyTorch counts them as buffers, not parameters).
    """
    return _ex08_net("ex08_mnist_net_bn", True, input_shape, reduced, seed)
