"""minicnn: a from-scratch CNN engine in NumPy with Numba kernels, written to be read.

    import minicnn as mc
    model = mc.Sequential([
        mc.Input((32, 32, 3)),
        mc.Conv2D(32, 3, padding="same"), mc.ReLU(), mc.MaxPool2D(2),
        mc.Flatten(), mc.Dense(10, activation="softmax"),
    ], seed=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=128, validation_split=0.1)
"""
__version__ = "0.1.0"

from . import callbacks, initializers, kernels, losses, metrics, optim, regularizers  # noqa: F401
from .callbacks import Callback, EarlyStopping, History, ModelCheckpoint, TerminateOnNaN
from .io import load_model
from .layers import (Activation, Add, AveragePooling2D, AvgPool2D, BatchNorm, BatchNormalization, Conv2D, Dense,
                     Dropout, Flatten, GlobalAveragePooling2D, GlobalAvgPool2D, Input, InputLayer, Layer,
                     MaxPool2D, MaxPooling2D, Parameter, ReLU, Softmax, ZeroPadding2D)
from .model import Model, Sequential
from .optim import SGD, Adam
from .regularizers import l2

__all__ = [
    "Activation", "Add", "AveragePooling2D", "AvgPool2D", "BatchNorm", "BatchNormalization", "Conv2D", "Dense",
    "Dropout", "Flatten", "GlobalAveragePooling2D", "GlobalAvgPool2D", "Input", "InputLayer", "Layer",
    "MaxPool2D", "MaxPooling2D", "Parameter", "ReLU", "Softmax", "ZeroPadding2D",
    "Model", "Sequential", "SGD", "Adam", "l2",
    "load_model", "Callback", "EarlyStopping", "History", "ModelCheckpoint", "TerminateOnNaN",
]
