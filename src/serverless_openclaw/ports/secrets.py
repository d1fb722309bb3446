"""Secrets the control plane reads at run time (the Telegram bot token, the webhook secret):
SSM SecureString parameters on AWS, the local stack's own file locally (decision D10)."""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr


class SecretReader(Protocol):
    def get(self, name: str) -> SecretStr:
        """The value; `NotFound` if there is no such secret."""
        ...
