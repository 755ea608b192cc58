"""The IDX file format of MNIST and Fashion-MNIST, read and written by hand.

An IDX file is a tiny header followed by raw big-endian numbers::

    byte 0, 1   0x00 0x00            (always zero)
    byte 2      type code            0x08 uint8, 0x09 int8, 0x0B int16,
                                     0x0C int32, 0x0D float32, 0x0E float64
    byte 3      number of dims  D
    4 * D bytes the size of each dim, big-endian uint32
    the data    prod(sizes) items, big-endian, row-major (last index fastest)

So ``train-images-idx3-ubyte`` starts with ``00 00 08 03`` (magic 2051):
uint8, 3 dims (60000, 28, 28); the labels file with ``00 00 08 01``
(magic 2049): uint8, 1 dim (60000,). The official files are gzip-compressed.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import FormatError

# type code -> big-endian numpy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the (uncompressed) bytes of an IDX file into an array of its shape.

    Raises ``FormatError`` naming ``source`` when the magic number is wrong or
    the payload length does not match the dimensions in the header.
    """
    if len(data) < 4:
        raise FormatError(f"{source}: {len(data)} bytes is too short for an IDX header")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES:
        magic = int.from_bytes(data[:4], "big")
        raise FormatError(
            f"{source}: not an IDX file (magic number {magic:#010x}; expected 0x0000TTDD "
            f"with type TT in {sorted(hex(c) for c in IDX_DTYPES)})"
        )
    if ndim == 0:
        raise FormatError(f"{source}: IDX header says 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise FormatError(f"{source}: truncated IDX header ({len(data)} bytes, need {header_len})")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header_len
    if got != expected:
        raise FormatError(
            f"{source}: IDX header says shape {shape} of {dtype.name} "
            f"= {expected} data bytes, but the file has {got}"
            + (" (truncated)" if got < expected else " (trailing bytes)")
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    # native byte order, and a writable copy the caller owns
    return array.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (recognised by its magic bytes) or not."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:  # BadGzipFile is an OSError
            raise FormatError(f"{path}: truncated or corrupt gzip stream ({e})") from e
    return parse_idx(raw, source=str(path))


def write_idx(array, path, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if the name ends in .gz).

    Handy for making miniature test files and for students' own datasets.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX type code")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: need 1 to 255 dims, got {array.ndim}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
