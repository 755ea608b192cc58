"""Backward traces (conv, max pool, Dense): each compared with a NumPy
computation written here, with the engine's ops, and with hand-computed cases."""
import argparse
import re
import zlib

import numpy as np
import pytest

from minicnn import explain
from minicnn.explain import (DENSE_EXAMPLE, conv1d_backward_trace, conv2d_backward_trace, dense_backward_trace,
                             maxpool_backward_trace)
from minicnn.ops.conv import conv2d_backward, conv2d_forward
from minicnn.ops.pool import maxpool2d_backward, maxpool2d_forward
from minicnn.ops.shapes import resolve_padding_2d


# ---------------------------------------------------------------------------
# An independent computation: windows with NumPy, scatter-add for dx.
# ---------------------------------------------------------------------------
def numpy_conv_backward(x, w, dy, stride, padding):
    """x: (H, W, C); w: (KH, KW, C, F); dy: (OH, OW, F) -> dx (H, W, C), dw, db (F,)."""
    SH, SW = (stride, stride) if isinstance(stride, int) else stride
    KH, KW = w.shape[:2]
    (top, bottom, left, right), (OH, OW) = resolve_padding_2d(x.shape[:2], (KH, KW), (SH, SW), padding)
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(0, 1))[::SH, ::SW][:OH, :OW]
    dw = np.einsum("ijcuv,ijf->uvcf", windows, dy)          # (OH, OW, C, KH, KW) x (OH, OW, F)
    dxp = np.zeros_like(xp)
    for i in range(OH):
        for j in range(OW):  # each window sends w * dy back onto the cells it covers
            dxp[i * SH:i * SH + KH, j * SW:j * SW + KW] += np.einsum("uvcf,f->uvc", w, dy[i, j])
    dx = dxp[top:top + x.shape[0], left:left + x.shape[1]]
    return dx, dw, dy.sum(axis=(0, 1))


PADDINGS = ["valid", "same", 0, 1, 2, (1, 2)]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2)])
def test_conv2d_backward_trace_matches_numpy_and_engine(stride, padding):
    rng = np.random.default_rng(zlib.crc32(f"{stride}{padding}".encode()))
    for _ in range(3):
        H, W = rng.integers(3, 7, size=2)
        C, F = rng.integers(1, 3, size=2)
        KH, KW = rng.integers(1, 4, size=2)
        x = rng.integers(-3, 4, size=(H, W, C)).astype(float)
        w = rng.integers(-2, 3, size=(KH, KW, C, F)).astype(float)
        b = rng.integers(-2, 3, size=F).astype(float)
        try:
            resolve_padding_2d((H, W), (KH, KW), (stride, stride) if isinstance(stride, int) else stride,
                               padding)
        except ValueError:
            continue  # the window does not fit
        OH, OW = conv2d_trace_shape(x, w, stride, padding)
        dy = rng.integers(-3, 4, size=(OH, OW, F)).astype(float)
        t = conv2d_backward_trace(x, w, b, stride, padding, dy=dy)
        dx, dw, db = numpy_conv_backward(x, w, dy, stride, padding)
        np.testing.assert_array_equal(t.dx, dx)
        np.testing.assert_array_equal(t.dw, dw)
        np.testing.assert_array_equal(t.db, db)
        # dx recomputed as a full convolution of the dilated dy with the rotated kernel
        assert t.full_convolution_agrees
        np.testing.assert_array_equal(t.full_convolution, dx)
        # the engine, called here directly
        _y, cache = conv2d_forward(x[None], w, b, stride, padding)
        e_dx, e_dw, e_db = conv2d_backward(dy[None], cache)
        np.testing.assert_allclose(t.engine["dx"], e_dx[0], atol=1e-12)
        np.testing.assert_allclose(t.dx, e_dx[0], atol=1e-9)
        np.testing.assert_allclose(t.dw, e_dw, atol=1e-9)
        np.testing.assert_allclose(t.db, e_db, atol=1e-9)
        assert t.agrees and t.max_difference < 1e-9
        # one written-out entry per gradient element, each with one term per window it gets
        for entries, grad in ((t.dw_entries, t.dw), (t.dx_entries, t.dx), (t.db_entries, t.db)):
            assert len(entries) == grad.size
        assert all(len(e.terms) == OH * OW for e in t.dw_entries + t.db_entries)


