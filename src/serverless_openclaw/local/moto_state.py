"""Embedded moto (the local AWS) with state that survives restarts of the dev command.

moto's request recorder can replay state, but ids it generates (Cognito `sub`s, pool ids)
come back different, and every user id in our tables is a `sub`. So we snapshot moto's
in-memory backends with pickle instead: ids, users, passwords, tables, queues and objects come
back exactly as they were. The snapshot is written atomically (temp file + rename).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from .moto_server import ThreadedServer

SERVICES = ("cognitoidp", "dynamodb", "s3", "sqs", "logs")
"""SSM is not kept (its backend holds lambdas); the dev stack writes its parameters anew at
every start."""

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _backends() -> dict[str, Any]:
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.dynamodb.models import dynamodb_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    return {
        "cognitoidp": cognitoidp_backends,
        "dynamodb": dynamodb_backends,
        "s3": s3_backends,
        "sqs": sqs_backends,
        "logs": logs_backends,
    }


def _load_rsa_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, None)


def _new_rlock() -> Any:
    return threading.RLock()


def _new_lock() -> Any:
    return threading.Lock()


class _Pickler(pickle.Pickler):
    """Locks are recreated empty; RSA keys (Cognito's signing key) travel as PEM."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, rsa.RSAPrivateKey):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _load_rsa_key, (pem,)
        if type(obj) is _LOCK_TYPES[1]:
            return _new_rlock, ()
        if type(obj) is _LOCK_TYPES[0]:
            return _new_lock, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, threading.Event):
            return threading.Event, ()
        return NotImplemented


def save_snapshot(path: Path) -> int:
    """Write moto's state to `path` atomically; returns the size in bytes."""
    buffer = io.BytesIO()
    state = {name: dict(backend) for name, backend in _backends().items()}
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return len(buffer.getvalue())


def load_snapshot(path: Path) -> bool:
    """Load a snapshot written by `save_snapshot`; False when there is none."""
    if not path.exists():
        return False
    with open(path, "rb") as handle:
        state = pickle.load(handle)  # noqa: S301 - see module docstring
    for name, backend in _backends().items():
        if name in state:
            backend.clear()
            backend.update(state[name])
    return True


class EmbeddedMoto:
    """moto's server in a thread of this process, optionally persisted to `snapshot`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, snapshot: Path | None = None):
        from serverless_openclaw.loopback import free_port

        self.host = host
        self.port = port or free_port(host)
        self.snapshot = snapshot
        self._socket: socket.socket | None = None
        self._server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self, what: str) -> None:
        """Take the port now, to serve on it at `start()`: a taken one is `PortInUse` naming
        `what` before anything else runs, and nothing can take it in between."""
        from .serve import bind

        self._socket = bind(self.host, self.port, what)
        self.port = int(self._socket.getsockname()[1])

    def start(self) -> bool:
        """Start serving (DynamoDB requests one at a time, as strict as DynamoDB about
        concurrent conditional writes: local/moto_server.py); returns True when earlier state
        was restored."""
        from .moto_server import ThreadedServer

        restored = load_snapshot(self.snapshot) if self.snapshot else False
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedServer(self.host, self.port, self._socket)
        self._socket = None
        self._server.start()
        return restored

    def save(self) -> int:
        return save_snapshot(self.snapshot) if self.snapshot else 0

    def stop(self) -> None:
        if self._socket is not None:  # bound, never served
            self._socket.close()
            self._socket = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                self.save()
            self._server.stop()
            self._server = None
