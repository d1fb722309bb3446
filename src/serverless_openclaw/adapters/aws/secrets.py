"""SSM SecureString parameters (decision D10), read once and cached for a while so a warm
Lambda does not call SSM on every request but a rotated secret still arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from serverless_openclaw.adapters.aws.errors import converted

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SecretReader:
    def __init__(
        self,
        client: SSMClient,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm = client
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, SecretStr]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> SecretStr:
        """The decrypted value; `NotFound` if there is no such parameter."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(name)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        with converted("SSM", f"get parameter {name}"):
            answer = self._ssm.get_parameter(Name=name, WithDecryption=True)
        secret = SecretStr(answer["Parameter"].get("Value", ""))
        with self._lock:
            self._cache[name] = (now, secret)
        return secret
