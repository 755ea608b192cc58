"""Winograd's F(2x2, 3x3) and F(4x4, 3x3) convolutions (ops/conv_winograd.py) against the matrix
formulas, the loop reference (kernels/conv_loops.py) and the im2col path they replace."""
import numpy as np
import pytest

from minicnn import kernels
from minicnn.kernels.conv_loops import conv2d_backward_loops, conv2d_forward_loops
from minicnn.ops import conv as conv_module
from minicnn.ops import conv_winograd as cw
from minicnn.ops.conv import conv2d_backward, conv2d_forward

TILES = sorted(cw.TRANSFORMS)  # output tile sizes m: F(2x2, 3x3) and F(4x4, 3x3)


def matrices(m):
    return (cw.TRANSFORMS[m].WINOGRAD_MATRICES[k] for k in ("BT", "G", "AT"))

# (x shape, F, padding): even and odd outputs, "same", "valid", int and pair padding, 8+ channels
CASES = [
    ((3, 6, 6, 8), 4, "same"),
    ((2, 7, 5, 9), 3, "same"),       # odd output height: the last tile row is cut
    ((2, 9, 8, 8), 5, "valid"),      # 7x6 output
    ((3, 5, 7, 8), 2, 1),
    ((2, 8, 8, 16), 6, (2, 1)),      # more padding than the kernel's half
    ((2, 13, 11, 8), 3, "same"),     # 13x11: cut tiles at both borders for m = 4
]


def tiles_of(xp, TH, TW, m):
    """The (m+2)x(m+2) input tiles d[k, i, j] = xp[k, m*i:m*i+m+2, m*j:m*j+m+2] (as the kernels index them)."""
    a = m + 2
    return np.stack([np.stack([xp[:, m * i:m * i + a, m * j:m * j + a] for j in range(TW)], 1)
                     for i in range(TH)], 1)  # (n, TH, TW, a, a, C)


@pytest.mark.parametrize("m", TILES)
def test_winograd_matrices_give_the_correlation(m):
    """Y = A^T [(G g G^T) * (B^T d B)] A equals the direct mxm correlation of an (m+2)x(m+2) tile with a 3x3 kernel."""
    BT, G, AT = matrices(m)
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[p:p + 3, q:q + 3] * g) for q in range(m)] for p in range(m)])
    np.testing.assert_allclose(AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T, direct, rtol=1e-12)


