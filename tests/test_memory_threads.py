"""The process-level performance settings: malloc thresholds and BLAS threads."""
import subprocess
import sys

import pytest

CODE = "import minicnn.memory as m; print(m.keep_freed_memory(), m.keep_freed_memory())"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_keep_freed_memory_applies_once_and_can_be_disabled():
    on = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert on.stdout.split() == ["True", "True"]
    off = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True,
                         env={"MINICNN_KEEP_MEMORY": "0", "PATH": ""})
    assert off.stdout.split() == ["False", "False"]


def test_single_threaded_blas_restores_the_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from minicnn.ops.conv import single_threaded_blas

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    with single_threaded_blas():  # the first call loads SciPy's BLAS too (Numba's): count it in `before`
        pass
    before = blas_threads()
    with single_threaded_blas():
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_training_gives_the_same_weights_bit_for_bit_on_one_or_two_workers(monkeypatch):
    """Same seed, same weights, whatever the worker count: Winograd and im2col convs (dW summed in chunk
    order), ReLU and pooling split over the workers, BatchNorm, dropout, Dense, Adam (a few steps)."""
    import numpy as np

    from minicnn.kernels.warmup import tiny_net
    from minicnn.ops import conv as conv_module
    from minicnn.train import train_step

    rng = np.random.default_rng(0)
    x = rng.random((6, 8, 8, 3)).astype(np.float32)
    y = np.arange(6) % 4
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)        # one image per chunk: many chunks
    monkeypatch.setattr(conv_module, "WINOGRAD_CHUNK_BYTES", 1)  # (in the Winograd layers too)
    monkeypatch.setattr(conv_module, "PARALLEL_MIN_SIZE", 1)  # split even these small arrays
    weights = {}
    for workers in (1, 2):
        monkeypatch.setattr(conv_module, "WORKERS", workers)
        model = tiny_net(seed=3)
        model.compile("adam", "sparse_categorical_crossentropy")
        for _ in range(3):
            train_step(model, x, y)
        weights[workers] = model.get_weights()
    assert len(weights[1]) == len(weights[2]) > 10
    for a, b in zip(weights[1], weights[2]):
        np.testing.assert_array_equal(a, b)
