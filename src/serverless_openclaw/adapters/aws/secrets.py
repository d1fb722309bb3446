"""SSM SecureString parameters (decision D10), read once and cached for a while so a warm
Lambda does not call SSM on every request but a rotated secret still arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from serverless_openclaw.core.errors import NotFound, StorageUnavailable

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
        try:
            answer = self._ssm.get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise NotFound(f"SSM parameter {name} does not exist") from exc
            raise StorageUnavailable(f"SSM: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"SSM: {exc}") from exc
        secret = SecretStr(answer["Parameter"].get("Value", ""))
        with self._lock:
            self._cache[name] = (now, secret)
        return secret
