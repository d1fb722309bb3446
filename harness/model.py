"""The offline model (`serverless_openclaw.local.offline_model`) as a test or benchmark
scripts it: over HTTP, the same whether it runs in this process or inside a dev stack."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class OfflineModel:
    """The offline model server at `url`; `script()` sets its rules for the next requests
    (shared by every agent that uses it)."""

    url: str

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL an OpenClaw gateway is configured with."""
        return f"{self.url}/v1"

    def script(self, rules: list[dict[str, object]], **defaults: object) -> None:
        response = httpx.post(f"{self.url}/_script", json={"rules": rules, **defaults}, timeout=10)
        response.raise_for_status()

    def reset(self) -> None:
        self.script([], default_delay_ms=15.0, default_chunk_chars=12)

    def requests(self) -> int:
        """How many completions it has been asked for so far."""
        return int(httpx.get(f"{self.url}/_stats", timeout=5).json()["requests"])
