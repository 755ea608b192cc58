"""Keep freed activation buffers in the process heap between batches.

Why: every training step allocates the same large arrays again (activations,
gradients: 16 MB each for 128 images of 32x32x32 float32). glibc's malloc
serves blocks above its mmap threshold straight from the OS and gives them
back on ``free``; the next batch's allocation then page-faults on every 4 KB
page as it is first written, which was measured to cost about 10 % of a
PW09 training step. Raising the mmap and trim thresholds lets freed blocks be
reused from the heap instead (PyTorch gets the same effect from its caching
allocator).

This changes a process-wide malloc setting (the heap keeps its peak size),
so it is done once, only on glibc, when training starts. Set the environment
variable ``MINICNN_KEEP_MEMORY=0`` to leave malloc alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2**20   # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 2**30

_done = False


def keep_freed_memory() -> bool:
    """Apply the malloc settings once; return whether they are in effect."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("MINICNN_KEEP_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _done = ok
    return ok
