"""conv2d and pooling ops: numerical gradients, a hand-computed conv, PyTorch parity."""
import numpy as np
import pytest

from minicnn import kernels
from minicnn.ops import conv as conv_module
from minicnn.ops.conv import conv2d_backward, conv2d_forward
from minicnn.ops.pool import (avgpool2d_backward, avgpool2d_forward, global_avgpool_backward,
                              global_avgpool_forward, maxpool2d_backward, maxpool2d_forward)
from minicnn.testing import check_gradient

from conftest import check_conv2d_gradients

# (x shape, (KH, KW, C, F), strides, padding, use_bias)
CONV_CASES = [
    ((2, 5, 5, 3), (3, 3, 3, 4), 1, "valid", True),
    ((2, 5, 6, 3), (3, 3, 3, 2), 1, "same", True),
    ((2, 6, 5, 2), (2, 2, 2, 3), 1, "same", False),     # even kernel, no bias
    ((1, 7, 6, 2), (3, 2, 2, 3), 2, "same", True),      # non-square kernel, stride 2
    ((2, 7, 8, 1), (4, 4, 1, 2), 3, "same", True),      # stride 3, even kernel
    ((2, 6, 7, 2), (3, 3, 2, 2), (2, 1), 1, False),     # int padding, mixed strides
    ((1, 6, 6, 3), (5, 3, 3, 2), (1, 3), (2, 1), True), # pair padding
    ((2, 9, 5, 2), (3, 3, 2, 2), 3, "valid", True),     # stride 3 valid, non-square
]

# (x shape, pool_size, strides, padding)
POOL_CASES = [
    ((2, 4, 6, 2), 2, None, "valid"),
    ((2, 7, 5, 2), 3, 2, "valid"),          # overlapping windows: gradients add up
    ((2, 5, 7, 2), 3, 1, "same"),           # overlapping and padded
    ((1, 7, 8, 3), (3, 2), (2, 3), "same"), # non-square, stride != size
    ((2, 5, 5, 2), 2, 3, "same"),           # stride > size
    ((2, 6, 5, 2), 3, 2, 1),                # int padding
    ((1, 8, 6, 2), (4, 2), (3, 2), (2, 1)), # pair padding
]


