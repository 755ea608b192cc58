"""Ex08 question 3, the "dreamer": the image a trained network finds most typical of a class.

The course's help file ``dreamer.py`` with its missing parts filled in
(activation maximization in its simplest form, Erhan et al. 2009):

- start from an empty image,
- select a class k,
- repeat: x <- x + step * d s_k / d x, where s_k is class k's neuron of the last
  fully connected layer *before* the softmax (the logit). The probability
  would be a poor target: it can rise by lowering the other classes, and its
  gradient vanishes once the network is sure.

The empty image needs care. For the all-zero image the first convolution's
output is only its bias; with zero biases (a fresh network) every first-layer
ReLU then sits exactly at 0, where its derivative is 0 (the engine's rule, as
in PyTorch and Keras), so d s_k / d x is exactly zero and the ascent never
starts. :func:`empty_start` checks this and then starts from a constant
*grey* image instead (every pixel ``grey``): still empty (no structure, no
noise, the same for every class), but each filter whose weights sum to a
positive number now gets a positive input, and the gradient flows.
A trained network usually has biases that already open some ReLUs at x = 0.

Three small helpers keep the image readable (distill.pub's "feature
visualization" explains why): each step is the gradient divided by its
root-mean-square, so a step moves pixels by about ``learning_rate`` whatever
the gradient's scale; a little decay of x (``l2``) leaves pixels the class
does not need at 0; a light Gaussian blur every ``blur_every`` steps removes
the pixel-level noise that fools a network but not a person. Pixels are
clipped to the data's range [0, 1].

    score, grad = class_score_and_gradient(model, x, k)      # x: (N, H, W, C)
    start, how = empty_start(model, k, (28, 28, 1))
    image, scores = dream(model, k, start)
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from minicnn.inspect import gaussian_blur
from minicnn.ops.conv import single_threaded_blas

GREY = 0.01   # the constant image used when the all-zero one has no gradient: dark, but not zero


def class_score_and_gradient(model, x: np.ndarray, class_index: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pre-softmax score s_k of class ``class_index`` for each image, and its gradient.

    x: (N, H, W, C). -> (scores (N,), d s_k / d x (N, H, W, C)).
    Inference mode (dropout off): the network we look into is the one that predicts.
    """
    # one image at a time: multi-threaded BLAS costs more than it saves here (measured 4x slower)
    with single_threaded_blas():
        logits = model.forward(x, training=False, logits=True)        # (N, K), before the softmax
        seed = np.zeros_like(logits)
        seed[:, class_index] = 1.0                                     # d s_k / d logits: one-hot
        grad = model.backward(seed, from_logits=True, param_grads=False)  # back to the pixels only
    return logits[:, class_index].copy(), grad


def empty_start(model, class_index: int, shape, grey: float = GREY) -> Tuple[np.ndarray, str]:
    """The empty image to start from: (H, W, C) zeros, or a constant ``grey`` image when the
    gradient at zeros is exactly 0 (see the module docstring). -> (image, "zeros" | "grey")."""
    zeros = np.zeros((1,) + tuple(shape), dtype=np.float32)
    _, grad = class_score_and_gradient(model, zeros, class_index)
    if np.any(grad != 0):
        return zeros[0], "zeros"
    return np.full(tuple(shape), grey, dtype=np.float32), "grey"


def dream(model, class_index: int, start: np.ndarray, steps: int = 200, learning_rate: float = 0.05,
          l2: float = 0.02, blur_every: int = 4, blur_sigma: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """Gradient ascent on class ``class_index``'s pre-softmax score from ``start`` (H, W, C).

    -> (image (H, W, C) in [0, 1], scores (steps taken + 1,): s_k before each step taken and, last, of
    the image). The ascent stops early when the gradient is exactly zero (then fewer steps are taken).
    """
    x = np.array(start, dtype=np.float32)[None]
    scores = []
    for step in range(steps):
        score, grad = class_score_and_gradient(model, x, class_index)
        rms = np.sqrt(np.mean(grad ** 2))
        if rms == 0:   # the gradient vanished (e.g. every first-layer ReLU closed): no step can move x
            break
        scores.append(score[0])
        x = x + learning_rate * (grad / rms - l2 * x)
        if blur_every and (step + 1) % blur_every == 0:
            x = gaussian_blur(x, blur_sigma)
        x = np.clip(x, 0.0, 1.0).astype(np.float32)
    scores.append(class_score_and_gradient(model, x, class_index)[0][0])
    return x[0], np.asarray(scores)
