"""Every fast kernel backend equals the reference loops, forward and backward.

One test per kernel, parametrised over the fast backends ("numpy", "numba"),
dtypes (float32, float64) and window configurations; plus hypothesis over
random shapes, and the backend switch itself.
"""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import kernels
from minicnn.kernels import reference as ref
from minicnn.ops.shapes import resolve_padding_2d

FAST = ["numpy", "numba"]
DTYPES = [np.float32, np.float64]

# (N, H, W, C), (KH, KW), (SH, SW), padding
CONV_CONFIGS = [
    ((2, 5, 5, 3), (3, 3), (1, 1), "valid"),
    ((2, 5, 5, 3), (3, 3), (1, 1), "same"),
    ((2, 6, 7, 2), (2, 2), (1, 1), "same"),     # even kernel: extra pad bottom/right
    ((1, 7, 5, 4), (3, 2), (2, 2), "same"),     # non-square input and kernel
    ((2, 8, 9, 1), (4, 4), (3, 3), "same"),
    ((2, 7, 6, 3), (3, 3), (2, 1), 1),          # int padding, mixed strides
    ((1, 6, 8, 2), (5, 3), (1, 3), (2, 0)),     # pair padding
    ((2, 5, 6, 3), (1, 1), (2, 2), "valid"),    # 1x1 kernel
    ((1, 4, 4, 2), (2, 3), (3, 2), (1, 2)),     # padding > half the kernel (fine for conv)
    ((2, 5, 6, 9), (3, 3), (1, 2), "same"),     # 8+ channels: numba's per-cell im2col (fewer: whole rows)
]

# pool configs: padding at most half the window (PyTorch's rule)
POOL_CONFIGS = [
    ((2, 6, 6, 3), (2, 2), (2, 2), "valid"),
    ((2, 7, 5, 2), (3, 3), (2, 2), "valid"),     # overlapping windows
    ((2, 7, 5, 2), (3, 3), (1, 1), "same"),      # overlapping, padded
    ((1, 9, 8, 3), (3, 2), (2, 3), "same"),      # non-square, stride != size
    ((2, 5, 7, 2), (2, 2), (3, 3), "same"),      # stride > size: some cells unused
    ((2, 6, 5, 2), (3, 3), (2, 1), 1),           # int padding
    ((1, 8, 6, 3), (4, 2), (3, 2), (2, 1)),      # pair padding
]


def _setup(shape, kernel_hw, strides_hw, padding, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    pads, out_hw = resolve_padding_2d(shape[1:3], kernel_hw, strides_hw, padding)
    return rng, x, pads, out_hw


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- im2col / col2im


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONV_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_im2col_matches_reference(name, config, dtype):
    shape, k, s, p = config
    _, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    expected = ref.im2col(x, k, s, pads, out_hw)
    got = kernels.backend(name).im2col(x, k, s, pads, out_hw)
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # a copy: bit-exact
    # the out= buffer path (used by the conv op) gives the same
    buf = np.full_like(expected, np.nan)
    kernels.backend(name).im2col(x, k, s, pads, out_hw, out=buf)
    np.testing.assert_array_equal(buf, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONV_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_col2im_matches_reference(name, config, dtype):
    shape, k, s, p = config
    rng, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    cols = rng.standard_normal(ref.im2col(x, k, s, pads, out_hw).shape).astype(dtype)
    expected = ref.col2im(cols, shape, k, s, pads, out_hw)
    got = kernels.backend(name).col2im(cols, shape, k, s, pads, out_hw)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, **_tol(dtype))
    buf = np.full(shape, np.nan, dtype=dtype)  # out= must be overwritten, not added to
    kernels.backend(name).col2im(cols, shape, k, s, pads, out_hw, out=buf)
    np.testing.assert_allclose(buf, expected, **_tol(dtype))


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_reference_col2im_is_adjoint_of_im2col(config):
    """<im2col(x), c> == <x, col2im(c)>: col2im is exactly im2col's transpose."""
    shape, k, s, p = config
    rng, x, pads, out_hw = _setup(shape, k, s, p, np.float64)
    cols = ref.im2col(x, k, s, pads, out_hw)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * ref.col2im(c, shape, k, s, pads, out_hw)))


