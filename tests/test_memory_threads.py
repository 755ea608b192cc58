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
