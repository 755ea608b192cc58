"""Batch normalization.

Training: normalise with the batch statistics, per channel for (N, H, W, C)
input (reduced over N, H, W) or per feature for (N, D) input (reduced over N):

    x_hat = (x - mean) / sqrt(var + eps),   y = gamma * x_hat + beta.

Inference: the moving statistics replace the batch ones. Moving averages
follow Keras: ``moving = momentum * moving + (1 - momentum) * batch`` with the
(biased) batch variance, as Keras uses.
"""
import numpy as np


def _reduce_axes(x):
    return tuple(range(x.ndim - 1))  # every axis but the last (channels/features)


def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, momentum, eps, training,
                      update_moving=True):
    """x: (N, ..., C); gamma, beta, moving_*: (C,).

    Returns y and the cache. When ``training`` and ``update_moving``, the
    moving statistics are updated **in place** (that is their purpose).
    """
    if training:
        axes = _reduce_axes(x)
        mean = x.mean(axis=axes)
        centered = x - mean
        var = np.mean(centered * centered, axis=axes)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = centered * inv_std
        if update_moving:
            moving_mean *= momentum
            moving_mean += (1 - momentum) * mean
            moving_var *= momentum
            moving_var += (1 - momentum) * var
        cache = ("batch", x_hat, inv_std, gamma)
    else:
        inv_std = 1.0 / np.sqrt(moving_var + eps)
        x_hat = (x - moving_mean) * inv_std
        cache = ("moving", x_hat, inv_std, gamma)
    y = x_hat * gamma + beta
    return y.astype(x.dtype, copy=False), cache


def batchnorm_backward(dy, cache):
    """dy: like x -> dx, dgamma (C,), dbeta (C,).

    With batch statistics, mean and var depend on every x, which gives the
    compact form (m = number of values per channel):

        dx = inv_std / m * (m * dxhat - sum(dxhat) - x_hat * sum(dxhat * x_hat))

    With moving statistics they are constants: dx = dxhat * inv_std.
    """
    kind, x_hat, inv_std, gamma = cache
    axes = _reduce_axes(dy)
    dbeta = dy.sum(axis=axes)
    dgamma = np.sum(dy * x_hat, axis=axes)
    dxhat = dy * gamma
    if kind == "moving":
        return dxhat * inv_std, dgamma, dbeta
    m = dy.size // dy.shape[-1]
    dx = (inv_std / m) * (m * dxhat - dxhat.sum(axis=axes) - x_hat * np.sum(dxhat * x_hat, axis=axes))
    return dx, dgamma, dbeta