def _distinct(shape, seed=0):
    """Values all different by at least 0.1: no max-pool ties near the numerical step."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(np.float64)


# --------------------------------------------------------------------------- numerical gradients


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradients_numerically(case):
    x_shape, w_shape, strides, padding, use_bias = case
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape)}
    if use_bias:
        inputs["b"] = rng.standard_normal(w_shape[3])
    result = check_conv2d_gradients(inputs, strides, padding, tolerance=1e-7)
    assert result.ok, result


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_gradient_numerically(case):
    x_shape, pool, strides, padding = case
    saved = {}

    def forward(x):
        y, saved["cache"] = maxpool2d_forward(x, pool, strides, padding)
        return y

    result = check_gradient(forward, lambda dy: {"x": maxpool2d_backward(dy, saved["cache"])},
                            {"x": _distinct(x_shape)}, tolerance=1e-7)
    assert result.ok and not result.kinks["x"], result


@pytest.mark.parametrize("case", POOL_CASES)
def test_avgpool2d_gradient_numerically(case):
    x_shape, pool, strides, padding = case
    saved = {}

    def forward(x):
        y, saved["cache"] = avgpool2d_forward(x, pool, strides, padding)
        return y

    x = np.random.default_rng(1).standard_normal(x_shape)
    result = check_gradient(forward, lambda dy: {"x": avgpool2d_backward(dy, saved["cache"])},
                            {"x": x}, tolerance=1e-7)
    assert result.ok, result


def test_global_avgpool_forward_and_gradient():
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 2))
    y, _ = global_avgpool_forward(x)
    np.testing.assert_allclose(y, x.mean(axis=(1, 2)))
    saved = {}

    def forward(x):
        y, saved["cache"] = global_avgpool_forward(x)
        return y

    result = check_gradient(forward, lambda dy: {"x": global_avgpool_backward(dy, saved["cache"])},
                            {"x": x}, tolerance=1e-7)
    assert result.ok, result


# --------------------------------------------------------------------------- by hand


def test_conv2d_by_hand_stride2_padding1():
    """A 4x4 image, two 3x3 filters, stride 2, padding 1 -> 2x2 outputs.

    x (one channel):        filter 0 (diagonal):   filter 1: all ones
         1  2  3  4             1 0 0                 bias 0: +0.5
         5  6  7  8             0 2 0                 bias 1: -1
         9 10 11 12             0 0 3
        13 14 15 16
    With padding 1 and stride 2, output (i, j) sees input rows 2i-1 .. 2i+1 and
    columns 2j-1 .. 2j+1 (row/column -1 is padding, zero).

    filter 0 = 1*x[r0,c0] + 2*x[r0+1,c0+1] + 3*x[r0+2,c0+2], (r0, c0) = (2i-1, 2j-1):
      (0,0): 1*pad + 2*x[0,0] + 3*x[1,1] = 0 + 2*1  + 3*6  = 20   -> 20.5
      (0,1): 1*pad + 2*x[0,2] + 3*x[1,3] = 0 + 2*3  + 3*8  = 30   -> 30.5
      (1,0): 1*pad + 2*x[2,0] + 3*x[3,1] = 0 + 2*9  + 3*14 = 60   -> 60.5
      (1,1): 1*x[1,1] + 2*x[2,2] + 3*x[3,3] = 6 + 2*11 + 3*16 = 76 -> 76.5
    filter 1 = sum of the real cells of the window:
      (0,0): 1+2+5+6 = 14                        -> 13
      (0,1): 2+3+4 + 6+7+8 = 30                  -> 29
      (1,0): 5+6 + 9+10 + 13+14 = 57             -> 56
      (1,1): 6+7+8 + 10+11+12 + 14+15+16 = 99    -> 98
    """
    x = np.arange(1.0, 17.0).reshape(1, 4, 4, 1)
    w = np.zeros((3, 3, 1, 2))
    w[:, :, 0, 0] = np.diag([1.0, 2.0, 3.0])
    w[:, :, 0, 1] = 1.0
    b = np.array([0.5, -1.0])
    expected = np.array([[[20.5, 13.0], [30.5, 29.0]],
                         [[60.5, 56.0], [76.5, 98.0]]])
    for name in ["reference", "numpy", "numba"]:
        with kernels.using(name):
            y, _ = conv2d_forward(x, w, b, strides=2, padding=1)
        np.testing.assert_array_equal(y[0], expected)


# --------------------------------------------------------------------------- op-level behaviour


@pytest.mark.parametrize("name", ["reference", "numpy"])
def test_conv2d_backends_agree_with_numba(name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y, cache = conv2d_forward(x, w, b, 2, "same")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = conv2d_backward(dy, cache)
    with kernels.using(name):
        y2, cache2 = conv2d_forward(x, w, b, 2, "same")
        grads2 = conv2d_backward(dy, cache2)
    np.testing.assert_allclose(y2, y, rtol=1e-5, atol=1e-5)
    for g, g2 in zip(grads, grads2):
        np.testing.assert_allclose(g2, g, rtol=1e-5, atol=1e-5)


def test_conv2d_chunking_does_not_change_results(monkeypatch):
    """Forcing one image per chunk gives the same y, dx, dw, db as one big chunk."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    b = rng.standard_normal(2)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 2**40)
    y, cache = conv2d_forward(x, w, b, 1, "same")
    dy = rng.standard_normal(y.shape)
    grads = conv2d_backward(dy, cache)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    y1, cache1 = conv2d_forward(x, w, b, 1, "same")
    grads1 = conv2d_backward(dy, cache1)
    np.testing.assert_allclose(y1, y, rtol=1e-12)
    for g, g1 in zip(grads, grads1):
        np.testing.assert_allclose(g1, g, rtol=1e-12, atol=1e-12)


def test_conv2d_backward_is_reproducible(monkeypatch):
    """Worker threads take chunks in any order; dW and db must still be bit-identical."""
    monkeypatch.setattr(conv_module, "WORKERS", 2)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)  # one image per chunk: many chunks
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 8, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y, cache = conv2d_forward(x, w, b, 1, "same")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    first = conv2d_backward(dy, cache)
    for _ in range(5):
        again = conv2d_backward(dy, cache)
        for g, g2 in zip(first, again):
            np.testing.assert_array_equal(g2, g)
    # and the sum matches a float64 computation to float32 precision
    y64, cache64 = conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, "same")
    for g, g64 in zip(first, conv2d_backward(dy.astype(np.float64), cache64)):
        np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-4)


