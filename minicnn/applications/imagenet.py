"""ImageNet input and output: Keras' "caffe" preprocessing and ``decode_predictions``.

The ResNet50 weights come from a Caffe model trained on images whose channels
were in BGR order (OpenCV's) and from which the mean pixel of ImageNet had
been subtracted, with no scaling: values roughly in -124..152. A network
only works on inputs prepared the way it was trained, hence
``preprocess_input``.

``decode_predictions`` turns the 1000 scores into ImageNet's class ids and
names ("n02504458", "African_elephant"), read from Keras' class index file
(downloaded once, like the weights).
"""
from __future__ import annotations

import json

import numpy as np

from .files import model_file

__all__ = ["IMAGENET_MEAN_BGR", "preprocess_input", "decode_predictions", "imagenet_class_index"]

# ImageNet's mean pixel, in B, G, R order (Keras' and Caffe's values).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # Keras' source
CLASS_INDEX_MIRRORS = ["https://storage.googleapis.com/download.tensorflow.org/data/"]
N_CLASSES = 1000


def preprocess_input(x):
    """RGB images in 0..255 -> the ResNet50 input: BGR, ImageNet means subtracted.

    x: (H, W, 3) or (N, H, W, 3), RGB, values 0..255 (uint8 or float).
    Returns a new float32 array of the same shape (Keras' "caffe" mode;
    unlike Keras, a float input is not overwritten).

    >>> preprocess_input(np.array([[[255, 0, 0]]], np.uint8))   # one red pixel
    array([[[-103.939, -116.779,  131.32 ]]], dtype=float32)
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"preprocess_input: expected RGB images (H, W, 3) or (N, H, W, 3), got shape {x.shape}")
    if x.dtype.kind not in "uif":
        raise ValueError(f"preprocess_input: expected numbers (0..255), got dtype {x.dtype}")
    bgr = x[..., ::-1].astype(np.float32)  # reversing the channel axis: RGB -> BGR
    bgr -= np.asarray(IMAGENET_MEAN_BGR, dtype=np.float32)
    return bgr


def imagenet_class_index(progress=True) -> dict:
    """Keras' ``imagenet_class_index.json``: {"0": ["n01440764", "tench"], ...}, downloaded if needed."""
    path = model_file(CLASS_INDEX_FILE, CLASS_INDEX_MD5, CLASS_INDEX_MIRRORS, what="ImageNet class index",
                      progress=progress)
    with open(path, encoding="utf8") as f:
        return json.load(f)


def decode_predictions(preds, top=5):
    """The ``top`` best classes of each prediction, as Keras gives them.

    preds: (N, 1000) scores (the output of ResNet50 with its top).
    Returns, for each sample, a list of ``top`` tuples
    ``(class id, class name, score)``, best first.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != N_CLASSES:
        raise ValueError(f"decode_predictions: expected a batch of ImageNet predictions of shape "
                         f"(N, {N_CLASSES}), got shape {preds.shape}")
    if not isinstance(top, int) or not 1 <= top <= N_CLASSES:
        raise ValueError(f"decode_predictions: top must be an int in 1..{N_CLASSES}, got {top!r}")
    index = imagenet_class_index()
    results = []
    for scores in preds:
        best = np.argsort(-scores, kind="stable")[:top]  # stable: ties keep the lower class first
        results.append([(index[str(k)][0], index[str(k)][1], float(scores[k])) for k in best])
    return results
