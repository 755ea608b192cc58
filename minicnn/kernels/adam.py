"""Adam's update as one compiled pass over a parameter (the NumPy version is ``Adam._update_numpy``).

NumPy's update (``minicnn/optim.py``) reads clearly but makes about ten
passes over memory with five temporaries of the parameter's size (``g * g``,
``(1 - b2) * ...``, ``np.sqrt(v)``, ``+ eps``, ``step * m``, the quotient).
This loop reads g, m, v and w once and writes m, v and w once.

It computes exactly what NumPy computes, operation by operation, with the
same roundings (see ``adam_update_loops``), so both give the same weights bit
for bit; a test checks it in float32 and float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def adam_update_loops(value, grad, m, v, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2, epsilon, step,
                      single):
    """One Adam step on flat arrays of one dtype (value, m, v updated in place):

        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   w -= step * m / (sqrt(v) + eps)

    with step = lr * sqrt(1 - b2^t) / (1 - b1^t) computed by the caller. The
    scalars b1 ... eps come in the arrays' dtype, ``step`` in float64: NumPy
    converts a Python float to the array's dtype, but ``step`` is a NumPy
    float64, which makes NumPy compute ``step * m / (...)`` in float64 and
    round the quotient to the dtype before subtracting it: ``single`` (the
    arrays are float32) says to round it to float32 here.
    """
    for i in range(value.size):
        g = grad[i]
        mi = m[i] * beta_1          # the same roundings, in the same order, as Adam._update_numpy
        mi = mi + one_minus_beta_1 * g
        vi = v[i] * beta_2
        vi = vi + one_minus_beta_2 * (g * g)
        m[i] = mi
        v[i] = vi
        update = step * mi / (np.sqrt(vi) + epsilon)  # a float64 quotient ...
        if single:
            value[i] = value[i] - np.float32(update)  # ... rounded to float32 first, as NumPy does
        else:
            value[i] = value[i] - update


# error_model="numpy": a division by zero gives inf as in NumPy, instead of a Python exception whose
# check in every iteration kept the loop from being vectorised: 1.24 ms for the tiny VGG's 591k
# parameters, against 0.22 ms without it (the NumPy update: 1.24 ms).
adam_update = njit(cache=True, nogil=True, error_model="numpy")(adam_update_loops)