def conv2d_trace_shape(x, w, stride, padding):
    return explain.conv2d_trace(x, w, None, stride, padding).output.shape[:2]


def test_default_dy_is_all_ones():
    x = np.arange(16.0).reshape(4, 4)
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = conv2d_backward_trace(x, w, padding=1, stride=2)
    dx, dw, db = numpy_conv_backward(x[..., None], w[..., None, None], np.ones((3, 3, 1)), 2, 1)
    np.testing.assert_array_equal(t.dy, np.ones((3, 3, 1)))
    np.testing.assert_array_equal(t.dx, dx)
    np.testing.assert_array_equal(t.dw, dw)
    assert t.db.tolist() == [9.0]
    assert "all ones (the default; L is the sum of all outputs)" in t.to_text()


def test_hand_case_2d_every_term_written_out():
    # x = 1..9 (3x3), w = [[1, 0], [0, -1]], dy = ones, stride 1, no padding
    t = conv2d_backward_trace(np.arange(1.0, 10.0).reshape(3, 3), [[1, 0], [0, -1]], 1)
    text = t.to_text()
    # dW[u, v] = sum of the 2x2 block of x starting at (u, v), every product written
    assert "dW[0,1] = x[0,1]*dy[0,0] + x[0,2]*dy[0,1] + x[1,1]*dy[1,0] + x[1,2]*dy[1,1]" in text
    assert "= 2*1 + 3*1 + 5*1 + 6*1 = 16" in text
    # dx[1,1] is covered by all four windows, through the four kernel cells
    assert "dx[1,1] = w[1,1]*dy[0,0] + w[1,0]*dy[0,1] + w[0,1]*dy[1,0] + w[0,0]*dy[1,1]" in text
    assert "= (-1)*1 + 0*1 + 0*1 + 1*1 = 0" in text
    assert "db = dy[0,0] + dy[0,1] + dy[1,0] + dy[1,1]" in text and "= 1 + 1 + 1 + 1 = 4" in text
    assert 'With stride 1, dx is a "full" convolution of dy with the kernel rotated by 180 degrees' in text
    assert "-> the same as dx above" in text
    assert "largest difference from the trace: 0 -> they agree" in text
    np.testing.assert_array_equal(t.dw[:, :, 0, 0], [[12, 16], [24, 28]])
    np.testing.assert_array_equal(t.dx[:, :, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])


def test_hand_case_1d_stride2_padding1():
    # x = 1 2 3 4 5, P = 1 -> padded 0 1 2 3 4 5 0; K = 3, S = 2: windows start at 0, 2, 4
    t = conv1d_backward_trace([1, 2, 3, 4, 5], [1, 0, -1], stride=2, padding=1, dy=[1, 2, 3])
    np.testing.assert_array_equal(t.dw, [0 * 1 + 2 * 2 + 4 * 3, 1 * 1 + 3 * 2 + 5 * 3, 2 * 1 + 4 * 2 + 0 * 3])
    np.testing.assert_array_equal(t.dx, [0, -1 * 1 + 1 * 2, 0, -1 * 2 + 1 * 3, 0])
    np.testing.assert_array_equal(t.db, [6])
    text = t.to_text()
    assert "dW[0] = pad*dy[0] + x[1]*dy[1] + x[3]*dy[2]" in text and "= 0*1 + 2*2 + 4*3 = 16" in text
    assert "dx[1] = w[2]*dy[0] + w[0]*dy[1]" in text and "= (-1)*1 + 1*2 = 1" in text
    assert "dy is first dilated (S - 1 = 1 zero(s) between its entries)" in text
    assert t.full_convolution_agrees and t.agrees