def test_conv2d_backward_without_dx():
    """need_dx=False returns dx=None and the very same dw, db."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 6, 5, 2))
    w = rng.standard_normal((3, 3, 2, 4))
    y, cache = conv2d_forward(x, w, rng.standard_normal(4), 2, "same")
    dy = rng.standard_normal(y.shape)
    _, dw, db = conv2d_backward(dy, cache)
    dx2, dw2, db2 = conv2d_backward(dy, cache, need_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


def test_float32_stays_float32():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    y, cache = conv2d_forward(x, w, np.zeros(4, np.float32), 1, "same")
    dx, dw, db = conv2d_backward(np.ones_like(y), cache)
    assert {a.dtype for a in (y, dx, dw, db)} == {np.dtype(np.float32)}
    for fwd, bwd in [(maxpool2d_forward, maxpool2d_backward), (avgpool2d_forward, avgpool2d_backward)]:
        p, pc = fwd(y)
        assert p.dtype == np.float32 and bwd(np.ones_like(p), pc).dtype == np.float32


def test_conv2d_validation_errors():
    x = np.zeros((2, 5, 5, 3))
    with pytest.raises(ValueError, match=r"conv2d.*3 channels.*\(3, 3, 4, 2\)"):
        conv2d_forward(x, np.zeros((3, 3, 4, 2)))
    with pytest.raises(ValueError, match=r"conv2d.*\(5, 5, 3\)"):
        conv2d_forward(x[0], np.zeros((3, 3, 3, 2)))
    with pytest.raises(ValueError, match="conv2d.*bias"):
        conv2d_forward(x, np.zeros((3, 3, 3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="conv2d.*does not fit"):
        conv2d_forward(x, np.zeros((7, 7, 3, 2)))
    with pytest.raises(ValueError, match="conv2d.*padding"):
        conv2d_forward(x, np.zeros((3, 3, 3, 2)), padding="full")
    with pytest.raises(ValueError, match="conv2d.*float32 or float64.*int64"):
        conv2d_forward(x.astype(np.int64), np.zeros((3, 3, 3, 2)))
    y, cache = conv2d_forward(x, np.zeros((3, 3, 3, 2)))
    with pytest.raises(ValueError, match=r"conv2d.*dy.*\(2, 3, 3, 2\)"):
        conv2d_backward(np.zeros((2, 3, 3, 1)), cache)


def test_pool_validation_errors():
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match="maxpool2d.*half"):
        maxpool2d_forward(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"avgpool2d.*\(N, H, W, C\)"):
        avgpool2d_forward(x[0])
    with pytest.raises(ValueError, match="maxpool2d.*float32 or float64"):
        maxpool2d_forward(x.astype(np.float16))
    with pytest.raises(ValueError, match="maxpool2d.*does not fit"):
        maxpool2d_forward(x, 5)
    y, cache = maxpool2d_forward(x)
    with pytest.raises(ValueError, match="maxpool2d.*dy"):
        maxpool2d_backward(np.zeros((1, 3, 3, 2)), cache)


# --------------------------------------------------------------------------- PyTorch parity


def _tf_same(n, k, s):
    """TensorFlow's 'same' padding, computed here independently of minicnn.ops.shapes."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _torch_pad(xt, kernel_hw, strides_hw, padding, value=0.0):
    """Pad an NCHW torch tensor explicitly: returns (padded x, torch padding arg)."""
    import torch.nn.functional as Fn

    if padding == "same":
        t, b = _tf_same(xt.shape[2], kernel_hw[0], strides_hw[0])
        l, r = _tf_same(xt.shape[3], kernel_hw[1], strides_hw[1])
        return Fn.pad(xt, (l, r, t, b), value=value), 0
    if padding == "valid":
        return xt, 0
    return xt, padding  # int / pair: torch pads symmetrically itself


