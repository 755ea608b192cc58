"""ResNet50 (v1), layer for layer and name for name as ``keras.applications.ResNet50``.

    stem      conv1_pad (3) -> conv1_conv 7x7/2, 64 -> conv1_bn -> conv1_relu
              -> pool1_pad (1) -> pool1_pool 3x3/2                  224 -> 112 -> 56
    conv2_x   3 bottleneck blocks,  64 -> 256 channels, stride 1    56x56
    conv3_x   4 blocks, 128 -> 512,  first block stride 2            28x28
    conv4_x   6 blocks, 256 -> 1024, first block stride 2            14x14
    conv5_x   3 blocks, 512 -> 2048, first block stride 2             7x7
    top       avg_pool (global average) -> predictions Dense(1000, softmax)

A bottleneck block ``convS_blockB``: 1x1 conv (``_1_conv``, carrying the
block's stride) -> 3x3 conv "same" (``_2_conv``) -> 1x1 conv to 4x the
channels (``_3_conv``), each followed by BatchNorm (epsilon 1.001e-5) and ReLU
except the last, whose output is added (``_add``) to the shortcut before the
final ReLU (``_out``). The first block of each stage changes the number of
channels, so its shortcut is a 1x1 projection conv + BatchNorm (``_0_conv``,
``_0_bn``); the others add their input as it is.

The ImageNet weights are Kaiming He's Caffe model converted by Keras. They
expect ``preprocess_input``'s "caffe" input: BGR channel order, ImageNet
channel means subtracted, no scaling (see ``imagenet.py``).
"""
from __future__ import annotations

import numbers
from pathlib import Path

from ..layers import (Activation, Add, BatchNorm, Conv2D, Dense, GlobalAvgPool2D, Input, MaxPool2D,
                      ZeroPadding2D)
from ..model import Model
from .files import model_file
from .keras_h5 import WeightFileError, load_keras_h5

__all__ = ["ResNet50", "imagenet_weights_path", "BN_EPSILON"]

BN_EPSILON = 1.001e-5  # Keras' value for ResNet (close to the Caffe model's 1e-5)
DEFAULT_INPUT_SHAPE = (224, 224, 3)
MIN_SIZE = 32  # Keras' minimum: conv5's output is then 1x1

# (stage name, bottleneck filters, blocks, stride of the first block)
STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2), ("conv5", 512, 3, 2))

# Keras' source (keras/src/applications/resnet.py): file names and their md5.
# The same files are served by the keras-applications release Keras used first.
WEIGHTS_MIRRORS = [
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/",
    "https://github.com/keras-team/keras-applications/releases/download/resnet/",
]
WEIGHTS_FILES = {  # include_top -> (file name, md5)
    True: ("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "2cb95161c43110f7111970584f804107"),
    False: ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "4d473c1dd8becc155b73f8504c6f6626"),
}
# The ImageNet file was written by keras-applications, which named the
# classifier "probs"; Keras now calls it "predictions" (and loads by order).
FILE_ALIASES = {"predictions": "probs"}


def _bottleneck_block(x, filters, stride, projection, name):
    """One bottleneck block; x: (N, H, W, C) -> (N, H/stride, W/stride, 4*filters)."""
    def bn(suffix):
        return BatchNorm(epsilon=BN_EPSILON, name=f"{name}_{suffix}_bn")

    if projection:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = bn(0)(shortcut)
    else:
        shortcut = x
    y = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    y = Activation("relu", name=f"{name}_1_relu")(bn(1)(y))
    y = Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(y)
    y = Activation("relu", name=f"{name}_2_relu")(bn(2)(y))
    y = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    y = bn(3)(y)
    y = Add(name=f"{name}_add")([shortcut, y])
    return Activation("relu", name=f"{name}_out")(y)


def _check_input_shape(input_shape, weights):
    if input_shape is None:
        return DEFAULT_INPUT_SHAPE
    ok = (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
          and all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in input_shape))
    if not ok:
        raise ValueError(f"ResNet50: input_shape must be (height, width, channels), got {input_shape!r}")
    h, w, c = (int(d) for d in input_shape)
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"ResNet50: input height and width must be at least {MIN_SIZE}, "
                         f"got input_shape={tuple(input_shape)}")
    if weights is not None and c != 3:
        raise ValueError(f"ResNet50: pretrained weights need 3 input channels, "
                         f"got input_shape={tuple(input_shape)}")
    return (h, w, c)


def imagenet_weights_path(include_top=True, progress=True) -> Path:
    """Keras' ImageNet weight file for ResNet50 (with or without the classifier), downloaded if needed."""
    filename, md5 = WEIGHTS_FILES[bool(include_top)]
    return model_file(filename, md5, WEIGHTS_MIRRORS, what="ResNet50 ImageNet weights",
                      hint=f"Or pass the file's path: ResNet50(weights='/path/to/{filename}', "
                           f"include_top={bool(include_top)}).", progress=progress)


def ResNet50(weights=None, include_top=True, input_shape=None, seed=None):
    """Keras' ResNet50, as a minicnn ``Model`` with Keras' layer names.

    weights: None (random initialisation from ``seed``), ``"imagenet"``
        (Keras' ImageNet weights, downloaded once into ``<data root>/models``),
        or the path of a Keras ``.h5`` weight file.
    include_top: keep ``avg_pool`` and the 1000-class ``predictions`` layer;
        without it the output is conv5's feature map (N, H/32, W/32, 2048).
    input_shape: (H, W, C), default (224, 224, 3), at least 32x32. The
        ImageNet weights were trained on 224x224 images.
    seed: seed of the random initialisation (weights=None).

    Parameters: 25,636,712 with the top, 23,587,712 without (as Keras).
    Inputs go through ``preprocess_input`` first (BGR, ImageNet means subtracted).
    """
    if not (weights is None or weights == "imagenet" or isinstance(weights, (str, Path))):
        raise ValueError(f"ResNet50: weights must be None, 'imagenet' or the path of a .h5 file, got {weights!r}")
    if weights is not None and weights != "imagenet" and not Path(weights).is_file():
        raise ValueError(f"ResNet50: weights must be None, 'imagenet' or the path of a .h5 file; "
                         f"there is no file at {str(weights)!r}")
    input_shape = _check_input_shape(input_shape, weights)

    inputs = Input(input_shape, name="input_1")
    x = ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = BatchNorm(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    # Zero padding before max pooling is harmless: the input is a ReLU output
    # (>= 0), so a padded 0 never beats every real value of its window.
    x = ZeroPadding2D(1, name="pool1_pad")(x)
    x = MaxPool2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters, blocks, stride in STAGES:
        for b in range(1, blocks + 1):
            x = _bottleneck_block(x, filters, stride if b == 1 else 1, projection=b == 1,
                                  name=f"{stage}_block{b}")
    if include_top:
        x = GlobalAvgPool2D(name="avg_pool")(x)
        x = Dense(1000, activation="softmax", name="predictions")(x)
    model = Model(inputs, x, name="resnet50", seed=seed)

    if weights == "imagenet":
        weights = imagenet_weights_path(include_top)
    if weights is not None:
        try:
            load_keras_h5(model, weights, aliases=FILE_ALIASES)
        except WeightFileError as err:
            like = WEIGHTS_FILES[bool(include_top)][0]
            raise WeightFileError(f"{err}\nResNet50(include_top={include_top}) takes a file laid out "
                                  f"like Keras' {like}.") from None
    return model
