"""Activation maximization: the image a unit, filter or class "wants to see".

(PW11 ex. 2; Ex08 q. 3, the "dreamer"; Erhan et al. 2009, Simonyan et al.
2014, Yosinski et al. 2015.) Start from an empty (or noisy) image x and climb
the gradient of the chosen activation s(x):

    x <- x + learning_rate * ( g / rms(g)  -  l2 * x  -  total_variation * dTV/dx )
    g  = ds/dx  (computed on a randomly shifted copy of x when jitter > 0)

then, every ``blur_every`` steps, blur x with a Gaussian, and clip it to the
pixel range. Why each piece:

- ``g / rms(g)``: the raw gradient's size depends on the network and the
  layer (and shrinks or explodes during the ascent); dividing by its
  root-mean-square makes every step move pixels by about ``learning_rate``,
  so one learning rate works for every target. The regularizers below are
  then measured in the same unit.
- ``l2``: decay towards 0 (the gradient of ``l2/2 * ||x||^2``): keeps only
  the pixels the target really needs; without it, pixels that do not matter
  drift to extreme values.
- ``total_variation``: the gradient of TV(x) = sum of squared differences
  between neighbouring pixels (see :func:`total_variation`); penalising it
  removes the high-frequency checkerboard that otherwise fools the network.
- ``jitter``: shift the image by a random (dy, dx) of at most ``jitter``
  pixels before each gradient (and shift the gradient back), so the pattern
  must work at several positions, which again removes high-frequency noise.
- ``blur_every`` / ``blur_sigma``: a periodic Gaussian blur (Yosinski et al.),
  a stronger form of the same smoothness preference.
- ``value_range``: clipping keeps the image a valid input (e.g. 0..1 pixels).

The target follows :mod:`minicnn.inspect.gradients`: on the model's *last*
layer the objective is the **pre-softmax** class score; on a layer with a
4-D output, the mean of filter ``index``'s map; on a 2-D output, unit
``index``.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ._graph import require_built, resolve_node
from .gradients import Target, _Probe

__all__ = ["activation_maximization", "total_variation", "total_variation_gradient",
           "gaussian_kernel1d", "gaussian_blur"]


# ------------------------------------------------------------------ regularizers
def total_variation(x: np.ndarray) -> np.ndarray:
    """Squared total variation of each image: (N,) for x (N, H, W, C).

    TV(x) = sum_{i,j,c} (x[i+1,j,c] - x[i,j,c])^2 + (x[i,j+1,c] - x[i,j,c])^2.
    The squared form (beta = 2 in Mahendran & Vedaldi, 2015) is smooth, so its
    gradient is defined everywhere and plain gradient descent handles it.
    """
    dh = np.diff(x, axis=1)  # vertical neighbours:   (N, H-1, W, C)
    dw = np.diff(x, axis=2)  # horizontal neighbours: (N, H, W-1, C)
    return (dh ** 2).reshape(len(x), -1).sum(axis=1) + (dw ** 2).reshape(len(x), -1).sum(axis=1)


def total_variation_gradient(x: np.ndarray) -> np.ndarray:
    """dTV/dx for :func:`total_variation`, shaped like x (N, H, W, C).

    Each difference d = x[i+1] - x[i] contributes d^2, whose derivative is
    +2d w.r.t. x[i+1] and -2d w.r.t. x[i]: a pixel is pulled towards the mean
    of its neighbours.
    """
    grad = np.zeros_like(x)
    dh = np.diff(x, axis=1)
    grad[:, 1:] += 2 * dh
    grad[:, :-1] -= 2 * dh
    dw = np.diff(x, axis=2)
    grad[:, :, 1:] += 2 * dw
    grad[:, :, :-1] -= 2 * dw
    return grad


def gaussian_kernel1d(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian weights on -r..r, r = ceil(3 sigma) (99.7 % of the mass)."""
    if sigma <= 0:
        raise ValueError(f"gaussian_kernel1d: sigma must be positive, got {sigma}")
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-t ** 2 / (2 * sigma ** 2))
    return w / w.sum()


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each channel of x (N, H, W, C) with a Gaussian of std ``sigma`` pixels.

    A 2-D Gaussian is the product of two 1-D ones, so we filter the rows, then
    the columns: 2(2r+1) multiplications per pixel instead of (2r+1)^2.
    Borders are reflected, so the image does not darken towards its edges.
    """
    w = gaussian_kernel1d(sigma)
    r = len(w) // 2
    out = x
    for axis in (1, 2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > 1 else "edge")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for k, wk in enumerate(w):  # out[i] = sum_k w[k] * padded[i + k]
            acc += wk * np.take(padded, np.arange(k, k + n), axis=axis)
        out = acc
    return out.astype(x.dtype, copy=False)


# ------------------------------------------------------------------ the ascent
def _target_for(model, layer, index) -> Target:
    """The model's last layer -> its class scores; a 4-D output -> a filter's mean; 2-D -> a unit."""
    node = resolve_node(model, layer, "activation_maximization")
    if node is model.nodes[-1]:
        return Target("class", None, index)
    out_shape = node.output.shape
    return Target("filter" if len(out_shape) > 2 else "unit", node.layer.name, index)


def _start_image(start, shape, value_range, rng, dtype) -> np.ndarray:
    lo, hi = value_range
    if isinstance(start, np.ndarray):
        img = np.array(start, dtype=dtype)
        if img.shape == shape[1:]:
            img = np.broadcast_to(img, shape).copy()
        if img.shape != shape:
            raise ValueError(f"activation_maximization: start image has shape {start.shape}, expected "
                             f"{shape[1:]} or {shape}")
        return img
    if start == "zeros":  # Ex08's "empty image"
        return np.zeros(shape, dtype=dtype)
    if start == "noise":  # gray plus a little noise (distill.pub's feature visualization)
        mid, spread = (lo + hi) / 2, (hi - lo)
        return (mid + 0.1 * spread * rng.standard_normal(shape)).astype(dtype)
    raise ValueError(f"activation_maximization: start must be 'zeros', 'noise' or an array, got {start!r}")


def activation_maximization(model, layer, index, steps: int = 200, learning_rate: float = 0.05,
                            l2: float = 0.05, total_variation: float = 0.1, jitter: int = 1,
                            blur_every: int = 4, blur_sigma: float = 0.5, seed: int = 0,
                            start="noise", input_shape: Optional[Sequence[int]] = None,
                            value_range: Optional[Tuple[float, float]] = (0.0, 1.0),
                            dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """Gradient ascent on the input to maximise one activation.

    layer: name (or Layer) of the layer to look at; the model's last layer
        means a class (its pre-softmax score).
    index: the class / filter / unit; an int, or a sequence of ints to make
        one image for each in a single batch (e.g. ``range(10)`` for every
        class).
    steps, learning_rate: number and size of the ascent steps (a step moves
        pixels by about learning_rate: the gradient is divided by its RMS).
    l2, total_variation: weights of the two penalties (0 disables).
    jitter: maximum random shift in pixels before each step (0 disables).
    blur_every, blur_sigma: Gaussian blur of std blur_sigma every blur_every
        steps (0 disables).
    seed: for jitter and the "noise" start.
    start: "noise" (gray + a little noise, seeded), "zeros" (Ex08's empty
        image) or an array (H, W, C) / (K, H, W, C). "zeros" can stall: if
        every first-layer ReLU sits exactly at 0 (zero biases, as in an
        untrained network) the gradient is exactly 0; noise breaks that tie.
    input_shape: (H, W, C), needed only when the model accepts any size.
    value_range: pixels are clipped to (lo, hi) after each step; None: no clipping.

    The defaults suit MNIST / Fashion-MNIST / CIFAR-10-sized networks with
    pixels in 0..1: 200 steps of 0.05 reach the clipping range, while l2,
    total variation, 1-pixel jitter and a light blur every 4 steps keep the
    image smooth enough to recognise a digit in a class's image.

    Returns ``(image, history)``: image (H, W, C) for an int index, or
    (K, H, W, C) for K indices; history (steps + 1,) or (steps + 1, K), the
    objective (without penalties) before each step (measured on the shifted
    copy the gradient is taken on, when jitter > 0) and, last, for the
    returned image itself.
    The model's parameters and gradients are left unchanged.
    """
    owner = "activation_maximization"
    require_built(model, owner=owner)
    single = np.ndim(index) == 0
    idx = np.atleast_1d(np.asarray(index))
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise ValueError(f"activation_maximization: index must be an int or a sequence of ints, got {index!r}")
    if steps < 0 or learning_rate <= 0:
        raise ValueError(f"activation_maximization: need steps >= 0 and learning_rate > 0, "
                         f"got steps={steps}, learning_rate={learning_rate}")
    shape = tuple(model.input_shape[1:]) if input_shape is None else tuple(input_shape)
    if any(d is None for d in shape):
        raise ValueError(f"activation_maximization: the model accepts any input size {model.input_shape}; "
                         f"give input_shape=(H, W, C)")
    shape = (len(idx),) + shape
    if value_range is not None and not value_range[0] < value_range[1]:
        raise ValueError(f"activation_maximization: value_range must be (lo, hi) with lo < hi, got {value_range}")

    rng = np.random.default_rng(seed)
    probe = _Probe(model, _target_for(model, layer, idx), owner, arg="index", shown=index)
    x = _start_image(start, shape, value_range or (0.0, 1.0), rng, dtype)
    if value_range is not None:
        x = np.clip(x, *value_range)
    history = []
    spatial = len(shape) == 4  # jitter/TV/blur only make sense on images
    for step in range(steps):
        if jitter and spatial:
            dy, dx_ = rng.integers(-jitter, jitter + 1, size=2)
            shifted = np.roll(x, (dy, dx_), axis=(1, 2))
            values, grad, _ = probe(shifted)
            grad = np.roll(grad, (-dy, -dx_), axis=(1, 2))  # back to x's coordinates
        else:
            values, grad, _ = probe(x)
        history.append(values)
        # normalise per image: each image's step has RMS = 1 whatever its gradient's scale
        rms = np.sqrt((grad.reshape(len(x), -1) ** 2).mean(axis=1))
        update = grad / (rms.reshape((-1,) + (1,) * (x.ndim - 1)) + 1e-12)
        if l2:
            update = update - l2 * x
        if total_variation and spatial:
            update = update - total_variation * total_variation_gradient(x)
        x = (x + learning_rate * update).astype(dtype, copy=False)
        if blur_every and spatial and (step + 1) % blur_every == 0:
            x = gaussian_blur(x, blur_sigma)
        if value_range is not None:
            x = np.clip(x, *value_range)
    history.append(probe(x)[0])
    history = np.stack(history)  # (steps + 1, K)
    return (x[0], history[:, 0]) if single else (x, history)
