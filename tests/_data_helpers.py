"""Helpers for the data tests: miniature files in the official formats, and a
local HTTP server (127.0.0.1, port 0) that serves them, can answer 404 and can
hang up in the middle of a file."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np


IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def shared_data() -> Path | None:
    """The offline copy ``../shared/data`` beside the repository (or $MINICNN_SHARED_DATA)."""
    env = os.environ.get("MINICNN_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def mini_idx_files(n_train=6, n_test=4, size=28, seed=0) -> dict[str, bytes]:
    """The four MNIST-style .gz files with a few random images: name -> bytes."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    out = {}
    for name, a in arrays.items():
        buf = io.BytesIO()
        header = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
            f.write(header + a.tobytes())
        out[name] = buf.getvalue()
    return out


def mini_cifar_arrays(per_batch=3, seed=0):
    """name -> (x (n, 32, 32, 3) uint8, y (n,)) for the six batches."""
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8),
                   rng.integers(0, 10, per_batch, dtype=np.uint8)) for name in CIFAR_BATCHES}


def cifar_bin_records(x, y) -> bytes:
    """Official record layout: label byte, then R, G, B planes."""
    planes = x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    return np.concatenate([y.reshape(-1, 1).astype(np.uint8), planes], axis=1).tobytes()


def write_cifar_bin(folder: Path, arrays) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in arrays.items():
        (folder / f"{name}.bin").write_bytes(cifar_bin_records(x, y))
    return folder


def cifar_tar_gz(arrays, extra_members=()) -> bytes:
    """A miniature ``cifar-10-binary.tar.gz``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = [(f"cifar-10-batches-bin/{n}.bin", cifar_bin_records(*a)) for n, a in arrays.items()]
        members.append(("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"))
        for name, data in members + list(extra_members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class LocalServer:
    """``http.server`` in a thread. ``files``: URL path -> bytes.

    Paths under ``/404/`` answer 404; under ``/drop/`` the server announces the
    full length, sends half the bytes and closes the connection. ``requests``
    lists the paths asked for.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                data = server.files.get(self.path.replace("/drop/", "/", 1))
                if self.path.startswith("/404/") or data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.path.startswith("/drop/"):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def assert_clear_argument_error(make, owner: str, arg: str, value: str) -> None:
    """``make()`` raises ``ValueError("<owner>: <arg> must be ...")`` showing ``value``."""
    import pytest
    with pytest.raises(ValueError) as err:
        make()
    msg = str(err.value)
    assert msg.startswith(f"{owner}: {arg} must be") and value in msg, msg


def leftovers(folder: Path) -> list[str]:
    """Every file under ``folder`` (to assert that nothing was left behind)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
