"""The two errors the data package raises.

``DatasetError`` means "the data you asked for is not available": files
missing with downloads disabled, every mirror failing, a checksum that never
matches. Its message always says which files, which URLs were tried and in
which folder the files can be placed by hand.

``FormatError`` means "this file is not what it claims to be": a wrong magic
number, a length that does not match the header, a truncated gzip stream. It
is also a ``ValueError``, because the bytes themselves are bad.
"""
from __future__ import annotations


class DatasetError(RuntimeError):
    """A dataset could not be found, downloaded or verified."""


class FormatError(DatasetError, ValueError):
    """A data file is malformed (wrong magic number, wrong length, truncated)."""
