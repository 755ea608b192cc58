"""2-D convolution (cross-correlation, like every DL library) as im2col + GEMM.

Shapes, with one symbol set:

    x: (N, H, W, C)   w: (KH, KW, C, F)   b: (F,)   y: (N, OH, OW, F)

The idea: unfold every receptive field of x into one row of a matrix

    cols: (N*OH*OW, KH*KW*C)        (column order kh, kw, c)

and then the whole convolution is one matrix product,

    y.reshape(N*OH*OW, F) = cols @ w.reshape(KH*KW*C, F) + b,

already in NHWC order. The backward pass is two more products,

    dW = cols.T @ dy_rows                 (KH*KW*C, F)
    dcols = dy_rows @ w_mat.T             (N*OH*OW, KH*KW*C)  -> col2im -> dx

where col2im adds each row back onto its window (the adjoint of im2col).

Why chunks: the full column matrix is KH*KW times bigger than x (151 MB for a
3x3 conv on 128 images of 32x32x32). Building it for a few images at a time,
in one reused buffer that stays in the CPU cache, and running the GEMMs per
chunk, is several times faster than building it whole, and the backward
pass *recomputes* the chunk's columns from x instead of keeping them: the
cache holds only x and w. Summing dW over chunks also keeps each GEMM's inner
dimension moderate (OpenBLAS can stall for seconds on ``cols.T @ dy`` with an
inner dimension of N*H*W on two threads).

Why threads: the chunks are independent, so one worker thread per core takes
chunks from a shared queue and runs im2col (Numba, releases the GIL) and its
GEMMs (BLAS, releases the GIL) on them, with BLAS limited to one thread
meanwhile. Measured on the 2-core course machine, this beats one chunk at a
time with 2-thread BLAS: the copies run in parallel too, and nobody waits for
BLAS threads to wake up between small calls. None of this changes the
arithmetic: with ``WORKERS = 1`` or a single chunk the same code runs inline.

Which method: with the numba kernels, a 3x3 stride-1 convolution on 8 or more
input channels (most layers of the course nets) is computed by Winograd's
F(4x4, 3x3) instead (``conv_winograd.py``: the same numbers up to rounding,
4 times fewer multiplications, about 2.2 times faster per layer than this
path; its smaller sibling F(2x2, 3x3), ``WINOGRAD_TILE = 2``, is easier to
read first); this im2col path stays the readable one, the one every other
layer shape uses, and the reference the tests hold Winograd to
(``WINOGRAD = False`` forces it).
"""
from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import nullcontext

import numpy as np

from .. import kernels
from .shapes import as_pair, check_padding, resolve_padding_2d

__all__ = ["conv2d_forward", "conv2d_backward", "CHUNK_BYTES", "WORKERS"]

#: Target size of one column buffer (per worker thread): about the L2 cache. Measured on the course
#: machine (1 MiB L2 per core): 0.5-1 MiB are equally fast, 2 MiB 10 % slower on the thin first layers,
#: 8 MiB and more 1.5x slower in the backward pass.
CHUNK_BYTES = 2**20
#: The same for Winograd's transformed tiles U and M: a whole training step (two threads) was 2-11 %
#: faster with 2 MiB than with 1 MiB (the 36 GEMMs of F(4x4) get more rows) and 3-10 % faster than with 4.
WINOGRAD_CHUNK_BYTES = 2**21
#: Compute 3x3 stride-1 convolutions with Winograd's method (``conv_winograd.py``), 2.25x or 4x fewer
#: multiplications, when the numba kernels are active and the input has at least WINOGRAD_MIN_CHANNELS
#: channels; False: always im2col + GEMM (the readable method above, and the reference for the tests).
WINOGRAD = True
#: With fewer input channels (an RGB or grey first layer) the 16 GEMMs over C are too thin to pay:
#: measured on the course machine, 3 channels ran faster with im2col (see benchmarks/README.md).
WINOGRAD_MIN_CHANNELS = 8
#: Output tile of the Winograd method: 2 for F(2x2, 3x3) (``kernels/winograd.py``, 16 products per 4
#: outputs), 4 for F(4x4, 3x3) (``kernels/winograd4.py``, 36 per 16 outputs, bigger transforms). Measured on
#: the course machine (one core, batch 128): F(4x4) takes 0.70-0.79x F(2x2)'s time on every 3x3 layer of the
#: course nets, forward and backward; its float32 errors, against a float64
#: computation, reach 3e-6 to 6e-6 of the largest output (F(2x2) and im2col: 2e-7 to 7e-7).
WINOGRAD_TILE = 4
#: Worker threads that process chunks side by side (one per core).
WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # what the kernels are compiled for
_pool = None  # (pid, ThreadPoolExecutor), created on first use in each process
_lock = threading.Lock()  # one threaded conv at a time (the BLAS limit is process-wide)
_blas = None  # threadpoolctl controller, created on first use (False: not installed)


