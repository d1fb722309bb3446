"""Secrets in a dict (the Telegram bot token, the webhook secret)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pydantic import SecretStr

from serverless_openclaw.core.errors import NotFound


class MemorySecrets:
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._values = dict(values or {})

    def get(self, name: str) -> SecretStr:
        with self._lock:
            if name not in self._values:
                raise NotFound(f"no secret {name}")
            return SecretStr(self._values[name])

    def put(self, name: str, value: str) -> None:
        with self._lock:
            self._values[name] = value
