"""Metrics. Accuracy compares the arg-max of the output with the label."""
import numpy as np


def accuracy(y_pred, y_true):
    """y_pred: (N, K) scores or probabilities; y_true: (N,) labels or (N, K) one-hot.

    Returns the fraction of samples whose highest score is the true class.
    """
    y_true = np.asarray(y_true)
    labels = y_true.argmax(axis=-1) if y_true.ndim == 2 and y_true.shape[1] > 1 else y_true.reshape(-1)
    return float(np.mean(np.argmax(y_pred, axis=-1) == labels))


METRICS = {"accuracy": accuracy, "acc": accuracy}


def get(name):
    if name in METRICS:
        return "accuracy", METRICS[name]
    raise ValueError(f"compile: unknown metric {name!r}; choose from {sorted(METRICS)}")