def _images_per_chunk(N, OH, OW, K, itemsize):
    """How many images' columns fit in about CHUNK_BYTES (at least one)."""
    per_image = OH * OW * K * itemsize
    return int(max(1, min(N, CHUNK_BYTES // max(per_image, 1))))


def single_threaded_blas():
    """Context manager: BLAS uses one thread inside (our workers are the parallelism).

    Two workers each calling a 2-thread BLAS would fight over 2 cores; and
    OpenBLAS threads that spin between many small calls were measured to stall
    the Numba kernels in between by milliseconds. Needs ``threadpoolctl``
    (installed with scikit-learn); without it nothing is changed.
    """
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            try:  # Numba loads SciPy's BLAS on its first kernel call: load it now, so the controller sees it
                import scipy.linalg.cython_blas  # noqa: F401
            except ImportError:  # pragma: no cover - no SciPy, no second BLAS
                pass
            _blas = ThreadpoolController()  # it knows only the BLAS libraries loaded when it is made
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _blas = False
    return _blas.limit(limits=1, user_api="blas") if _blas else nullcontext()


def _for_each_chunk(N, step, work):
    """Run ``work(chunks)`` on every worker thread; return the list of their results.

    ``chunks`` is an iterator over ``(start, stop)`` image ranges of ``step``
    images, shared by the workers: each takes the next free chunk, so a worker
    slowed down by another program does less of the work. Each call of
    ``work`` owns its buffers. With one chunk or one core it runs inline.
    """
    todo = queue.SimpleQueue()
    for start in range(0, N, step):
        todo.put((start, min(start + step, N)))

    def chunks():
        while True:
            try:
                yield todo.get_nowait()
            except queue.Empty:
                return

    workers = min(WORKERS, -(-N // step))
    if workers == 1:
        return [work(chunks())]
    global _pool
    if _pool is None or _pool[0] != os.getpid():  # a forked child needs its own threads
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="minicnn-conv"))
    with _lock, single_threaded_blas():
        futures = [_pool[1].submit(work, chunks()) for _ in range(workers)]
        wait(futures)  # all done before BLAS gets its threads back
        return [f.result() for f in futures]


def uses_winograd(x_shape, w_shape, strides_hw) -> bool:
    """Whether conv2d_forward computes this convolution with Winograd's F(2x2, 3x3) (see WINOGRAD)."""
    return (WINOGRAD and tuple(w_shape[:2]) == (3, 3) and tuple(strides_hw) == (1, 1)
            and x_shape[3] >= WINOGRAD_MIN_CHANNELS and kernels.current() == "numba")


#: ReLU and max pooling on arrays of at least this many numbers are split by images over the worker
#: threads too (``for_each_part``): on two cores they were a sixth of a PW09 step run on one thread.
PARALLEL_MIN_SIZE = 2**18


def for_each_part(N, size, work):
    """Call ``work(start, stop)`` on WORKERS contiguous ranges of the N images, side by side.

    For the per-image kernels outside the conv (ReLU, pooling): Numba's kernels
    release the GIL, so the worker threads run them in parallel. Inline, as one
    range, for small arrays (``size`` numbers) or another kernel backend. Each
    output element is computed by the same code whatever the split: the result
    does not depend on the number of workers.
    """
    parts = WORKERS if kernels.current() == "numba" and size >= PARALLEL_MIN_SIZE and N > 1 else 1

    def run(chunks):
        for start, stop in chunks:
            work(start, stop)

    _for_each_chunk(N, -(-N // parts), run)


def _check_inputs(x, w, b):
    """Validate ranks, channels and dtypes; return float arrays of one dtype."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"conv2d: expected x of shape (N, H, W, C) and w of shape (KH, KW, C, F), "
            f"got x {x.shape} and w {w.shape}"
        )
    if x.shape[3] != w.shape[2]:
        raise ValueError(
            f"conv2d: x has {x.shape[3]} channels but w expects {w.shape[2]} "
            f"(x {x.shape}, w {w.shape} as (KH, KW, C, F))"
        )
    if b is not None:
        b = np.asarray(b)
        if b.shape != (w.shape[3],):
            raise ValueError(f"conv2d: bias must have shape ({w.shape[3]},), got {b.shape}")
    if x.dtype not in _FLOATS or w.dtype not in _FLOATS:
        raise ValueError(f"conv2d: x and w must be float32 or float64, got {x.dtype} and {w.dtype}")
    dtype = np.result_type(x.dtype, w.dtype)  # float32 unless someone brings float64
    x = np.ascontiguousarray(x, dtype=dtype)
    w = np.ascontiguousarray(w, dtype=dtype)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b


def conv2d_forward(x, w, b=None, strides=1, padding="valid"):
    """y = conv(x, w) + b.

    x: (N, H, W, C); w: (KH, KW, C, F); b: (F,) or None;
    strides: int or (SH, SW); padding: "valid" | "same" | int | (ph, pw).
    Returns y: (N, OH, OW, F) and the cache for ``conv2d_backward``.

    The same computation as plain nested loops, one output value at a time,
    is ``conv2d_forward_loops`` in ``minicnn/kernels/conv_loops.py``: read it
    first; tests check that this fast version gives the same numbers.
    """
    x, w, b = _check_inputs(x, w, b)
    strides_hw = as_pair(strides, "strides", "conv2d")
    padding = check_padding(padding, "conv2d")
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    try:
        pads, out_hw = resolve_padding_2d((H, W), (KH, KW), strides_hw, padding)
    except ValueError as err:
        raise ValueError(f"conv2d: {err} (x {x.shape}, w {w.shape})") from None
    OH, OW = out_hw
    cache = {"x": x, "w": w, "has_bias": b is not None, "strides_hw": strides_hw,
             "pads": pads, "out_hw": out_hw, "winograd": uses_winograd(x.shape, w.shape, strides_hw)}
    if cache["winograd"]:
        from .conv_winograd import winograd_forward
        cache["winograd_tile"] = WINOGRAD_TILE  # the backward pass uses the same tiles
        return winograd_forward(x, w, b, pads, out_hw, WINOGRAD_TILE), cache

    w_mat = w.reshape(KH * KW * C, F)  # the GEMM operand, rows in (kh, kw, c) order
    y = np.empty((N, OH, OW, F), dtype=x.dtype)
    step = _images_per_chunk(N, OH, OW, KH * KW * C, x.itemsize)

    def work(chunks):
        cols_buffer = np.empty((step * OH * OW, KH * KW * C), dtype=x.dtype)
        for start, stop in chunks:
            cols = kernels.im2col(x[start:stop], (KH, KW), strides_hw, pads, out_hw,
                                  out=cols_buffer[: (stop - start) * OH * OW])
            y_rows = y[start:stop].reshape(-1, F)  # a view: the GEMM writes straight into y
            np.matmul(cols, w_mat, out=y_rows)
            if b is not None:
                y_rows += b  # while the chunk is still in cache

    _for_each_chunk(N, step, work)
    return y, cache


def conv2d_backward(dy, cache, need_dx=True):
    """Gradients of conv2d_forward.

    dy: (N, OH, OW, F) -> dx: (N, H, W, C), dw: (KH, KW, C, F), db: (F,) or None.
    ``need_dx=False`` skips dx (returns None): the first layer of a net being
    trained needs no input gradient, and dx is half of the backward work.

    With ``top``, ``left`` the padding before the first row and column, output
    (i, j) sees input cell (i*SH + u - top, j*SW + v - left) through kernel
    cell (u, v), and the chain rule gives:

        db[f] = sum_{n, i, j} dy[n, i, j, f]
        dW[u, v, c, f] = sum_{n, i, j} x[n, i*SH + u - top, j*SW + v - left, c] * dy[n, i, j, f]
        dx[n, r, s, c] = sum_{f} sum_{i, j} w[u, v, c, f] * dy[n, i, j, f],
            with u = r + top - i*SH, v = s + left - j*SW inside the kernel

    (padding cells count as 0). Here they are the GEMMs of the module
    docstring; ``conv2d_backward_loops`` in ``minicnn/kernels/conv_loops.py``
    writes each formula as plain loops, and tests check both agree.
    ``minicnn trace-conv --backward`` prints every term for a small case.
    """
    x, w = cache["x"], cache["w"]
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    OH, OW = cache["out_hw"]
    dy = np.asarray(dy)
    if dy.shape != (N, OH, OW, F):
        raise ValueError(f"conv2d: dy must have shape {(N, OH, OW, F)}, got {dy.shape}")
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    strides_hw, pads = cache["strides_hw"], cache["pads"]
    if cache.get("winograd"):
        from .conv_winograd import winograd_backward
        return winograd_backward(dy, x, w, pads, (OH, OW), cache["has_bias"], need_dx, cache["winograd_tile"])

    w_mat = w.reshape(KH * KW * C, F)
    dx = np.empty_like(x) if need_dx else None
    step = _images_per_chunk(N, OH, OW, KH * KW * C, x.itemsize)
    has_bias = cache["has_bias"]

    def work(chunks):
        """Fill dx for these chunks; return {start: (dW, db) of that chunk}."""
        cols_buffer = np.empty((step * OH * OW, KH * KW * C), dtype=x.dtype)
        ones = np.ones(step * OH * OW, dtype=x.dtype)
        sums = {}
        for start, stop in chunks:
            m = (stop - start) * OH * OW
            # Recompute this chunk's columns rather than caching all of them.
            cols = kernels.im2col(x[start:stop], (KH, KW), strides_hw, pads, (OH, OW),
                                  out=cols_buffer[:m])
            dy_rows = dy[start:stop].reshape(-1, F)
            dw_chunk = cols.T @ dy_rows  # dW is a sum over all rows: one term per chunk
            db_chunk = None
            if has_bias:
                # db = sum of dy's rows, as a matrix-vector product: 9x faster
                # than dy_rows.sum(axis=0), which walks the rows with strides.
                db_chunk = ones[:m] @ dy_rows
            if need_dx:
                # cols is used up: dcols overwrites it (half the memory in cache).
                dcols = np.matmul(dy_rows, w_mat.T, out=cols)
                kernels.col2im(dcols, (stop - start, H, W, C), (KH, KW), strides_hw, pads, (OH, OW),
                               out=dx[start:stop])
            sums[start] = (dw_chunk, db_chunk)
        return sums

    # Add the chunks' terms in chunk order, whichever worker computed them, so
    # the result is bit-for-bit reproducible (float addition is not associative).
    sums = {}
    for part in _for_each_chunk(N, step, work):
        sums.update(part)
    dw_mat = np.zeros_like(w_mat)
    db = np.zeros(F, dtype=x.dtype) if has_bias else None
    for start in sorted(sums):
        dw_chunk, db_chunk = sums[start]
        dw_mat += dw_chunk
        if has_bias:
            db += db_chunk
    return dx, dw_mat.reshape(KH, KW, C, F), db
