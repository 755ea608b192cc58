"""Where datasets live on disk.

The data root is, in order of preference:

1. the ``root`` argument of a loader;
2. the environment variable ``$MINICNN_DATA``;
3. ``~/.cache/minicnn``.

Under it each dataset has its folder, named as the official archives name
them::

    ROOT/mnist/train-images-idx3-ubyte.gz ...      (4 IDX .gz files)
    ROOT/fashion-mnist/train-images-idx3-ubyte.gz ...
    ROOT/cifar-10-batches-bin/data_batch_1.bin ... (or cifar-10-batches-py/)

``find_local_data`` is the one place that knows about the course's offline copy
in ``../shared/data``: the demo and the labs call it so they run without a
network. The loaders themselves never look there on their own.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ENV_ROOT = "MINICNN_DATA"
ENV_SHARED = "MINICNN_SHARED_DATA"

# folder of each dataset under the root
FOLDERS = {
    "mnist": "mnist",
    "fashion_mnist": "fashion-mnist",
    "cifar10": "cifar-10-batches-bin",
}
CIFAR10_PY_FOLDER = "cifar-10-batches-py"
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

_ALIASES = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist", "fashionmnist": "fashion_mnist",
    "cifar10": "cifar10", "cifar_10": "cifar10",
    "digits": "digits",
}


def canonical_name(name: str) -> str:
    """``"Fashion-MNIST"`` -> ``"fashion_mnist"``, ``"cifar-10"`` -> ``"cifar10"``."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in _ALIASES:
        raise ValueError(f"unknown dataset {name!r}; expected one of mnist, fashion_mnist, cifar10, digits")
    return _ALIASES[key]


def data_root(root=None) -> Path:
    """The data root: ``root``, else ``$MINICNN_DATA``, else ``~/.cache/minicnn``."""
    if root is None:
        root = os.environ.get(ENV_ROOT) or Path.home() / ".cache" / "minicnn"
    return Path(root).expanduser()


def shared_data_dir() -> Path | None:
    """The course's offline copy (``$MINICNN_SHARED_DATA`` or ``../shared/data``
    beside the repository), or ``None`` when there is none."""
    env = os.environ.get(ENV_SHARED)
    candidates = [Path(env)] if env else []
    # minicnn/data/paths.py -> parents[2] is the repository, parents[3] its folder
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def has_local_files(name: str, root=None) -> bool:
    """True when ``root`` already holds the files of dataset ``name`` (no checksum test)."""
    name = canonical_name(name)
    root = data_root(root)
    if name == "digits":
        return True  # bundled with scikit-learn
    if name in ("mnist", "fashion_mnist"):
        return all((root / FOLDERS[name] / f).is_file() for f in IDX_FILES)
    from .cifar import find_cifar10_folder
    return find_cifar10_folder(root) is not None


def find_local_data(name: str, root=None) -> Path:
    """The root to pass to a loader so that it needs no network, if at all possible.

    - ``root`` (or the default root) already has the files: return it.
    - else, if the course's offline copy ``../shared/data`` exists:
      MNIST / Fashion-MNIST: return that folder (its files are the official ones);
      CIFAR-10: run its ``prepare_cifar10.py`` once, writing
      ``cifar-10-batches-bin/`` into the root, and return the root.
    - else return the root unchanged (the loader will download).

    >>> (x, y), _ = load_mnist(root=find_local_data("mnist"))   # doctest: +SKIP
    """
    name = canonical_name(name)
    root = data_root(root)
    if has_local_files(name, root):
        return root
    shared = shared_data_dir()
    if shared is None:
        return root
    if name in ("mnist", "fashion_mnist"):
        return shared if has_local_files(name, shared) else root
    if name == "cifar10":
        script = shared / "prepare_cifar10.py"
        if not script.is_file():
            return root
        root.mkdir(parents=True, exist_ok=True)
        # Write into a scratch folder first and move the finished folder in:
        # an interrupted run leaves nothing that looks like a complete dataset.
        with tempfile.TemporaryDirectory(dir=root, prefix=".prepare-cifar10-") as tmp:
            subprocess.run([sys.executable, str(script), tmp], check=True,
                           stdout=subprocess.DEVNULL)
            final = root / FOLDERS["cifar10"]
            if final.exists():
                shutil.rmtree(final)  # an incomplete folder (complete ones returned above)
            os.replace(Path(tmp) / FOLDERS["cifar10"], final)
        return root
    return root
