"""minicnn.inspect: looking inside a trained CNN (NumPy only).

Everything is built on two engine features: per-layer hooks (to read any
layer's output, and the gradient arriving at it) and input gradients (the
engine's backward pass run down to the image). One idea per file:

- ``activations``:  every layer's output for an input (PW09 ex. 2, tiny VGG q. 10)
- ``gradients``:    input gradients of a class logit / unit / filter; saliency maps
- ``maximization``: activation maximization with its regularizers (PW11 ex. 2, Ex08 q. 3)
- ``cam``:          CAM, Grad-CAM and HiResCAM heatmaps (PW11 ex. 3)
- ``statistics``:   filter statistics per class (PW11 ex. 1), confusion matrix (Ex08 q. 3)
- ``parameters``:   each layer's parameter count (Ex08 q. 1.2)
- ``embedding``:    a layer's feature vectors and their t-SNE map (Ex08 q. 2)
- ``report``:       all of the above as PNG figures for a trained model

Shapes: images x are (N, H, W, C); maps at a layer's resolution (N, h, w).
The model always runs in inference mode, and no hooks or parameter gradients
are left on it afterwards.
"""
from .activations import activations
from .cam import class_activation_map, default_cam_layer, grad_cam, hires_cam, upsample_to_input
from .embedding import features, tsne
from .gradients import Target, input_gradient, objective_and_gradient, predicted_classes, saliency
from .maximization import (activation_maximization, gaussian_blur, gaussian_kernel1d, total_variation,
                           total_variation_gradient)
from .parameters import ParameterRow, ParameterTable, parameter_table
from .statistics import FilterStatistics, confusion_matrix, filter_statistics

__all__ = [
    "activations",
    "Target", "input_gradient", "objective_and_gradient", "predicted_classes", "saliency",
    "activation_maximization", "total_variation", "total_variation_gradient", "gaussian_kernel1d",
    "gaussian_blur",
    "class_activation_map", "grad_cam", "hires_cam", "default_cam_layer", "upsample_to_input",
    "FilterStatistics", "filter_statistics", "confusion_matrix", "ParameterRow", "ParameterTable",
    "parameter_table",
    "features", "tsne",
]
