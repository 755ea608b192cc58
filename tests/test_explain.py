"""Tests of minicnn.explain: every trace is compared with a hand computation or
an independent implementation (NumPy windows, np.convolve, the engine's op)."""
import argparse
import json
import re
import zlib

import numpy as np
import pytest

from minicnn import explain
from minicnn.explain import conv1d_trace, conv2d_trace, output_size_explained
from minicnn.explain.trace import _factor
from minicnn.ops.shapes import resolve_padding_2d


# ---------------------------------------------------------------------------
# An independent reference: pad, take every window with NumPy, contract.
# ---------------------------------------------------------------------------
def direct_conv2d(x, w, b, stride, padding):
    """x: (H, W, C); w: (KH, KW, C, F); b: (F,) -> (OH, OW, F), cross-correlation."""
    SH, SW = (stride, stride) if isinstance(stride, int) else stride
    (top, bottom, left, right), (OH, OW) = resolve_padding_2d(
        x.shape[:2], w.shape[:2], (SH, SW), padding)
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, w.shape[:2], axis=(0, 1))
    windows = windows[::SH, ::SW][:OH, :OW]  # (OH, OW, C, KH, KW)
    return np.einsum("ijcuv,uvcf->ijf", windows, w) + b


PADDINGS = ["valid", "same", 0, 1, 2, (1, 2), (2, 0)]


def random_case(rng):
    H, W = rng.integers(3, 8, size=2)
    C, F = rng.integers(1, 4), rng.integers(1, 4)
    KH, KW = rng.integers(1, 4, size=2)
    x = rng.integers(-3, 4, size=(H, W, C)).astype(float)
    w = rng.integers(-2, 3, size=(KH, KW, C, F)).astype(float)
    b = rng.integers(-2, 3, size=F).astype(float)
    return x, w, b


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2), (3, 1)])
def test_random_cases_match_direct_numpy(stride, padding):
    rng = np.random.default_rng(zlib.crc32(f"{stride}{padding}".encode()))  # stable seed
    for _ in range(4):
        x, w, b = random_case(rng)
        trace = conv2d_trace(x, w, b, stride=stride, padding=padding)
        np.testing.assert_allclose(trace.output, direct_conv2d(x, w, b, stride, padding))


@pytest.mark.parametrize("padding", ["valid", "same", 1])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_matches_engine_conv2d_forward(stride, padding):
    from minicnn.ops.conv import conv2d_forward
    rng = np.random.default_rng(7 + stride)
    for _ in range(3):
        x, w, b = random_case(rng)
        y, _cache = conv2d_forward(x[None], w, b, strides=stride, padding=padding)
        trace = conv2d_trace(x, w, b, stride=stride, padding=padding)
        np.testing.assert_allclose(trace.output, np.asarray(y)[0], rtol=1e-5, atol=1e-5)


def test_matches_torch_conv2d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w, b = random_case(rng)
    for stride, padding in [(1, 0), (2, 1), (3, 2)]:
        y = torch.nn.functional.conv2d(
            torch.tensor(x.transpose(2, 0, 1)[None]), torch.tensor(w.transpose(3, 2, 0, 1)),
            torch.tensor(b), stride=stride, padding=padding)
        trace = conv2d_trace(x, w, b, stride=stride, padding=padding)
        np.testing.assert_allclose(trace.output, y[0].numpy().transpose(1, 2, 0))