def test_reference_im2col_by_hand():
    """1x3x3x1 image 1..9, 2x2 window, stride 1, no padding: the four windows."""
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    cols = ref.im2col(x, (2, 2), (1, 1), (0, 0, 0, 0), (2, 2))
    expected = [[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]]
    np.testing.assert_array_equal(cols, expected)


# --------------------------------------------------------------------------- max pooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_maxpool_forward_matches_reference(name, config, dtype):
    shape, k, s, p = config
    _, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    y_ref, arg_ref = ref.maxpool_forward(x, k, s, pads, out_hw)
    y, arg = kernels.backend(name).maxpool_forward(x, k, s, pads, out_hw)
    assert y.dtype == dtype and arg.dtype == np.int32
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_maxpool_backward_matches_reference(name, config, dtype):
    shape, k, s, p = config
    rng, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    _, arg = ref.maxpool_forward(x, k, s, pads, out_hw)
    dy = rng.standard_normal(arg.shape).astype(dtype)
    expected = ref.maxpool_backward(dy, arg, shape, k, s, pads)
    got = kernels.backend(name).maxpool_backward(dy, arg, shape, k, s, pads)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, **_tol(dtype))


@pytest.mark.parametrize("name", FAST)
def test_maxpool_ties_first_maximum_wins(name):
    """Many equal values: every backend picks the first maximum in row-major order."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, size=(2, 6, 6, 3)).astype(np.float32)  # ties everywhere
    x[0, :2, :2, 0] = 1.0  # a window where all four cells tie
    k, s = (3, 3), (1, 1)
    pads, out_hw = resolve_padding_2d((6, 6), k, s, "same")
    y_ref, arg_ref = ref.maxpool_forward(x, k, s, pads, out_hw)
    y, arg = kernels.backend(name).maxpool_forward(x, k, s, pads, out_hw)
    np.testing.assert_array_equal(arg, arg_ref)
    np.testing.assert_array_equal(y, y_ref)
    # output (0,0) covers rows/cols -1..1; the first real cell (0,0) is at offset 4
    assert arg_ref[0, 0, 0, 0] == 4
    dy = np.ones_like(y)
    np.testing.assert_array_equal(kernels.backend(name).maxpool_backward(dy, arg, x.shape, k, s, pads),
                                  ref.maxpool_backward(dy, arg_ref, x.shape, k, s, pads))


def test_reference_maxpool_padding_never_wins():
    """All-negative input with 'same' padding: the max is a real (negative) cell."""
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    pads, out_hw = resolve_padding_2d((3, 3), (2, 2), (2, 2), "same")  # pads bottom/right
    y, arg = ref.maxpool_forward(x, (2, 2), (2, 2), pads, out_hw)
    np.testing.assert_array_equal(y[0, :, :, 0], [[-1, -3], [-7, -9]])


# --------------------------------------------------------------------------- average pooling


@pytest.mark.parametrize("count_pad", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_avgpool_forward_matches_reference(name, config, dtype, count_pad):
    shape, k, s, p = config
    _, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    expected = ref.avgpool_forward(x, k, s, pads, out_hw, count_pad)
    got = kernels.backend(name).avgpool_forward(x, k, s, pads, out_hw, count_pad)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, **_tol(dtype))


@pytest.mark.parametrize("count_pad", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
@pytest.mark.parametrize("name", FAST)
def test_avgpool_backward_matches_reference(name, config, dtype, count_pad):
    shape, k, s, p = config
    rng, x, pads, out_hw = _setup(shape, k, s, p, dtype)
    dy = rng.standard_normal((shape[0], *out_hw, shape[3])).astype(dtype)
    expected = ref.avgpool_backward(dy, shape, k, s, pads, count_pad)
    got = kernels.backend(name).avgpool_backward(dy, shape, k, s, pads, count_pad)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, **_tol(dtype))


def test_reference_avgpool_divisors_by_hand():
    """3x3 input, 2x2 windows, stride 2, 'same' pads one row/col at the bottom/right."""
    pads, out_hw = resolve_padding_2d((3, 3), (2, 2), (2, 2), "same")
    assert pads == (0, 1, 0, 1)
    np.testing.assert_array_equal(ref.avgpool_divisors((3, 3), (2, 2), (2, 2), pads, out_hw, False),
                                  [[4, 2], [2, 1]])
    np.testing.assert_array_equal(ref.avgpool_divisors((3, 3), (2, 2), (2, 2), pads, out_hw, True),
                                  [[4, 4], [4, 4]])


# --------------------------------------------------------------------------- hypothesis


@st.composite
def window_problems(draw, pool=False):
    """A random (x shape, kernel, strides, padding) that fits."""
    n = draw(st.integers(1, 2))
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    c = draw(st.integers(1, 4))
    kh = draw(st.integers(1, min(h, 4)))
    kw = draw(st.integers(1, min(w, 4)))
    sh = draw(st.integers(1, 3))
    sw = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["valid", "same", "pair"]))
    if kind == "pair":
        limit_h, limit_w = (kh // 2, kw // 2) if pool else (kh, kw)
        padding = (draw(st.integers(0, limit_h)), draw(st.integers(0, limit_w)))
    else:
        padding = kind
    return (n, h, w, c), (kh, kw), (sh, sw), padding


@settings(derandomize=True, deadline=None, max_examples=40)
@given(problem=window_problems())
def test_im2col_col2im_random_shapes(problem):
    shape, k, s, p = problem
    rng, x, pads, out_hw = _setup(shape, k, s, p, np.float64)
    cols = ref.im2col(x, k, s, pads, out_hw)
    c = rng.standard_normal(cols.shape)
    dx = ref.col2im(c, shape, k, s, pads, out_hw)
    for name in FAST:
        be = kernels.backend(name)
        np.testing.assert_array_equal(be.im2col(x, k, s, pads, out_hw), cols)
        np.testing.assert_allclose(be.col2im(c, shape, k, s, pads, out_hw), dx, rtol=1e-12, atol=1e-12)


@settings(derandomize=True, deadline=None, max_examples=40)
@given(problem=window_problems(pool=True), count_pad=st.booleans())
def test_pooling_random_shapes(problem, count_pad):
    shape, k, s, p = problem
    rng, x, pads, out_hw = _setup(shape, k, s, p, np.float64)
    y, arg = ref.maxpool_forward(x, k, s, pads, out_hw)
    dy = rng.standard_normal(y.shape)
    dx = ref.maxpool_backward(dy, arg, shape, k, s, pads)
    ya = ref.avgpool_forward(x, k, s, pads, out_hw, count_pad)
    dxa = ref.avgpool_backward(dy, shape, k, s, pads, count_pad)
    for name in FAST:
        be = kernels.backend(name)
        y2, arg2 = be.maxpool_forward(x, k, s, pads, out_hw)
        np.testing.assert_array_equal(y2, y)
        np.testing.assert_array_equal(arg2, arg)
        np.testing.assert_allclose(be.maxpool_backward(dy, arg, shape, k, s, pads), dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(be.avgpool_forward(x, k, s, pads, out_hw, count_pad), ya, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(be.avgpool_backward(dy, shape, k, s, pads, count_pad), dxa, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- the switch


def test_use_current_and_using():
    before = kernels.current()
    try:
        kernels.use("reference")
        assert kernels.current() == "reference"
        assert kernels.backend() is ref
        with kernels.using("numpy"):
            assert kernels.current() == "numpy"
        assert kernels.current() == "reference"
        with pytest.raises(RuntimeError):
            with kernels.using("numba"):
                raise RuntimeError("boom")
        assert kernels.current() == "reference"  # restored even after an error
    finally:
        kernels.use(before)


def test_use_rejects_unknown_backend():
    before = kernels.current()
    with pytest.raises(ValueError, match="unknown backend 'cuda'.*numba"):
        kernels.use("cuda")
    assert kernels.current() == before


def test_dispatch_goes_to_active_backend():
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2))
    args = ((2, 2), (2, 2), (0, 0, 0, 0), (2, 2))
    outs = {}
    for name in ["reference", "numpy", "numba"]:
        with kernels.using(name):
            outs[name] = kernels.im2col(x, *args)
    np.testing.assert_array_equal(outs["numpy"], outs["reference"])
    np.testing.assert_array_equal(outs["numba"], outs["reference"])


def test_env_var_selects_backend(monkeypatch):
    before = kernels.current()
    try:
        monkeypatch.setenv("MINICNN_KERNELS", "numpy")
        importlib.reload(kernels)
        assert kernels.current() == "numpy"
        monkeypatch.setenv("MINICNN_KERNELS", "bogus")
        with pytest.raises(ValueError, match="bogus"):
            importlib.reload(kernels)
    finally:
        monkeypatch.delenv("MINICNN_KERNELS")
        importlib.reload(kernels)
        kernels.use(before)
    assert kernels.current() == before


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FAST)
def test_relu_matches_reference(name, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 2)).astype(dtype)
    x[0, 0, 0, :] = [0.0, np.nan]            # the kink and a NaN
    dy = rng.standard_normal(x.shape).astype(dtype)
    ref, fast = kernels.backend("reference"), kernels.backend(name)
    y_ref = ref.relu_forward(x)
    np.testing.assert_array_equal(fast.relu_forward(x), y_ref)
    np.testing.assert_array_equal(y_ref, np.where(np.isnan(x), np.nan, np.maximum(x, 0)))  # NaN propagates
    np.testing.assert_array_equal(fast.relu_backward(dy, y_ref), ref.relu_backward(dy, y_ref))
    np.testing.assert_array_equal(ref.relu_backward(dy, y_ref), np.where(y_ref > 0, dy, 0))
    assert fast.relu_forward(x).dtype == dtype


@pytest.mark.parametrize("batch_stats", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("shape", [(7, 3), (40, 5), (2, 1)])
def test_batchnorm_kernels_match_reference(name, dtype, batch_stats, shape):
    rng = np.random.default_rng(0)
    x2d = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    dy2d = rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
    ref, fast = kernels.backend("reference"), kernels.backend(name)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    mean, var = ref.batchnorm_stats(x2d)
    np.testing.assert_allclose(mean, x2d.astype(np.float64).mean(0), **tol)   # and by definition
    np.testing.assert_allclose(var, x2d.astype(np.float64).var(0), **tol)
    for a, b in zip(fast.batchnorm_stats(x2d), (mean, var)):
        np.testing.assert_allclose(a, b, **tol)
    inv_std = 1 / np.sqrt(var + 1e-3)
    y = fast.batchnorm_apply(x2d, mean, inv_std, gamma, beta)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.batchnorm_apply(x2d, mean, inv_std, gamma, beta), **tol)
    for a, b in zip(fast.batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats),
                    ref.batchnorm_backward(dy2d, x2d, mean, inv_std, gamma, batch_stats)):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_every_backend_implements_every_kernel(name):
    from minicnn.kernels.names import KERNEL_NAMES
    module = kernels.backend(name)
    missing = [k for k in KERNEL_NAMES if not callable(getattr(module, k, None))]
    assert not missing
    assert all(callable(getattr(kernels, k)) for k in KERNEL_NAMES)  # and the switch dispatches them


@pytest.mark.parametrize("name", ["reference", "numpy", "numba"])
def test_kernels_write_into_out(name):
    """relu_* and maxpool_* with ``out=`` fill the given arrays with what they would return."""
    module = kernels.backend(name)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y = np.empty_like(x)
    assert module.relu_forward(x, out=y) is y
    np.testing.assert_array_equal(y, module.relu_forward(x))
    dx = np.empty_like(x)
    assert module.relu_backward(dy, y, out=dx) is dx
    np.testing.assert_array_equal(dx, module.relu_backward(dy, y))
    args = ((2, 2), (2, 2), (0, 1, 0, 0), (3, 2))
    y_pool, argmax = module.maxpool_forward(x, *args)
    out = (np.empty_like(y_pool), np.empty_like(argmax))
    got = module.maxpool_forward(x, *args, out=out)
    assert got[0] is out[0] and got[1] is out[1]
    np.testing.assert_array_equal(out[0], y_pool)
    np.testing.assert_array_equal(out[1], argmax)
    dy_pool = rng.standard_normal(y_pool.shape).astype(np.float32)
    dx_pool = np.full_like(x, np.nan)  # every cell must be written, the unused ones with 0
    module.maxpool_backward(dy_pool, argmax, x.shape, (2, 2), (2, 2), (0, 1, 0, 0), out=dx_pool)
    np.testing.assert_array_equal(dx_pool, module.maxpool_backward(dy_pool, argmax, x.shape, (2, 2), (2, 2),
                                                                   (0, 1, 0, 0)))
