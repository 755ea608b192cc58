"""The plain-loop convolution (kernels/conv_loops.py) against the fast path
(ops.conv: im2col + GEMM in threaded chunks) and a case computed by hand."""
import numpy as np
import pytest

from minicnn.kernels.conv_loops import conv2d_backward_loops, conv2d_forward_loops
from minicnn.ops import conv as conv_op
from minicnn.ops.conv import conv2d_backward, conv2d_forward

CASES = [  # (H, W, C, F, KH, KW, strides, padding)
    (5, 5, 2, 3, 3, 3, 1, "valid"),
    (5, 6, 2, 2, 3, 3, 1, "same"),
    (6, 5, 1, 2, 3, 2, 2, "same"),    # odd "same" total on one axis: extra pad after
    (7, 7, 3, 2, 3, 3, 2, 1),
    (6, 7, 2, 3, 2, 3, (2, 3), (1, 2)),
    (5, 5, 2, 1, 2, 2, 3, "valid"),   # stride > kernel: some cells are in no window
    (4, 4, 1, 2, 4, 4, 1, 2),         # kernel as large as the input, wide padding
]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("H, W, C, F, KH, KW, strides, padding", CASES)
def test_loops_equal_fast_path(H, W, C, F, KH, KW, strides, padding, dtype, rtol):
    rng = np.random.default_rng(H * 100 + W * 10 + KH)
    x = rng.standard_normal((2, H, W, C)).astype(dtype)
    w = rng.standard_normal((KH, KW, C, F)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    y_fast, cache = conv2d_forward(x, w, b, strides, padding)
    y_loops = conv2d_forward_loops(x, w, b, strides, padding)
    assert y_loops.dtype == dtype and y_loops.shape == y_fast.shape
    np.testing.assert_allclose(y_loops, y_fast, rtol=rtol, atol=rtol)

    dy = rng.standard_normal(y_fast.shape).astype(dtype)
    dx_fast, dw_fast, db_fast = conv2d_backward(dy, cache)
    dx, dw, db = conv2d_backward_loops(dy, x, w, strides, padding)
    for got, want in ((dx, dx_fast), (dw, dw_fast), (db, db_fast)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 10)


def test_fast_path_in_several_chunks_still_equal(monkeypatch):
    # Tiny chunks force the threaded, chunked code path of ops.conv.
    monkeypatch.setattr(conv_op, "CHUNK_BYTES", 1)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 5, 5, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    b = rng.standard_normal(2)
    y, cache = conv2d_forward(x, w, b, 2, 1)
    np.testing.assert_allclose(conv2d_forward_loops(x, w, b, 2, 1), y, rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    for got, want in zip(conv2d_backward_loops(dy, x, w, 2, 1), conv2d_backward(dy, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_hand_computed_case():
    # x 3x3 = 1..9, kernel [[1, 0], [0, -1]], stride 1, no padding:
    # y[i, j] = x[i, j] - x[i+1, j+1] = -4 everywhere.
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    w = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)
    y = conv2d_forward_loops(x, w, np.array([0.5]))
    np.testing.assert_array_equal(y[0, :, :, 0], [[-3.5, -3.5], [-3.5, -3.5]])
    dx, dw, db = conv2d_backward_loops(np.ones_like(y), x, w)
    # dW[u, v] = sum of the 2x2 block of x starting at (u, v)
    np.testing.assert_array_equal(dw[:, :, 0, 0], [[1 + 2 + 4 + 5, 2 + 3 + 5 + 6],
                                                   [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]])
    assert db.tolist() == [4.0]
    # dx: +1 where a window's top-left lies, -1 where its bottom-right lies
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"conv2d_backward_loops: dy must have shape \(1, 2, 2, 1\)"):
        conv2d_backward_loops(np.ones((1, 3, 3, 1)), np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="x has 2 channels but w expects 1"):
        conv2d_forward_loops(np.ones((1, 3, 3, 2)), np.ones((2, 2, 1, 1)))


def test_fast_path_docstrings_point_to_the_loops_and_state_the_formulas():
    assert "kernels/conv_loops.py" in conv2d_forward.__doc__
    doc = conv2d_backward.__doc__
    assert "kernels/conv_loops.py" in doc
    for formula in ("db[f] = sum_{n, i, j} dy[n, i, j, f]",
                    "dW[u, v, c, f] = sum_{n, i, j} x[n, i*SH + u - top, j*SW + v - left, c] * dy[n, i, j, f]",
                    "dx[n, r, s, c] = sum_{f} sum_{i, j} w[u, v, c, f] * dy[n, i, j, f]"):
        assert formula in " ".join(doc.split()), formula