# ---------------------------------------------------------------------------
# Hand-computed cases
# ---------------------------------------------------------------------------
def test_hand_case_2d_stride2_padding1():
    x = np.array([[1, 2, 0],
                  [3, 4, 1],
                  [1, 1, 1]])
    w = np.array([[1, 0],
                  [0, -1]])
    # Padded with one ring of zeros (5x5):     windows of 2x2 start at rows/cols 0 and 2
    #   0 0 0 0 0                               out = (3 + 2*1 - 2) // 2 + 1 = 2
    #   0 1 2 0 0
    #   0 3 4 1 0
    #   0 1 1 1 0
    #   0 0 0 0 0
    # out[0,0]: [[0,0],[0,1]] -> 0*1 + 0*0 + 0*0 + 1*(-1) = -1, + bias 1 = 0
    # out[0,1]: [[0,0],[2,0]] -> 0*1 + 0*0 + 2*0 + 0*(-1) =  0, + bias 1 = 1
    # out[1,0]: [[0,3],[0,1]] -> 0*1 + 3*0 + 0*0 + 1*(-1) = -1, + bias 1 = 0
    # out[1,1]: [[4,1],[1,1]] -> 4*1 + 1*0 + 1*0 + 1*(-1) =  3, + bias 1 = 4
    trace = conv2d_trace(x, w, b=[1], stride=2, padding=1)
    np.testing.assert_array_equal(trace.output[..., 0], [[0, 1], [0, 4]])
    text = str(trace)
    assert "out[f=0][1,1] = 4*1 + 1*0 + 1*0 + 1*(-1) + bias 1 = 4" in text
    assert "out[f=0][0,0] = 0*1 + 0*0 + 0*0 + 1*(-1) + bias 1 = 0" in text
    assert "= floor((3 + 2*1 - 2) / 2) + 1 = floor(1.5) + 1 = 2" in text
    step = trace.steps[3]
    assert (step.rows, step.cols) == ((2, 3), (2, 3))
    np.testing.assert_array_equal(step.products[..., 0], [[4, 0], [0, -1]])


def test_hand_case_1d_stride2_padding1():
    # padded: 0 1 2 3 4 5 0; windows of 3 start at 0, 2, 4: (5 + 2*1 - 3) / 2 + 1 = 3
    # [0,1,2].[1,0,-1] = -2 ; [2,3,4] -> 2 - 4 = -2 ; [4,5,0] -> 4 - 0 = 4
    trace = conv1d_trace([1, 2, 3, 4, 5], [1, 0, -1], stride=2, padding=1)
    np.testing.assert_array_equal(trace.output, [-2, -2, 4])
    text = trace.to_text()
    assert "out[1] = 2*1 + 3*0 + 4*(-1) + bias 0 = -2" in text
    assert "out = (n + 2P - K) / S + 1 = (5 + 2*1 - 3) / 2 + 1 = 3" in text


@pytest.mark.parametrize("stride, padding, expected, size_text", [
    # x = 1 2 3 4 5, w = 1 0 -1: each window [a, b, c] gives a - c
    (1, 0, [-2, -2, -2], "(5 + 2*0 - 3) / 1 + 1 = 3"),
    (2, 0, [-2, -2], "(5 + 2*0 - 3) / 2 + 1 = 2"),
    (4, 0, [-2], "floor((5 + 2*0 - 3) / 4) + 1 = floor(0.5) + 1 = 1"),
    (1, 1, [-2, -2, -2, -2, 4], "(5 + 2*1 - 3) / 1 + 1 = 5"),  # padded 0 1 2 3 4 5 0: last [4, 5, 0] -> 4
    (4, 1, [-2, 4], "(5 + 2*1 - 3) / 4 + 1 = 2"),
])
def test_hand_cases_1d_pw08_settings(stride, padding, expected, size_text):
    """PW08 ex. 1a's five (S, P) settings on a 1-D example (the figure's own numbers are not in our text)."""
    trace = conv1d_trace([1, 2, 3, 4, 5], [1, 0, -1], stride=stride, padding=padding)
    np.testing.assert_array_equal(trace.output, expected)
    assert size_text in trace.to_text()


def test_cli_help_explains_usage(capsys):
    parser = argparse.ArgumentParser(prog="minicnn trace-conv")
    explain.add_trace_conv_arguments(parser)
    help_text = parser.format_help()
    for words in ("--x", "--w", "--example", "pw08_2d", "B planes are missing", "same", "convolution",
                  "output-size", "examples:"):
        assert words in help_text, words


