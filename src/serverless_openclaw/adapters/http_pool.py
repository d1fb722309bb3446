"""One httpx connection pool that opens on first use and always gets closed.

The Bot API clients of a handler container and the local stack's @connections client each
keep one `httpx.Client` for their whole life, shared by every thread (httpx clients are
thread-safe). Their owners close them (`close()`); one that is dropped without that — a test's
copy of `Services`, say — is closed by the garbage collector, as urllib3 closes boto3's pools,
so a forgotten close never leaves a socket open until exit.
"""

from __future__ import annotations

import threading
import weakref

import httpx


class HttpPool:
    """A lazily opened `httpx.Client`; after `close()` the next `client()` opens a new one."""

    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._closer: weakref.finalize[[], HttpPool] | None = None

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
                self._closer = weakref.finalize(self, self._client.close)
            return self._client

    def close(self) -> None:
        with self._lock:
            closer, self._closer, self._client = self._closer, None, None
        if closer is not None:
            closer()  # closes the client once, and no longer at collection
