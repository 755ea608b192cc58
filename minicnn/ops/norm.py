"""Batch normalization.

Training: normalise with the batch statistics, per channel for (N, H, W, C)
input (reduced over N, H, W) or per feature for (N, D) input (reduced over N):

    x_hat = (x - mean) / sqrt(var + eps),   y = gamma * x_hat + beta.

Inference: the moving statistics replace the batch ones. Moving averages
follow Keras: ``moving = momentum * moving + (1 - momentum) * batch`` with the
biased batch variance (divided by m, not m - 1), as Keras does.

Both layouts are handled as x2d: (M, C), M = N*H*W values per channel (a
reshape of contiguous NHWC, no copy). The per-channel reductions are kernels
(``minicnn.kernels.batchnorm_*``): NumPy's chain of temporaries made BN cost
more than the convolution next to it.
"""
import numpy as np

from .. import kernels


def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, momentum, eps, training,
                      update_moving=True):
    """x: (N, ..., C); gamma, beta, moving_*: (C,) -> y (like x), cache.

    When ``training`` and ``update_moving``, the moving statistics are updated
    **in place** (that is their purpose).
    """
    x = np.ascontiguousarray(x)
    x2d = x.reshape(-1, x.shape[-1])
    if training:
        mean, var = kernels.batchnorm_stats(x2d)
        if update_moving:
            moving_mean *= momentum
            moving_mean += (1 - momentum) * mean
            moving_var *= momentum
            moving_var += (1 - momentum) * var
    else:
        mean, var = moving_mean.astype(np.float64), moving_var.astype(np.float64)
    inv_std = 1.0 / np.sqrt(var + eps)
    gamma64, beta64 = gamma.astype(np.float64), beta.astype(np.float64)
    y2d = kernels.batchnorm_apply(x2d, mean, inv_std, gamma64, beta64)
    # The cache keeps x itself, not x_hat: x exists anyway, x_hat would be a
    # second array of the same size (backward recomputes it on the fly).
    cache = (training, x2d, mean, inv_std, gamma64, x.shape)
    return y2d.reshape(x.shape), cache


def batchnorm_backward(dy, cache):
    """dy: like x -> dx (like x), dgamma (C,), dbeta (C,).

    With batch statistics, mean and var depend on every x, which gives the
    compact form (m = number of values per channel):

        dx = gamma * inv_std / m * (m * dy - sum(dy) - x_hat * sum(dy * x_hat))

    With moving statistics they are constants: dx = dy * gamma * inv_std.
    """
    batch_stats, x2d, mean, inv_std, gamma, shape = cache
    dy2d = np.ascontiguousarray(dy, dtype=x2d.dtype).reshape(x2d.shape)
    dx2d, dgamma, dbeta = kernels.batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats)
    return dx2d.reshape(shape), dgamma.astype(x2d.dtype), dbeta.astype(x2d.dtype)
