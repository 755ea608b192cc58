"""minicnn: a from-scratch CNN engine in NumPy with Numba kernels, written to be read."""
__version__ = "0.1.0"