def test_1d_against_numpy_correlate():
    # 1-D, no padding, stride 1: dW = correlate(x, dy, valid), dx = convolve(dy, w, full)
    x = np.array([3.0, -1, 4, 1, -5, 9])
    w = np.array([2.0, -1, 1])
    dy = np.array([1.0, -2, 0.5, 3])
    t = conv1d_backward_trace(x, w, dy=dy)
    np.testing.assert_allclose(t.dw, np.correlate(x, dy, "valid"))
    np.testing.assert_allclose(t.dx, np.convolve(dy, w, "full"))
    assert t.dx.shape == (6,) and t.dw.shape == (3,)


def test_stride_skips_cells_says_so():
    t = conv1d_backward_trace([1, 2, 3, 4, 5], [1, 1], stride=3)  # windows [1 2], [4 5]: x[2] unused
    assert t.dx.tolist() == [1, 1, 0, 1, 1]
    assert "dx[2] = 0  (no window covers this cell: the stride skips it)" in t.to_text()


def test_several_channels_and_filters_labels_and_markdown():
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=(3, 3, 2)).astype(float)
    w = rng.integers(-2, 3, size=(2, 2, 2, 3)).astype(float)
    dy = rng.integers(-2, 3, size=(2, 2, 3)).astype(float)
    t = conv2d_backward_trace(x, w, dy=dy, channel_names=["R", "G"])
    text = t.to_text()
    # dW[0,0,1,2]: kernel cell (0, 0), channel 1, filter 2: x[., ., 1] times dy[., ., 2]
    expected = " + ".join(f"x[{i},{j},1]*dy[{i},{j},2]" for i in range(2) for j in range(2))
    assert f"dW[0,0,1,2] = {expected}" in text
    assert "db[1] = dy[0,0,1] + dy[0,1,1] + dy[1,0,1] + dy[1,1,1]" in text
    md = t.to_markdown()
    assert md.startswith("## Convolution backward trace")
    for heading in ("### dW, the kernel's gradient", "### dx, the input's gradient", "### db, the bias's gradient",
                    '### dx as a "full" convolution', "### The engine on the same numbers"):
        assert heading in md
    assert "**dx, channel G**" in md and "| **row 0** |" in md


