"""trace-conv's bad-input messages (issue 16): each names what is wrong in the
student's terms, not the tracer's internal 2-D/4-D shapes; and ``minicnn --help``
shows a user-facing description."""
import json

import pytest

from minicnn import cli


def run(argv, capsys):
    code = cli.main(["trace-conv"] + argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_1d_kernel_longer_than_input_speaks_1d(capsys):
    code, err = run(["--x", "1 2", "--w", "1 0 -1 2"], capsys)
    assert code == 2
    assert "the kernel (length 4) is longer than the padded input (length 2 + padding 0 + 0 = 2)" in err
    for internal in ("1x4", "1x2", "x.shape", "w.shape", "(1, 4, 1, 1)"):
        assert internal not in err


def test_2d_kernel_on_1d_input(capsys):
    code, err = run(["--x", "1 2 3 4", "--w", "1 0; 0 1"], capsys)
    assert code == 2
    assert "2-D kernel on 1-D input" in err
    assert "channel" not in err  # not a channel mismatch


@pytest.mark.parametrize("argv", [["--x", "1 2 3 4", "--w", "1 0"], ["--x", "1 2; 3 4", "--w", "1 0; 0 1"]])
def test_stride_zero(argv, capsys):
    code, err = run(argv + ["--stride", "0"], capsys)
    assert code == 2
    assert "stride must be >= 1" in err
    assert "(1, 0)" not in err


def test_stride_zero_in_a_file(tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"x": [1, 2, 3], "w": [1, 1], "stride": 0}))
    code, err = run([str(path)], capsys)
    assert code == 2 and "stride must be >= 1, got 0" in err and "(1, 0)" not in err


def test_empty_input(capsys):
    code, err = run(["--x", "", "--w", "1 0"], capsys)
    assert code == 2 and "--x is empty" in err
    code, err = run(["--x", "1 2", "--w", " ; "], capsys)
    assert code == 2 and "--w is empty" in err


def test_empty_input_in_json(tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"x": [], "w": [1]}))
    code, err = run([str(path)], capsys)
    assert code == 2 and "the input x is empty" in err


def test_unknown_example_lists_the_examples(capsys):
    code, err = run(["--example", "pw99"], capsys)
    assert code == 2
    assert "no bundled example 'pw99'; the examples are: pw08_2d" in err


@pytest.mark.parametrize("spec, field", [
    ({"x": [1, "a", 3], "w": [1, 0]}, "'x'"),
    ({"x": [[1, 2], [3]], "w": [1, 0]}, "'x'"),
    ({"x": [1, 2, 3], "w": [1, None]}, "'w'"),
    ({"x": [1, 2, 3], "w": [1, 0], "b": "one"}, "'b'"),
    ({"x": [1, 2, 3], "w": [1, 0], "stride": "two"}, "'stride'"),
    ({"x": {"R": [[1, 2], [3, "q"]]}, "w": [[[1]]]}, "'x.R'"),
    ({"x": {"R": [[1, 2], [3, 4]]}, "w": {"f1": {"R": [[1, "z"]]}}}, "'w.f1.R'"),
    ({"x": [1, 2, 3], "w": [1, 0], "dy": ["a", 1]}, "'dy'"),
])
def test_json_field_that_is_not_numbers_is_named(spec, field, tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(spec))
    argv = [str(path)] + (["--backward"] if "dy" in spec else [])
    code, err = run(argv, capsys)
    assert code == 2
    assert f"field {field} must" in err, err
    assert "could not convert" not in err.split("(")[0]  # NumPy's words are not the message's start


def test_help_shows_a_user_facing_description(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "only wires" not in out and "Each sub-command lives" not in out
    assert "a from-scratch CNN engine" in out
    assert "minicnn COMMAND -h" in out
