"""L2 weight penalty, Keras' convention: penalty = factor * sum(w ** 2).

(Keras adds it to the loss without a 1/2 and without dividing by N.)
"""
import numpy as np


def l2_penalty_forward(w, factor):
    """w: any shape -> scalar penalty."""
    return float(factor * np.sum(w * w))


def l2_penalty_backward(w, factor):
    """d(factor * sum w^2)/dw = 2 * factor * w."""
    return 2.0 * factor * w