def test_bad_dy_and_mode():
    with pytest.raises(ValueError,
                       match=r"dy must have the shape of the output, \(OH, OW\) = \(2, 2\).*got dy.shape=\(3,\)"):
        conv2d_backward_trace(np.ones((3, 3)), np.ones((2, 2)), dy=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\(OH, OW, F\) = \(2, 2, 2\)"):
        conv2d_backward_trace(np.ones((3, 3)), np.ones((2, 2, 1, 2)), dy=np.ones((2, 2)))
    with pytest.raises(ValueError, match="cross-correlation"):
        explain.backward_trace_from_spec({"x": [1, 2, 3], "w": [1, 0], "mode": "convolution"})


# ---------------------------------------------------------------------------
# trace-conv --backward on the command line
# ---------------------------------------------------------------------------
def run_cli(argv):
    parser = argparse.ArgumentParser()
    explain.add_trace_conv_arguments(parser)
    return explain.run_trace_conv(parser.parse_args(argv))


def test_cli_backward_with_dy(capsys):
    assert run_cli(["--x", "1 2 3 4 5", "--w", "1 0 -1", "--stride", "2", "--padding", "1",
                    "--backward", "--dy", "1 2 3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Convolution backward trace")
    assert "= 0*1 + 2*2 + 4*3 = 16" in out and "-> they agree" in out
    assert run_cli(["--x", "1 2; 3 4", "--w", "1 0; 0 1", "--backward", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "`dW[0,0] = x[0,0]*dy[0,0]`" not in md  # sums are in code blocks, not inline
    assert "dW[0,0] = x[0,0]*dy[0,0]\n" in md and "```text" in md


def test_cli_backward_json_dy_per_filter(tmp_path, capsys):
    spec = tmp_path / "case.json"
    spec.write_text('{"x": [[1, 2, 0], [0, 1, 3], [2, 2, 1]], "w": {"a": {"0": [[1, 0], [0, 1]]}, '
                    '"b": {"0": [[0, 1], [1, 0]]}}, "dy": {"a": [[1, 0], [0, 0]], "b": [[0, 0], [0, 2]]}}')
    assert run_cli([str(spec), "--backward"]) == 0
    out = capsys.readouterr().out
    # only dy[0,0,0] = 1 (filter a) and dy[1,1,1] = 2 (filter b) are non-zero
    x = np.array([[1, 2, 0], [0, 1, 3], [2, 2, 1]], float)
    t = explain.backward_trace_from_spec({"x": x.tolist(), "w": {"a": {"0": [[1, 0], [0, 1]]},
                                                                 "b": {"0": [[0, 1], [1, 0]]}},
                                          "dy": {"a": [[1, 0], [0, 0]], "b": [[0, 0], [0, 2]]}})
    np.testing.assert_array_equal(t.dw[:, :, 0, 0], x[0:2, 0:2])
    np.testing.assert_array_equal(t.dw[:, :, 0, 1], 2 * x[1:3, 1:3])
    assert "filter 1 (b)" in out


def test_cli_dy_without_backward_and_bad_dy(capsys):
    assert run_cli(["--x", "1 2 3", "--w", "1 1", "--dy", "1 1"]) == 2
    assert "add --backward" in capsys.readouterr().err
    assert run_cli(["--x", "1 2 3", "--w", "1 1", "--backward", "--dy", "1 1 1"]) == 2
    assert "dy must have the shape of the output, (OW,) = (2,)" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Max pool: routing, ties included
# ---------------------------------------------------------------------------
def numpy_maxpool_backward(x, dy, pool, stride):
    """First maximum in row-major window order takes dy (np.argmax returns the first)."""
    H, W, C = x.shape
    OH, OW = (H - pool) // stride + 1, (W - pool) // stride + 1
    dx = np.zeros_like(x)
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                win = x[i * stride:i * stride + pool, j * stride:j * stride + pool, c]
                a, b = divmod(int(np.argmax(win)), pool)
                dx[i * stride + a, j * stride + b, c] += dy[i, j, c]
    return dx


@pytest.mark.parametrize("pool, stride", [(2, 2), (2, 1), (3, 2)])
def test_maxpool_trace_matches_numpy_and_engine_with_ties(pool, stride):
    rng = np.random.default_rng(pool * 10 + stride)
    x = rng.integers(0, 3, size=(6, 5, 2)).astype(float)  # values 0..2: many ties
    OH, OW = (6 - pool) // stride + 1, (5 - pool) // stride + 1
    dy = rng.integers(1, 5, size=(OH, OW, 2)).astype(float)
    t = maxpool_backward_trace(x, pool, stride, dy)
    np.testing.assert_array_equal(t.dx, numpy_maxpool_backward(x, dy, pool, stride))
    _y, cache = maxpool2d_forward(x[None], pool, stride)
    np.testing.assert_array_equal(t.dx, maxpool2d_backward(dy[None], cache)[0])
    assert t.agrees
    assert sum("a tie between" in line for line in t.windows) > 0


def test_maxpool_tie_text_by_hand():
    x = [[1, 3, 2, 2], [4, 4, 2, 2], [0, 1, 5, 6], [1, 1, 7, 0]]
    t = maxpool_backward_trace(x, dy=[[1, 2], [3, 4]])
    text = t.to_text()
    assert ("y[0,0] = max(1, 3, 4, 4) = 4, window rows 0..1, cols 0..1: a tie between x[1,0], x[1,1]; "
            "the first in row-major order, x[1,0], takes dy[0,0] = 1 and x[1,1] gets 0") in text
    assert "y[1,1] = max(5, 6, 7, 0) = 7, window rows 2..3, cols 2..3: dx[3,2] += dy[1,1] = 4" in text
    assert explain.TIE_RULE in text
    np.testing.assert_array_equal(t.dx, [[0, 0, 2, 0], [1, 0, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]])
    # overlapping windows: a cell that wins twice receives the sum
    t2 = maxpool_backward_trace([[1, 3, 2], [4, 4, 2], [0, 1, 5]], stride=1, dy=[[1, 2], [3, 4]])
    assert "dx[1,0] = dy[0,0] + dy[1,0]" in t2.to_text()
    assert t2.dx[1, 0] == 4 and "### Window by window" in t2.to_markdown()


# ---------------------------------------------------------------------------
# Dense: dW = x^T dy for the 2x3 case
# ---------------------------------------------------------------------------
def test_dense_trace_2x3_case():
    t = dense_backward_trace(**DENSE_EXAMPLE, dy=[[1, -1], [2, 0.5]])
    x = np.array(DENSE_EXAMPLE["x"], float)
    w = np.array(DENSE_EXAMPLE["w"], float)
    dy = np.array([[1, -1], [2, 0.5]])
    np.testing.assert_array_equal(t.dw, x.T @ dy)
    np.testing.assert_array_equal(t.dx, dy @ w.T)
    np.testing.assert_array_equal(t.db, dy.sum(axis=0))
    assert t.agrees
    text = t.to_text()
    assert "dW[0,0] = x[0,0]*dy[0,0] + x[1,0]*dy[1,0]" in text and "= 1*1 + 4*2 = 9" in text
    assert "dW[2,1] = x[0,2]*dy[0,1] + x[1,2]*dy[1,1]" in text and "= 3*(-1) + 6*0.5 = 0" in text
    assert "dx = dy . W^T" in text and "x^T:" in text
    assert "### dW" in t.to_markdown()


def test_dense_bad_shapes():
    with pytest.raises(ValueError, match=r"x must be \(N, D\) and w \(D, U\) with the same D"):
        dense_backward_trace(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(N, U\) = \(2, 2\)"):
        dense_backward_trace(np.ones((2, 3)), np.ones((3, 2)), dy=np.ones(2))


def test_every_number_in_a_trace_line_recomputes_its_value():
    """Parse the numeric lines of a text trace and redo each sum: the text itself is right."""
    rng = np.random.default_rng(4)
    t = conv2d_backward_trace(rng.integers(-3, 4, (4, 4)).astype(float),
                              rng.integers(-2, 3, (3, 3)).astype(float), stride=1, padding="same",
                              dy=rng.integers(-2, 3, (4, 4)).astype(float))
    checked = 0
    for line in t.to_text().splitlines():
        m = re.fullmatch(r"\s+= (.+) = (-?[\d.]+)", line)
        if m and "*" in m.group(1):
            products = [p.strip() for p in m.group(1).split(" + ")]
            total = sum(float(a.strip("()")) * float(b.strip("()")) for a, b in (p.split("*") for p in products))
            assert total == float(m.group(2)), line
            checked += 1
    assert checked == 9 + 16  # one line per dW entry and per dx entry (db's terms are not products)


def test_text_file_with_dy_per_filter(tmp_path, capsys):
    case = tmp_path / "case.txt"
    case.write_text("x: 1 2 0; 0 1 3; 2 2 1\nw.a.0: 1 0; 0 1\nw.b.0: 0 1; 1 0\n"
                    "dy.a: 1 0; 0 0\ndy.b: 0 0; 0 2\n")
    assert run_cli([str(case), "--backward"]) == 0
    out = capsys.readouterr().out
    x = np.array([[1, 2, 0], [0, 1, 3], [2, 2, 1]], float)
    t = explain.backward_trace_from_spec(explain.load_trace_text(case))
    np.testing.assert_array_equal(t.dw[:, :, 0, 0], x[0:2, 0:2])      # only dy[0,0] of filter a is 1
    np.testing.assert_array_equal(t.dw[:, :, 0, 1], 2 * x[1:3, 1:3])  # only dy[1,1] of filter b is 2
    assert "dW[0,0,0,1] = x[0,0]*dy[0,0,1] + x[0,1]*dy[0,1,1] + x[1,0]*dy[1,0,1] + x[1,1]*dy[1,1,1]" in out
