"""The kernels every backend implements, with the same signatures.

``reference.py`` documents each one; ``numpy_impl.py`` and ``numba_impl.py``
must provide them all (a test checks it), so ``kernels.use(...)`` can switch.
"""
KERNEL_NAMES = (
    "im2col",
    "col2im",
    "maxpool_forward",
    "maxpool_backward",
    "avgpool_forward",
    "avgpool_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_stats",
    "batchnorm_apply",
    "batchnorm_backward",
)
