"""Weight regularizers, as in Keras: ``Dense(10, kernel_regularizer=l2(0.05))``."""
from .ops.regularization import l2_penalty_backward, l2_penalty_forward


class L2:
    """Adds ``factor * sum(w ** 2)`` to the loss (Keras' convention)."""

    def __init__(self, factor=0.01):
        if not isinstance(factor, (int, float)) or factor < 0:
            raise ValueError(f"l2: factor must be a number >= 0, got {factor!r}")
        self.factor = float(factor)

    def penalty(self, w):
        return l2_penalty_forward(w, self.factor)

    def gradient(self, w):
        return l2_penalty_backward(w, self.factor)

    def get_config(self):
        return {"class_name": "L2", "factor": self.factor}

    def __repr__(self):
        return f"l2({self.factor})"


def l2(factor=0.01):
    return L2(factor)


def get(spec):
    """None, an L2 object, or its config dict (from a saved model)."""
    if spec is None or isinstance(spec, L2):
        return spec
    if isinstance(spec, dict) and spec.get("class_name") == "L2":
        return L2(spec["factor"])
    raise ValueError(f"unknown regularizer {spec!r}; use minicnn.regularizers.l2(factor)")