def test_pw08_example_red_and_green_planes_by_hand():
    spec = explain.load_trace_json(explain.EXAMPLES_DIR / "pw08_2d.json")
    trace = explain.trace_from_spec(spec)
    assert trace.output.shape == (3, 3, 2)  # (4 - 2) / 1 + 1 = 3, two filters
    assert trace.channel_names == ["R", "G", "B"]
    # The example's B planes are zeros (missing from our text), so only R and G count.
    # filter 1 at (0,0): R [[2,1],[2,0]].[[1,1],[0,0]] = 3 ; G [[0,2],[0,2]].[[1,0],[0,1]] = 2 ; +1 -> 6
    # filter 2 at (0,0): R [[2,1],[2,0]].[[0,1],[1,0]] = 1 + 2 = 3 ; G .[[-1,0],[0,1]] = 0 + 2 = 2 ; -1 -> 4
    # filter 1 at (2,2): R [[1,2],[1,0]].[[1,1],[0,0]] = 3 ; G [[2,0],[0,2]].[[1,0],[0,1]] = 4 ; +1 -> 8
    assert trace.output[0, 0, 0] == 6
    assert trace.output[0, 0, 1] == 4
    assert trace.output[2, 2, 0] == 8
    x = np.stack([np.array(spec["x"][c]) for c in "RGB"], axis=-1)
    assert x[0, 3, 0] == 2 and x[3, 3, 2] == 2  # planes read in the order of the text
    assert spec["b"] == [1, -1] and "note" in spec
    # the note is honest about what our copy of the text lacks
    assert spec["missing"] == ["w.Filter1.B", "w.Filter2.B"] and "NOT in our copy" in spec["note"]
    assert trace.filter_names == ["Filter1", "Filter2"]
    np.testing.assert_array_equal(trace.kernel[..., 2, :], 0)


# ---------------------------------------------------------------------------
# The printed products are the ones that give the output
# ---------------------------------------------------------------------------
def test_text_contains_every_product_and_recomputes_output():
    rng = np.random.default_rng(0)
    x, w, b = random_case(rng)
    trace = conv2d_trace(x, w, b, stride=2, padding="same")
    text = trace.to_text()
    for s in trace.steps:
        for a, k in zip(s.window.ravel(), s.kernel.ravel()):
            assert f"{_factor(a)}*{_factor(k)}" in text
    # Each "out[...] = <products> + bias b = ..." line evaluates back to the output.
    lines = [ln.strip() for ln in text.splitlines() if re.match(r"\s+out\[f=\d+\]\[\d+,\d+\] = ", ln)]
    assert len(lines) == len(trace.steps)
    for line in lines:
        f, i, j = map(int, re.match(r"out\[f=(\d+)\]\[(\d+),(\d+)\]", line).groups())
        products, rest = line.split(" = ", 1)[1].split(" + bias ")
        bias = float(rest.split(" ")[0])
        assert eval(products) + bias == pytest.approx(trace.output[i, j, f])


def test_markdown_has_tables_and_steps():
    trace = conv2d_trace(np.arange(9.0).reshape(3, 3), np.ones((2, 2)), b=[0.5])
    md = trace.to_markdown()
    assert md.startswith("## Convolution trace")
    assert "| **row 0** | 0 | 1 | 2 |" in md  # the input plane as a table
    assert "`out[f=0][0,0] = 0*1 + 1*1 + 3*1 + 4*1 + bias 0.5 = 8.5`" in md


# ---------------------------------------------------------------------------
# Convolution mode = cross-correlation with the flipped kernel
# ---------------------------------------------------------------------------
def test_convolution_mode_is_flipped_cross_correlation():
    rng = np.random.default_rng(1)
    for stride, padding in [(1, 0), (2, 1), (1, "same")]:
        x, w, b = random_case(rng)
        conv = conv2d_trace(x, w, b, stride, padding, mode="convolution")
        corr = conv2d_trace(x, w[::-1, ::-1], b, stride, padding)
        np.testing.assert_array_equal(conv.output, corr.output)
        assert "flipped" in conv.to_text()


def test_1d_modes_match_numpy_convolve_and_correlate():
    x = np.array([3.0, -1, 2, 5, 0, 1])
    w = np.array([1.0, 2, -1])
    np.testing.assert_array_equal(conv1d_trace(x, w, mode="convolution").output,
                                  np.convolve(x, w, "valid"))
    np.testing.assert_array_equal(conv1d_trace(x, w).output, np.correlate(x, w, "valid"))
    # padding K - 1 on both sides is numpy's "full"
    np.testing.assert_array_equal(conv1d_trace(x, w, padding=2, mode="convolution").output,
                                  np.convolve(x, w, "full"))


