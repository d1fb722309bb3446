"""The parameters of a deployment, typed and validated once, passed to every stack."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from serverless_openclaw.adapters.aws.inbox import QUEUE_NAME_MAX, longest_queue_name
from serverless_openclaw.contracts.records import ModelProvider
from serverless_openclaw.settings import DEFAULT_PREFIX

# Fargate's valid (vCPU units -> memory MiB) combinations.
FARGATE_SIZES: Final[dict[int, range]] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}

PROVIDER_KEY_ENV: Final[dict[str, str]] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai-compatible": "SOC_MODEL_API_KEY",
}
"""Providers whose key the task gets from an SSM SecureString (bedrock uses the task role)."""

StackKind = Literal["network", "storage", "auth", "compute", "api", "web", "monitoring"]
STACK_KINDS: Final[tuple[StackKind, ...]] = (
    "network",
    "storage",
    "auth",
    "compute",
    "api",
    "web",
    "monitoring",
)


class CustomDomain(BaseModel):
    """The web app on your own name. The certificate must be in us-east-1 (CloudFront)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain_name: str = Field(min_length=3, max_length=253)
    certificate_arn: str = Field(pattern=r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/.+")


class DeploymentConfig(BaseModel):
    """Everything a deployment may vary. Defaults are the cheap, safe choice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
    """Names tables `<prefix>-<table>`, inbox queues `<prefix>-inbox-*`, stacks `<prefix>-*`."""
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    task_cpu: int = 1024
    task_memory_mib: int = 2048
    idle_timeout_minutes: int = Field(default=15, ge=5, le=24 * 60)
    llm_provider: ModelProvider = "anthropic"
    model_id: str | None = None
    model_base_url: str | None = None
    custom_domain: CustomDomain | None = None
    telegram: bool = False
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    alarms: bool = True
    """Two CloudWatch alarms ($0.10 each a month beyond the 10 free ones)."""
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = 30
    noncurrent_version_days: int = Field(default=3, ge=1, le=365)
    retain_data: bool = True
    """Keep tables, the state bucket and the user pool when the stacks are destroyed."""
    agent_image: str | None = None
    """A prebuilt image URI; None = build `container/Dockerfile` as an image asset."""
    web_dist: Path | None = None
    """The built web app (web/dist); None = look for it in the checkout, else config.json only."""
    egress_ports: tuple[int, ...] = (443,)
    """TCP ports the agent task may reach (LLM APIs, AWS, Telegram are all HTTPS)."""

    @model_validator(mode="after")
    def _queue_names_fit(self) -> DeploymentConfig:
        """SQS names hold 80 characters: `<prefix>-inbox-<36-character user id>.fifo`."""
        longest = longest_queue_name(self.prefix)
        if longest > QUEUE_NAME_MAX:
            raise ValueError(
                f"prefix {self.prefix!r} is too long: inbox queue names would have {longest} "
                f"characters (SQS allows {QUEUE_NAME_MAX})"
            )
        return self

    @model_validator(mode="after")
    def _valid_task_size(self) -> DeploymentConfig:
        memory = FARGATE_SIZES.get(self.task_cpu)
        if memory is None or self.task_memory_mib not in memory:
            raise ValueError(
                f"Fargate has no {self.task_cpu} CPU units / {self.task_memory_mib} MiB size; "
                "e.g. 1024/2048 (default), 512/1024, 2048/4096"
            )
        return self

    def stack_name(self, kind: StackKind) -> str:
        return f"{self.prefix}-{kind}"

    def param_name(self, name: str) -> str:
        """SSM parameter names of this deployment: `/<prefix>/<name>`."""
        return f"/{self.prefix}/{name}"

    @property
    def llm_key_param(self) -> str | None:
        if self.llm_provider not in PROVIDER_KEY_ENV:
            return None
        return self.param_name(f"{self.llm_provider}-api-key")

    @property
    def telegram_bot_token_param(self) -> str:
        return self.param_name("telegram/bot-token")

    @property
    def telegram_webhook_secret_param(self) -> str:
        return self.param_name("telegram/webhook-secret")

    @property
    def connections_url_param(self) -> str:
        return self.param_name("connections-url")