@pytest.mark.parametrize("m", TILES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (2, 0, 0, 1)])
def test_input_and_output_transforms_are_the_matrix_products(m, dtype, pads):
    BT, _, AT = matrices(m)
    a = m + 2
    rng = np.random.default_rng(1)
    n, H, W, C, F = 2, 5, 4, 5, 4
    top, bottom, left, right = pads
    x = rng.standard_normal((n, H, W, C)).astype(dtype)
    out_hw = (H + top + bottom - 2, W + left + right - 2)
    geo = cw._Geometry(x.shape, F, pads, out_hw, dtype, m)
    u, mbuf, scratch = geo.buffers(dtype)
    TH, TW = geo.TH, geo.TW
    xp = np.zeros((n, m * TH + 2, m * TW + 2, C), dtype=dtype)  # the padding, made explicit
    xp[:, top:top + H, left:left + W] = x
    d = tiles_of(xp, TH, TW, m)
    expected = np.einsum("ak,nijklc,bl->abnijc", BT, d, BT).reshape(a * a, n, TH * TW, C)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # both images, then the second alone in the same buffers (a shorter last chunk)
    U = geo.transformed_input(x, u, scratch)
    np.testing.assert_allclose(U, expected.reshape(a * a, n * TH * TW, C), rtol=tol, atol=tol)
    U = geo.transformed_input(x[1:], u, scratch)
    np.testing.assert_allclose(U, expected[:, 1], rtol=tol, atol=tol)

    M = rng.standard_normal((a * a, n * TH * TW, F)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    y = np.empty((n, m * TH - 1, m * TW, F), dtype=dtype)  # the last row is not written (a cut tile)
    S = np.empty((m * a, n * TH * TW, F), dtype=dtype)
    geo.k.output_transform(M.reshape(a * a, -1), TH, TW, bias, S.reshape(m * a, -1), S, y)
    tiles = np.einsum("pa,abnijf,qb->nipjqf", AT, M.reshape(a, a, n, TH, TW, F), AT)
    expected_y = tiles.reshape(n, m * TH, m * TW, F)[:, :m * TH - 1] + bias
    np.testing.assert_allclose(y, expected_y, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("m", TILES)
def test_transform_adjoints_pass_the_dot_product_test(m):
    """<T(a), b> = <a, T*(b)> for the input and output transforms and their adjoints (float64)."""
    a = m + 2
    rng = np.random.default_rng(2)
    n, H, W, C = 2, 6, 7, 3
    pads = (1, 1, 2, 0)
    out_hw = (H, W)
    geo = cw._Geometry((n, H, W, C), C, pads, out_hw, np.float64, m)
    u, mbuf, scratch = geo.buffers(np.float64)
    x = rng.standard_normal((n, H, W, C))
    U = geo.transformed_input(x, u, scratch).copy()
    dU = rng.standard_normal(U.shape)
    Q = np.empty_like(dU)
    dx = np.full_like(x, np.nan)  # overwritten everywhere
    geo.k.input_transform_adjoint(dU.reshape(a * a, -1), pads[0], pads[2], geo.TH, geo.TW, Q.reshape(a * a, -1),
                                  Q, dx)
    np.testing.assert_allclose(np.sum(U * dU), np.sum(x * dx), rtol=1e-12)

    TH, TW = geo.TH, geo.TW
    M = rng.standard_normal((a * a, n * TH * TW, C))
    y = np.empty((n, H, W, C))
    S = np.empty((m * a, n * TH * TW, C))
    geo.k.output_transform(M.reshape(a * a, -1), TH, TW, np.zeros(C), S.reshape(m * a, -1), S, y)
    dy = rng.standard_normal(y.shape)
    dM = geo.transformed_output_grad(dy, geo.padded_dy_buffer(np.float64), mbuf, scratch)
    np.testing.assert_allclose(np.sum(y * dy), np.sum(M * dM), rtol=1e-12)


@pytest.mark.parametrize("m", TILES)
def test_kernel_transform_adjoint(m):
    rng = np.random.default_rng(3)
    a = m + 2
    w, dV = rng.standard_normal((3, 3, 4, 5)), rng.standard_normal((a * a, 4, 5))
    np.testing.assert_allclose(np.sum(cw.kernel_transform(w, m) * dV),
                               np.sum(w * cw.kernel_transform_adjoint(dV, m)), rtol=1e-12)


@pytest.mark.parametrize("m", TILES)
@pytest.mark.parametrize("x_shape, F, padding", CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_winograd_conv_equals_the_loop_formulas_float64(monkeypatch, m, x_shape, F, padding, use_bias):
    monkeypatch.setattr(conv_module, "WINOGRAD_TILE", m)
    rng = np.random.default_rng(4)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((3, 3, x_shape[3], F))
    b = rng.standard_normal(F) if use_bias else None
    y, cache = conv2d_forward(x, w, b, 1, padding)
    assert cache["winograd"] and cache["winograd_tile"] == m
    np.testing.assert_allclose(y, conv2d_forward_loops(x, w, b, 1, padding), rtol=1e-10, atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = conv2d_backward(dy, cache)
    dx_ref, dw_ref, db_ref = conv2d_backward_loops(dy, x, w, 1, padding)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-10)
    if use_bias:
        np.testing.assert_allclose(db, db_ref, rtol=1e-10, atol=1e-10)
    else:
        assert db is None
    dx2, dw2, _ = conv2d_backward(dy, cache, need_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(dw2, dw)


@pytest.mark.parametrize("m", TILES)
@pytest.mark.parametrize("x_shape, F, padding", CASES[:3] + CASES[-1:])
def test_winograd_conv_float32_agrees_with_im2col(monkeypatch, m, x_shape, F, padding):
    """float32 rounding: F(4x4, 3x3) errs more than F(2x2, 3x3), both within 1e-5 of the outputs' scale."""
    monkeypatch.setattr(conv_module, "WINOGRAD_TILE", m)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((3, 3, x_shape[3], F)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32)
    y, cache = conv2d_forward(x, w, b, 1, padding)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = conv2d_backward(dy, cache)
    monkeypatch.setattr(conv_module, "WINOGRAD", False)
    y_ref, cache_ref = conv2d_forward(x, w, b, 1, padding)
    assert not cache_ref["winograd"]
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-5 * np.abs(y_ref).max())
    for g, g_ref in zip(grads, conv2d_backward(dy, cache_ref)):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5 * np.abs(g_ref).max())


@pytest.mark.parametrize("m", TILES)
def test_winograd_is_bit_identical_whatever_the_thread_count(monkeypatch, m):
    monkeypatch.setattr(conv_module, "WINOGRAD_TILE", m)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((12, 8, 8, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    monkeypatch.setattr(conv_module, "WINOGRAD_CHUNK_BYTES", 1)  # one image per chunk: many chunks
    results = []
    for workers in (1, 2, 1, 2):
        monkeypatch.setattr(conv_module, "WORKERS", workers)
        y, cache = conv2d_forward(x, w, b, 1, "same")
        results.append((y,) + conv2d_backward(np.cos(y), cache))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("w_shape, strides, backend, expected", [
    ((3, 3, 8, 4), 1, "numba", True),
    ((3, 3, 3, 4), 1, "numba", False),   # an RGB first layer: im2col is faster there
    ((3, 3, 8, 4), 2, "numba", False),   # stride 2: not this algorithm
    ((5, 5, 8, 4), 1, "numba", False),   # F(2x2, 3x3) is for 3x3 kernels only
    ((3, 3, 8, 4), 1, "numpy", False),   # the other backends keep the readable im2col path
])
def test_when_winograd_is_used(w_shape, strides, backend, expected):
    x = np.zeros((1, 8, 8, w_shape[2]), dtype=np.float32)
    with kernels.using(backend):
        _, cache = conv2d_forward(x, np.zeros(w_shape, dtype=np.float32), None, strides, "same")
    assert cache["winograd"] is expected
