"""Layers. Each file holds one family; the math is in ``minicnn.ops``."""
from .activations import Activation, ReLU, Softmax
from .base import HookHandle, Layer, Parameter
from .conv import Conv2D
from .core import Add, Dropout, Flatten, Input, InputLayer
from .dense import Dense
from .normalization import BatchNorm, BatchNormalization
from .padding import ZeroPadding2D
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, MaxPool2D,
                      MaxPooling2D)

#: class name -> class, used to rebuild saved models
LAYER_CLASSES = {cls.__name__: cls for cls in (
    Activation, ReLU, Softmax, Conv2D, Add, Dropout, Flatten, InputLayer, Dense, BatchNorm,
    AvgPool2D, GlobalAvgPool2D, MaxPool2D, ZeroPadding2D)}

__all__ = ["Activation", "ReLU", "Softmax", "Layer", "Parameter", "HookHandle", "Conv2D", "Add", "Dropout",
           "Flatten", "Input", "InputLayer", "Dense", "BatchNorm", "BatchNormalization", "AvgPool2D",
           "AveragePooling2D", "GlobalAvgPool2D", "GlobalAveragePooling2D", "MaxPool2D", "MaxPooling2D",
           "ZeroPadding2D", "LAYER_CLASSES"]
