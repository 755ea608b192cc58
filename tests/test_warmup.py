"""The install-time warm-up (python -m minicnn.kernels.warmup) reaches every Numba kernel."""
import numpy as np
from numba.core.registry import CPUDispatcher

from minicnn.kernels import adam, numba_impl, warmup, winograd, winograd4


def dispatchers():
    """Every compiled kernel of the numba backend, by name (not the inlined helper)."""
    found = {}
    for module in (numba_impl, winograd, winograd4, adam):
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and name != "_real_cells_jit":
                found[f"{module.__name__.rsplit('.', 1)[1]}.{name}"] = obj
    return found


def test_warmup_compiles_every_kernel_for_float32_and_float64():
    kernels_found = dispatchers()
    assert len(kernels_found) >= 21  # im2col (2), col2im, pooling (4), ReLU (2), BatchNorm (3), Winograd (2 x 4), Adam
    warmup.compile_kernels(verbose=False)
    for name, dispatcher in kernels_found.items():
        dtypes = {str(arg.dtype) for sig in dispatcher.signatures for arg in sig if hasattr(arg, "dtype")}
        assert {"float32", "float64"} <= dtypes, f"{name} was not compiled for both float types: {dtypes}"


def test_tiny_net_trains_one_step():
    from minicnn.train import train_step
    model = warmup.tiny_net(seed=1)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)
    before = [w.copy() for w in model.get_weights()]
    loss, out = train_step(model, x, np.arange(4))
    assert np.isfinite(loss) and out.shape == (4, 4)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
