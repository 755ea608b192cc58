"""What the benchmark scripts print and draw (tiny sizes: these are not timings)."""
import importlib.util
import subprocess
import sys


from conftest import REPO


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_figure_draws_the_given_times(tmp_path):
    bench = load_script("bench_kernels")
    rows = [("conv1", "numba", (2.0, 1.9), (4.0, 3.8), 0.1, "-", "-"),
            ("conv1", "numpy", (3.0, 2.9), (9.0, 8.0), 0.1, "-", "-"),
            ("pool1", "numba", (0.5, 0.4), (0.2, 0.2), None, "-", "-"),
            ("pool1", "numpy", (5.0, 4.0), (2.5, 2.0), None, "-", "-")]
    reference = {"conv1": (300.0, 900.0), "pool1": (40.0, 20.0)}
    path = tmp_path / "kernels.png"
    fig = bench.draw_figure(rows, reference, path, "test machine; load average 0.5", images=2, batch=8)
    assert path.stat().st_size > 10_000
    forward, backward = fig.axes
    assert forward.get_yscale() == "log" and "lower is faster" in forward.get_ylabel()
    # bars in backend order reference, numpy, numba; layers conv1, pool1
    heights = [p.get_height() for p in forward.patches]
    assert heights == [300.0, 40.0, 3.0, 5.0, 2.0, 0.5]
    assert [p.get_height() for p in backward.patches] == [900.0, 20.0, 9.0, 2.5, 4.0, 0.2]
    title = fig._suptitle.get_text()
    assert "load average 0.5" in title and "PyTorch not installed" in title
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "reference (pure Python loops), timed on 2 image(s) x 4"
    assert any(t.startswith("Numba") for t in legend) and any(t.startswith("NumPy") for t in legend)


def test_augment_output_explains_the_budget_column(capsys):
    bench = load_script("bench_augment")
    bench.main(["--repeats", "1", "--batch", "4"])
    out = capsys.readouterr().out
    assert f"within {bench.BUDGET_MS} ms" in out
    assert "10 % of one PW09 training step" in out and "124 ms" in out


def test_train_step_without_pytorch_says_so(tmp_path):
    # torch blocked in the child (sys.modules["torch"] = None makes `import torch` fail)
    code = ("import sys, runpy; sys.modules['torch'] = None; "
            "sys.argv = ['bench_train_step.py', '--repeats', '1', '--batch', '2', '--predict-batch', '3', "
            "'--epoch-images', '0']; "
            f"runpy.run_path({str(REPO / 'benchmarks' / 'bench_train_step.py')!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    nets = ("PW09", "tiny VGG", "tiny VGG + BN", "Ex08")
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and line.split(" | ")[0][2:] in nets]
    assert len(rows) == 2 * len(nets)  # training step and inference tables
    assert all("PyTorch not installed" in row and "| load " in row for row in rows)