# ---------------------------------------------------------------------------
# The output-size formula
# ---------------------------------------------------------------------------
def test_output_size_formula_text():
    assert output_size_explained(5, 3, 2, 1) == \
        "out = (n + 2P - K) / S + 1 = (5 + 2*1 - 3) / 2 + 1 = 3"
    text = output_size_explained(6, 3, 2, 0)  # (6 - 3) / 2 = 1.5 -> floor -> 1, + 1 = 2
    assert "floor((6 + 2*0 - 3) / 2) + 1 = floor(1.5) + 1 = 2" in text
    assert "not divisible by S = 2" in text and "dropped" in text
    same = output_size_explained(5, 3, 2, "same")  # ceil(5/2) = 3, total (3-1)*2 + 3 - 5 = 2
    assert "ceil(5 / 2) = 3" in same and "= 2 -> 1 before, 1 after" in same
    odd = output_size_explained(4, 2, 1, "same")  # total 1: TensorFlow puts it after
    assert "0 before, 1 after" in odd and "(4 + 0 + 1 - 2) / 1 + 1 = 4" in odd
    assert output_size_explained(4, 2, 1, "valid").endswith("(4 + 2*0 - 2) / 1 + 1 = 3")


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
def test_channel_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"x has 3 channel.*x.shape=\(4, 4, 3\).*w.shape=\(2, 2, 2, 1\)"):
        conv2d_trace(np.zeros((4, 4, 3)), np.zeros((2, 2, 2, 1)))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"conv2d_trace: kernel w \(5x5\) is larger than the padded input"):
        conv2d_trace(np.zeros((3, 3)), np.zeros((5, 5)), padding=0)
    conv2d_trace(np.zeros((3, 3)), np.zeros((5, 5)), padding=1)  # fits once padded
    with pytest.raises(ValueError, match="larger than the padded input"):
        output_size_explained(3, 4, 1, 0)


@pytest.mark.parametrize("stride", [0, -1, (1, 0)])
def test_non_positive_stride(stride):
    with pytest.raises(ValueError, match="stride"):
        conv2d_trace(np.zeros((3, 3)), np.zeros((2, 2)), stride=stride)
    if not isinstance(stride, tuple):
        with pytest.raises(ValueError, match="stride"):
            conv1d_trace(np.zeros(4), np.zeros(2), stride=stride)


def test_bad_bias_rank_and_mode():
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        conv2d_trace(np.zeros((3, 3, 1)), np.zeros((2, 2, 1, 2)), b=[1, 2, 3])
    with pytest.raises(ValueError, match="mode"):
        conv2d_trace(np.zeros((3, 3)), np.zeros((2, 2)), mode="conv")
    with pytest.raises(ValueError, match=r"x must be \(H, W, C\)"):
        conv2d_trace(np.zeros((1, 3, 3, 1)), np.zeros((2, 2)))


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------
def _run_direct(argv):
    """The trace-conv sub-command without the rest of the CLI."""
    parser = argparse.ArgumentParser()
    explain.add_trace_conv_arguments(parser)
    return explain.run_trace_conv(parser.parse_args(argv))


def _cli_main():
    try:
        from minicnn import cli, demo  # noqa: F401  (cli.main imports demo first)
    except ImportError:
        return _run_direct  # minicnn.demo not written yet: same parser, same runner
    return lambda argv: cli.main(["trace-conv"] + argv)


@pytest.fixture
def spec_file(tmp_path):
    spec = {"x": {"R": [[1, 2], [3, 4]], "G": [[0, 1], [1, 0]]},
            "w": {"f1": {"G": [[1, 0], [0, 1]], "R": [[1, 1], [1, 1]]}},
            "b": [1], "stride": 1, "padding": 0}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(spec))
    return path


def test_cli_json_per_channel(spec_file, capsys):
    # R: 1+2+3+4 = 10 ; G (matched by name, though listed first in the filter): 0*1 + 1*0 + 1*0 + 0*1 = 0
    assert _cli_main()([str(spec_file)]) == 0
    out = capsys.readouterr().out
    assert "out[f=0][0,0] = (1*1 + 2*1 + 3*1 + 4*1) + (0*1 + 1*0 + 1*0 + 0*1) + bias 1 = 10 + 0 + 1 = 11" in out
    assert "channels in order R, G" in out


