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
