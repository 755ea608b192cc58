"""Shared test setup: headless matplotlib, float64 helpers, data locations."""
import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

matplotlib.use("Agg")

# Every property test is deterministic: the same cases on every run and machine.
settings.register_profile("minicnn", derandomize=True, deadline=None)
settings.load_profile("minicnn")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MINICNN_SHARED_DATA", REPO.parent / "shared" / "data"))


def to_float64(layer_or_model):
    """Convert every parameter of a layer or model to float64 (for gradient checks)."""
    layers = layer_or_model.layers if hasattr(layer_or_model, "layers") else [layer_or_model]
    for layer in layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def distinct_values(shape, seed=0):
    """Random values in (-2, 2) without ties and away from 0, so max-pooling and
    ReLU have no kink within the gradient check's step h."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2 + 0.5) / n * 4).reshape(shape)


def check_conv2d_gradients(inputs, strides, padding, seed=0, tolerance=1e-6):
    """Numerical check of conv2d_backward on {"x": (N,H,W,C), "w": (KH,KW,C,F)[, "b": (F,)]}."""
    from minicnn.ops.conv import conv2d_backward, conv2d_forward
    from minicnn.testing import check_gradient
    has_bias = "b" in inputs
    saved = {}

    def forward(x, w, b=None):
        y, saved["cache"] = conv2d_forward(x, w, b, strides, padding)
        return y

    def backward(dy):
        dx, dw, db = conv2d_backward(dy, saved["cache"])
        assert (db is None) == (not has_bias)
        return {"x": dx, "w": dw, **({"b": db} if has_bias else {})}

    return check_gradient(forward, backward, inputs, seed=seed, tolerance=tolerance)


def run_quick_lab(name, tmp_path_factory):
    """Run lab ``name`` on its quick profile into a fresh folder (runs in OUT/, report in OUT/report); -> OUT."""
    from minicnn.cli import main
    out = tmp_path_factory.mktemp(name)
    assert main(["lab", "run", name, "--profile", "quick", "--out", str(out), "--report-dir",
                 str(out / "report"), "--no-progress"]) == 0
    return out


def lab_results(out):
    """The results.json a quick lab run wrote into OUT/report."""
    import json
    return json.loads((out / "report" / "results.json").read_text())
