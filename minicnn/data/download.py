"""Downloading the official dataset files: mirrors, checksums, no half-written files.

For each file we know its name and its published md5. To get it:

1. If it is already in the folder and its md5 matches, use it (no network).
   If it is there but its md5 is wrong (truncated, corrupted), say so and
   download it again.
2. Try each mirror in turn. Stream the response into a temporary file *in the
   same folder*, hashing as we go; only when every byte has arrived and the md5
   matches do we rename it to its final name (``os.replace`` is atomic). Any
   failure deletes the temporary file and moves on to the next mirror.
3. If every mirror fails, raise one ``DatasetError`` listing the files, every
   URL tried with its error, and the folder where the files can be put by hand.

``MIRRORS`` and ``MD5`` are plain module-level dicts, and every function takes
``mirrors=`` / ``md5s=`` to override them (the tests point them at a local
server).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from tqdm.auto import tqdm

from . import cifar
from .errors import DatasetError
from .paths import FOLDERS, IDX_FILES, canonical_name, data_root

# Base URLs, tried in order; each serves the official files byte for byte
# (the md5 check proves it). MNIST's original host often answers 403, so the
# mirror torchvision uses comes first, then the one TensorFlow's tutorials
# used (CVDF), then the original. Fashion-MNIST: Zalando's bucket (what
# torchvision uses), then the bucket keras.datasets.fashion_mnist uses.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion_mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
    "cifar10": [
        "https://www.cs.toronto.edu/~kriz/",
    ],
}

CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"

# Published md5 of each file (checked against the byte-exact offline copies).
MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {
        CIFAR10_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530",
    },
}
assert all(set(MD5[n]) == set(IDX_FILES) for n in ("mnist", "fashion_mnist"))

USER_AGENT = "minicnn (+https://github.com/) python-urllib"
CHUNK = 1 << 16


class CorruptFileWarning(UserWarning):
    """A cached file failed its checksum and will be downloaded again."""


class _Failure(Exception):
    """One URL failed; the message says why. Collected into the final DatasetError.

    ``unreachable``: the host could not be reached at all (no network, DNS,
    timeout), so its other files need not be tried either.
    """

    def __init__(self, message, unreachable=False):
        super().__init__(message)
        self.unreachable = unreachable


def md5sum(path, chunk: int = 1 << 20) -> str:
    """The md5 of a file, read in chunks (the files are tens of MB)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, dest: Path, md5: str | None, progress: bool, timeout: float) -> None:
    """Download ``url`` to ``dest`` atomically, or raise ``_Failure``."""
    tmp = None
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            digest, received = hashlib.md5(), 0
            with os.fdopen(fd, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name, disable=not progress, leave=False,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        # http.client returns b"" (no error) when the server hangs up early,
        # so compare with Content-Length ourselves.
        if total is not None and received != total:
            raise _Failure(f"connection closed after {received} of {total} bytes")
        if md5 is not None and digest.hexdigest() != md5:
            raise _Failure(f"md5 {digest.hexdigest()} does not match the published {md5}")
        os.replace(tmp, dest)
        tmp = None
    except _Failure:
        raise
    except urllib.error.HTTPError as e:
        raise _Failure(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise _Failure(f"cannot connect ({e.reason})", unreachable=True) from e
    except TimeoutError as e:
        raise _Failure(f"timed out after {timeout} s", unreachable=tmp is None) from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _Failure(f"{type(e).__name__}: {e}") from e
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _url(base: str, filename: str) -> str:
    return (base if base.endswith("/") else base + "/") + filename


def ensure_files(files: dict[str, str | None], folder, mirrors, download: bool = True,
                 progress: bool = True, timeout: float = 30.0, what: str = "dataset") -> Path:
    """Make sure every file of ``files`` (name -> md5 or None) is in ``folder``.

    Files present with the right md5 are used as they are. Missing or corrupt
    ones are downloaded from ``mirrors`` (base URLs, in order) if ``download``.
    Returns ``folder``; raises ``DatasetError`` naming what could not be had.
    """
    folder = Path(folder)
    todo = []
    for name, md5 in files.items():
        path = folder / name
        if not path.is_file():
            todo.append(name)
        elif md5 is not None and (got := md5sum(path)) != md5:
            warnings.warn(
                f"{path}: md5 {got} differs from the published {md5} (truncated or "
                f"corrupted file); " + ("downloading it again" if download else "downloads are off"),
                CorruptFileWarning, stacklevel=3,
            )
            todo.append(name)
    if not todo:
        return folder
    if not download:
        raise DatasetError(
            f"{what}: missing or corrupted file(s) {', '.join(todo)} in {folder} and "
            f"download=False. Place the official files there (from "
            f"{', '.join(_url(m, todo[0]) for m in mirrors)}), pass download=True, "
            f"or run `minicnn data download {what}`."
        )
    folder.mkdir(parents=True, exist_ok=True)
    attempts, failed, unreachable = [], [], set()
    for name in todo:
        for base in mirrors:
            url = _url(base, name)
            if base in unreachable:
                attempts.append(f"  {url}: skipped (host unreachable above)")
                continue
            try:
                _fetch(url, folder / name, files[name], progress, timeout)
                break
            except _Failure as e:
                attempts.append(f"  {url}: {e}")
                if e.unreachable:
                    unreachable.add(base)
        else:
            failed.append(name)
    if failed:
        raise DatasetError(
            f"{what}: could not download {', '.join(failed)}.\n"
            f"URLs tried:\n" + "\n".join(attempts) + "\n"
            f"If you are offline, download the files on another machine and place them in\n"
            f"  {folder}\n"
            f"(or pass root= / set $MINICNN_DATA to a folder whose {folder.name}/ has them)."
        )
    return folder


def _member_name(archive, member) -> str | None:
    """The file name to take from ``member``, None to skip it; refuse unsafe entries.

    The official archive holds ``cifar-10-batches-bin/<file>``. An absolute
    path, a ``..`` component or a link is how a crafted archive writes
    outside the folder it is extracted to: refused outright.
    """
    parts = member.name.replace("\\", "/").split("/")
    if member.name.startswith("/") or ".." in parts or member.issym() or member.islnk():
        raise DatasetError(f"{archive}: refusing unsafe archive member {member.name!r} "
                           f"(absolute path, '..' or link)")
    wanted = {f"{n}.bin" for n in cifar.TRAIN_BATCHES + [cifar.TEST_BATCH]} | {"batches.meta.txt"}
    return parts[-1] if member.isfile() and parts[-1] in wanted else None


def extract_cifar10(archive, root) -> Path:
    """Extract the six batches of ``cifar-10-binary.tar.gz`` into ``root/cifar-10-batches-bin``.

    Only the expected file names are taken, unsafe members are refused (see
    ``_member_name``), and everything goes to a scratch folder that replaces
    ``cifar-10-batches-bin/`` only once it is complete: an interrupted or
    failed extraction leaves nothing half-written behind.
    """
    root = Path(root)
    out = root / cifar.BIN_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-cifar10-") as tmp:
        tmp = Path(tmp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = _member_name(archive, member)
                    if name is not None:
                        with open(tmp / name, "wb") as f:
                            shutil.copyfileobj(tar.extractfile(member), f)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DatasetError(f"{archive}: cannot extract ({e})") from e
        if not cifar.bin_folder_complete(tmp):
            raise DatasetError(f"{archive}: does not contain the six CIFAR-10 binary batches "
                               f"(found {sorted(p.name for p in tmp.iterdir())})")
        if out.exists():
            shutil.rmtree(out)  # an incomplete folder (complete ones are never re-extracted)
        os.replace(tmp, out)
        tmp.mkdir()  # TemporaryDirectory wants something to clean up
    return out


def ensure_cifar10(root=None, download: bool = True, mirrors=None, md5s=None,
                   progress: bool = True, timeout: float = 30.0) -> Path:
    """The folder holding CIFAR-10 batches under ``root``, downloading if needed.

    Uses ``cifar-10-batches-bin/`` if complete, else ``cifar-10-batches-py/``
    if complete, else fetches ``cifar-10-binary.tar.gz`` and extracts it.
    """
    root = data_root(root)
    folder = cifar.find_cifar10_folder(root)
    if folder is not None:
        return folder
    if (root / cifar.BIN_FOLDER).is_dir():
        warnings.warn(f"{root / cifar.BIN_FOLDER}: incomplete or truncated batches; "
                      + ("extracting them again" if download else "downloads are off"),
                      CorruptFileWarning, stacklevel=2)
    files = dict(md5s if md5s is not None else MD5["cifar10"])
    mirrors = list(mirrors if mirrors is not None else MIRRORS["cifar10"])
    if not download and not (root / CIFAR10_ARCHIVE).is_file():
        raise DatasetError(
            f"cifar10: no complete {cifar.BIN_FOLDER}/ or {cifar.PY_FOLDER}/ in {root} and "
            f"download=False. Place the official {CIFAR10_ARCHIVE} (from "
            f"{_url(mirrors[0], CIFAR10_ARCHIVE) if mirrors else 'the official site'}) "
            f"there, or its extracted {cifar.BIN_FOLDER}/, or pass download=True."
        )
    ensure_files(files, root, mirrors, download, progress, timeout, what="cifar10")
    return extract_cifar10(root / CIFAR10_ARCHIVE, root)


def ensure_idx_dataset(name: str, root=None, download: bool = True, mirrors=None, md5s=None,
                       progress: bool = True, timeout: float = 30.0) -> Path:
    """The folder holding the four IDX files of ``mnist`` / ``fashion_mnist``, verified."""
    name = canonical_name(name)
    files = dict(md5s if md5s is not None else MD5[name])
    mirrors = list(mirrors if mirrors is not None else MIRRORS[name])
    folder = data_root(root) / FOLDERS[name]
    return ensure_files(files, folder, mirrors, download, progress, timeout, what=name)


def download_dataset(name: str, root=None, *, mirrors=None, md5s=None,
                     progress: bool = True, timeout: float = 30.0) -> Path:
    """Download dataset ``name`` into the data root (if not already there) and
    return the folder holding its files. What ``minicnn data download NAME`` runs.

    ``name``: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
    """
    name = canonical_name(name)
    if name == "digits":
        raise ValueError("digits ships with scikit-learn; there is nothing to download")
    if name == "cifar10":
        return ensure_cifar10(root, True, mirrors, md5s, progress, timeout)
    return ensure_idx_dataset(name, root, True, mirrors, md5s, progress, timeout)