def test_cli_text_file_same_as_json(spec_file, tmp_path, capsys):
    text = tmp_path / "case.txt"
    text.write_text("# the JSON case, written as key: numbers lines\n"
                    "x.R: 1 2; 3 4\nx.G: 0 1; 1 0\n\n"
                    "w.f1.G: 1 0; 0 1   # channels matched by name\nw.f1.R: 1 1; 1 1\n"
                    "b: 1\nstride: 1\npadding: 0\n")
    assert _cli_main()([str(text)]) == 0
    from_text = capsys.readouterr().out
    assert _cli_main()([str(spec_file)]) == 0
    assert from_text == capsys.readouterr().out
    spec = explain.load_trace_text(text)
    assert spec["x"]["R"] == [[1, 2], [3, 4]] and spec["b"] == 1 and spec["padding"] == 0
    one = tmp_path / "one.txt"
    one.write_text("x: 1 2 3 4 5\nw: 1 0 -1\nstride: 2\npadding: 1\nmode: convolution\n")
    trace = explain.trace_from_spec(explain.load_trace_file(one))
    np.testing.assert_array_equal(trace.output, [2, 2, -4])  # flipped kernel -1 0 1: c - a per window
    bad = tmp_path / "bad.txt"
    bad.write_text("x: 1 2 3\nkernel: 1 0\n")
    assert _cli_main()([str(bad)]) == 2
    assert "line 2: unknown key 'kernel'" in capsys.readouterr().err


def test_cli_inline_1d_markdown_and_overrides(capsys):
    argv = ["--x", "1 2 3 4 5", "--w", "1 0 -1", "--stride", "2", "--padding", "1",
            "--format", "markdown"]
    assert _cli_main()(argv) == 0
    out = capsys.readouterr().out
    assert "`out[1] = 2*1 + 3*0 + 4*(-1) + bias 0 = -2`" in out
    assert "(5 + 2*1 - 3) / 2 + 1 = 3" in out


def test_cli_example_and_mode(capsys):
    assert _cli_main()(["--example", "pw08_2d", "--mode", "convolution", "--stride", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Note: Reading of the figure")
    assert "kernel (flipped), filter 1 (Filter2), channel G" in out  # the course's filter names
    assert "output, filter 0 (Filter1):" in out


def test_cli_bad_input_exit_code(spec_file, capsys):
    assert _cli_main()([str(spec_file), "--stride", "0"]) == 2
    assert "stride" in capsys.readouterr().err
    assert _cli_main()(["--x", "1 2 3"]) == 2
    assert "--x and --w" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Property test over shapes (hypothesis), and the smaller input forms
# ---------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(H=st.integers(1, 6), W=st.integers(1, 6), C=st.integers(1, 3), F=st.integers(1, 3),
                  KH=st.integers(1, 3), KW=st.integers(1, 3), SH=st.integers(1, 3), SW=st.integers(1, 3),
                  padding=st.sampled_from(["valid", "same", 0, 1, 2, (0, 1), (2, 1)]),
                  seed=st.integers(0, 2**16))
def test_property_matches_direct_numpy(H, W, C, F, KH, KW, SH, SW, padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=(H, W, C)).astype(float)
    w = rng.integers(-2, 3, size=(KH, KW, C, F)).astype(float)
    b = rng.integers(-2, 3, size=F).astype(float)
    try:
        expected = direct_conv2d(x, w, b, (SH, SW), padding)
    except ValueError:  # the window does not fit: the tracer must refuse too
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv2d_trace(x, w, b, (SH, SW), padding)
        return
    trace = conv2d_trace(x, w, b, (SH, SW), padding)
    np.testing.assert_array_equal(trace.output, expected)
    assert len(trace.steps) == expected.size


def test_small_input_forms_and_same_padding_split():
    # one channel (H, W) and one filter (KH, KW): output (OH, OW, 1)
    t = conv2d_trace(np.ones((4, 4)), np.ones((2, 2)), padding="same")
    # "same", n = 4, K = 2, S = 1: total padding 1 -> 0 before, 1 after (bottom / right)
    assert t.pads == (0, 1, 0, 1) and t.output.shape == (4, 4, 1)
    assert "top 0, bottom 1, left 0, right 1" in t.to_text()
    # bottom-right corner: window [[1, 0], [0, 0]] -> 1
    assert t.output[3, 3, 0] == 1 and t.output[0, 0, 0] == 4
    # (KH, KW, C) kernel = one filter over C channels
    t3 = conv2d_trace(np.ones((3, 3, 2)), np.ones((2, 2, 2)), b=0.5)
    np.testing.assert_array_equal(t3.output, np.full((2, 2, 1), 8.5))  # 8 products of 1, + 0.5
    # 1-D from a JSON-like spec: flat lists
    t1 = explain.trace_from_spec({"x": [1, 2, 3], "w": [1, -1], "mode": "convolution"})
    np.testing.assert_array_equal(t1.output, np.convolve([1, 2, 3], [1, -1], "valid"))  # [1, 1]
