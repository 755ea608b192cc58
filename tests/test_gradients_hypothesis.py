"""Property-based gradient checks of the conv and pooling ops over random
shapes, strides and paddings (float64 central differences; deterministic)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.ops.pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from minicnn.ops.shapes import resolve_padding_2d
from minicnn.testing import check_gradient

from conftest import check_conv2d_gradients, distinct_values

PADDINGS = st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2),
                     st.tuples(st.integers(0, 2), st.integers(0, 1)))


@st.composite
def window_problem(draw, max_channels=3):
    """(input shape, window, strides, padding) such that the window fits."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(PADDINGS)
    h, w = draw(st.integers(kh, kh + 5)), draw(st.integers(kw, kw + 5))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, max_channels))
    return (n, h, w, c), (kh, kw), (sh, sw), padding


@settings(max_examples=80)
@given(problem=window_problem(), filters=st.integers(1, 3), bias=st.booleans(), seed=st.integers(0, 999))
def test_conv2d_gradients(problem, filters, bias, seed):
    shape, (kh, kw), strides, padding = problem
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal(shape), "w": rng.standard_normal((kh, kw, shape[-1], filters))}
    if bias:
        inputs["b"] = rng.standard_normal(filters)
    result = check_conv2d_gradients(inputs, strides, padding, seed=seed)
    assert result.ok, (problem, result)


@settings(max_examples=60)
@given(problem=window_problem(), kind=st.sampled_from(["max", "avg"]), seed=st.integers(0, 999))
def test_pool_gradients(problem, kind, seed):
    shape, window, strides, padding = problem
    # PyTorch's rule for pooling: int padding at most half the window
    if not isinstance(padding, str):
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        if ph > window[0] // 2 or pw > window[1] // 2:
            padding = "valid"
    resolve_padding_2d(shape[1:3], window, strides, padding)
    fwd, bwd = (maxpool2d_forward, maxpool2d_backward) if kind == "max" else (avgpool2d_forward, avgpool2d_backward)
    state = {}

    def forward(x):
        y, state["cache"] = fwd(x, window, strides, padding)
        return y

    result = check_gradient(forward, lambda dy: {"x": bwd(dy, state["cache"])}, {"x": distinct_values(shape, seed)}, seed=seed)
    assert result.ok, (problem, kind, result)
    assert not result.kinks["x"]