def _nchw(torch, a, perm, grad=True):
    """A contiguous torch tensor of ``a.transpose(perm)``."""
    return torch.tensor(np.ascontiguousarray(a.transpose(perm)), requires_grad=grad)


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(6))
def test_conv2d_matches_torch(seed):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as Fn

    rng = np.random.default_rng(100 + seed)
    N, H, W = int(rng.integers(1, 4)), int(rng.integers(5, 12)), int(rng.integers(5, 12))
    C, F = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    KH, KW = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = ["valid", "same", int(rng.integers(0, 3)),
               (int(rng.integers(0, 3)), int(rng.integers(0, 3)))][seed % 4]
    use_bias = seed % 3 != 2
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C, F)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32) if use_bias else None

    y, cache = conv2d_forward(x, w, b, strides, padding)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = conv2d_backward(dy, cache)

    xt = _nchw(torch, x, (0, 3, 1, 2))  # NHWC -> NCHW
    wt = _nchw(torch, w, (3, 2, 0, 1))  # (KH, KW, C, F) -> (F, C, KH, KW)
    bt = torch.tensor(b, requires_grad=True) if use_bias else None
    xin, pad = _torch_pad(xt, (KH, KW), strides, padding)
    yt = Fn.conv2d(xin, wt, bt, stride=strides, padding=pad)
    yt.backward(_nchw(torch, dy, (0, 3, 1, 2), grad=False))

    tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), **tol)
    np.testing.assert_allclose(dw, wt.grad.numpy().transpose(2, 3, 1, 0), **tol)
    if use_bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), **tol)


def _random_pool_config(rng, seed):
    N, H, W, C = 2, int(rng.integers(4, 10)), int(rng.integers(4, 10)), int(rng.integers(1, 4))
    pool = (int(rng.integers(1, 4)), int(rng.integers(2, 4)))
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = ["valid", "same", (pool[0] // 2, pool[1] // 2)][seed % 3]
    return (N, H, W, C), pool, strides, padding


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(6))
def test_maxpool2d_matches_torch(seed):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as Fn

    rng = np.random.default_rng(200 + seed)
    shape, pool, strides, padding = _random_pool_config(rng, seed)
    x = rng.standard_normal(shape).astype(np.float32)
    y, cache = maxpool2d_forward(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = maxpool2d_backward(dy, cache)

    xt = _nchw(torch, x, (0, 3, 1, 2))
    xin, pad = _torch_pad(xt, pool, strides, padding, value=-np.inf)
    yt = Fn.max_pool2d(xin, pool, strides, padding=pad)
    yt.backward(_nchw(torch, dy, (0, 3, 1, 2), grad=False))
    np.testing.assert_array_equal(y, yt.detach().numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(6))
def test_avgpool2d_matches_torch(seed):
    """valid and int padding: torch's avg_pool2d (count_include_pad=True). 'same':
    Keras's rule, built from torch ops as sum over real cells / number of real cells."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as Fn

    rng = np.random.default_rng(300 + seed)
    shape, pool, strides, padding = _random_pool_config(rng, seed)
    x = rng.standard_normal(shape).astype(np.float32)
    y, cache = avgpool2d_forward(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = avgpool2d_backward(dy, cache)

    xt = _nchw(torch, x, (0, 3, 1, 2))
    if padding == "same":
        sums = Fn.avg_pool2d(_torch_pad(xt, pool, strides, "same")[0], pool, strides) * (pool[0] * pool[1])
        ones = torch.ones_like(xt[:1, :1])
        counts = Fn.avg_pool2d(_torch_pad(ones, pool, strides, "same")[0], pool, strides) * (pool[0] * pool[1])
        yt = sums / counts
    else:
        pad = 0 if padding == "valid" else padding
        yt = Fn.avg_pool2d(xt, pool, strides, padding=pad, count_include_pad=True)
    yt.backward(_nchw(torch, dy, (0, 3, 1, 2), grad=False))
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_maxpool_split_over_workers_give_the_same_arrays(monkeypatch, dtype):
    """for_each_part runs ReLU and max pooling on ranges of images in worker threads: same bits as one range."""
    from minicnn.ops.activation import relu_backward, relu_forward
    rng = np.random.default_rng(8)
    x = rng.standard_normal((7, 6, 6, 3)).astype(dtype)
    results = {}
    for workers, min_size in ((1, 2**30), (2, 1), (3, 1)):
        monkeypatch.setattr(conv_module, "WORKERS", workers)
        monkeypatch.setattr(conv_module, "PARALLEL_MIN_SIZE", min_size)
        r, r_cache = relu_forward(x)
        dr = relu_backward(np.sin(x), r_cache)
        p, p_cache = maxpool2d_forward(r, 2, None, "same")
        dp = maxpool2d_backward(np.cos(p), p_cache)
        results[workers] = (r, dr, p, p_cache["argmax"], dp)
    np.testing.assert_array_equal(results[1][0], np.maximum(x, 0))
    for workers in (2, 3):
        for a, b in zip(results[1], results[workers]):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
