"""The files a pretrained model needs (weights, class names), fetched like the datasets.

They live in ``<data root>/models/`` (``$MINICNN_DATA``, else
``~/.cache/minicnn``; Keras keeps the same files in ``~/.keras/models/``, so
you can copy them from there). Getting one goes through
``minicnn.data.download.ensure_files``, the code the dataset loaders use: a
file already there with the published md5 is used without any network; else
it is downloaded from each mirror in turn into a temporary file, with a
progress bar, hashed as it arrives and renamed only when complete and
correct. Offline, the error names the file, the URLs tried and the folder to
put it in.
"""
from __future__ import annotations

from pathlib import Path

from ..data.download import ensure_files
from ..data.errors import DatasetError
from ..data.paths import data_root

MODELS_FOLDER = "models"


def models_dir(root=None) -> Path:
    """``<data root>/models``: where pretrained weights and class indexes are cached."""
    return data_root(root) / MODELS_FOLDER


def model_file(filename: str, md5: str, mirrors, what: str, hint: str = "",
               root=None, progress: bool = True, timeout: float = 60.0) -> Path:
    """The path of ``filename`` in the models folder, downloaded and verified if needed.

    mirrors: base URLs tried in order; md5: the published checksum; what: the
    name used in messages ("ResNet50 ImageNet weights"); hint: one more
    sentence for the error when the file cannot be had (another way round).
    Raises ``minicnn.data.DatasetError``.
    """
    folder = models_dir(root)
    try:
        ensure_files({filename: md5}, folder, list(mirrors), download=True,
                     progress=progress, timeout=timeout, what=what)
    except DatasetError as err:
        raise DatasetError(f"{err}\n{hint}" if hint else str(err)) from None
    return folder / filename
