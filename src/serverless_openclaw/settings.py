"""Settings, read once per entry point into frozen objects. The only module that reads the
process environment (argument > environment > default).

Environment names carry the prefix `SOC_` (serverless-openclaw). AWS's own variables
(`AWS_REGION`, `AWS_ENDPOINT_URL`, ...) are left to boto3, which is how the same code reaches
moto locally and AWS in production.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, Self, cast

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from serverless_openclaw.contracts.records import AgentTools, ModelProvider

DEFAULT_PREFIX = "serverless-openclaw"


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOC_", frozen=True, extra="ignore")

    @classmethod
    def given(cls, **values: Any) -> Self:
        """These values only, without reading the environment (the deploying machine's
        `SOC_*` variables must not leak into what it deploys). For `to_environment`."""
        return cast(Self, cls.model_construct(**values))

    def to_environment(self) -> dict[str, str]:
        """The environment from which this class reads exactly these values: what infra
        writes into a Lambda or a task definition, and the compute backend into a task.
        Only fields that were given (`given(...)`) or read; nested settings are flattened;
        secrets are never written (they reach a task from SSM)."""
        env: dict[str, str] = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if value is None or isinstance(value, SecretStr):
                continue
            if isinstance(value, _Settings):
                env.update(value.to_environment())
            elif isinstance(value, BaseModel):
                raise TypeError(f"{type(self).__name__}.{name}: not a settings class")
            else:
                env[env_name(type(self), name)] = _encode(
                    str(value) if isinstance(value, Path) else value
                )
        return env


class NamesSettings(_Settings):
    """Where the shared AWS resources are. Lambdas, the agent and the CLI all need these."""

    prefix: str = DEFAULT_PREFIX
    """Prefix of table names (`<prefix>-<table>`) and inbox queues (`<prefix>-inbox-<user>`)."""
    state_bucket: str = f"{DEFAULT_PREFIX}-state"
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    connections_url: str | None = None
    """The WebSocket API's @connections endpoint, e.g. https://abc.execute-api.../prod."""
    inbox_dlq_arn: str | None = None
    """The shared dead-letter queue of every inbox (`<prefix>-dead-letters.fifo`, made by the
    Storage stack and watched by an alarm); None = found, or made, by that name (local)."""


class BackendSettings(_Settings):
    """Which adapter family an entry point uses (wiring.py): `aws` (boto3; on AWS, or moto
    locally) or `embedded` (SQLite under `embedded_dir`: the local product)."""

    backend: Literal["aws", "embedded"] = "aws"
    embedded_dir: Path | None = None
    """The local stack's state dir (its `state.db` and `blobs/`), with `backend=embedded`."""


class AuthSettings(_Settings):
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    jwt_issuer: str | None = None
    """Defaults to https://cognito-idp.<region>.amazonaws.com/<pool id>."""
    jwks_url: str | None = None
    """Defaults to <issuer>/.well-known/jwks.json."""


class ComputeSettings(_Settings):
    """How the control plane starts agent tasks (ECS RunTask)."""

    ecs_cluster: str = ""
    task_definition: str = ""
    container_name: str = "agent"
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    capacity_provider: str = "FARGATE_SPOT"
    assign_public_ip: bool = True
    agent_role_arn_prefix: str | None = None
    """Every person's task role ARN but the hash of their id (`arn:aws:iam::<account>:role/
    <prefix>-user-`): RunTask runs each person's task as their own role (decision D13).
    None: tasks run as the task definition's role (tests without IAM)."""


class QuotaSettings(_Settings):
    messages_per_minute: int = 20
    task_hours_per_day: float = 12.0
    pairing_attempts_per_hour: int = 5
    """Pairing attempts per Telegram chat and hour (a private chat is its sender, the only
    place a code can be redeemed)."""
    pairing_failures_per_hour: int = 20
    """Wrong pairing codes per hour across the deployment, from every chat together; above
    it pairing pauses until the hour ends (many chats with one guess each)."""


class TelegramSettings(_Settings):
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_token_param: str | None = None
    """SSM SecureString holding the bot token; None = Telegram is off."""
    telegram_webhook_secret_param: str | None = None
    telegram_bot_token: SecretStr | None = None
    """Direct value (agent task: injected by ECS from SSM; never named TELEGRAM_BOT_TOKEN,
    which would make OpenClaw take the bot over and delete our webhook)."""
    telegram_webhook_secret: SecretStr | None = None


class HandlerSettings(_Settings):
    """Everything a Lambda handler needs."""

    names: NamesSettings = Field(default_factory=NamesSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    default_idle_timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    """Idle timeout for users who did not choose one (deploy parameter `--idle-timeout`)."""
    min_uptime_seconds: int = 300
    starting_timeout_seconds: int = 600
    stopping_timeout_seconds: int = 300
    aws_call_log_dir: Path | None = None
    """Record every AWS call into this folder (adapters/aws/call_log.py): the IAM
    conformance check of test and CI runs. Never set on a deployment."""


class ModelSettings(_Settings):
    """Which LLM the agent talks to. Keys come from the environment (SSM in production)."""

    model_provider: ModelProvider = "offline"
    model_id: str | None = None
    model_base_url: str | None = None
    """OpenAI-compatible base URL (also the offline model's URL)."""
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    model_api_key: SecretStr | None = None
    """Key for an OpenAI-compatible endpoint."""


class AgentSettings(_Settings):
    """What the agent task (supervisor + bridge) needs; set per task by RunTask overrides."""

    user_id: str
    inbox_queue_url: str
    state_prefix: str
    """Prefix of this user's backup in the state bucket, e.g. agents/<userId>/."""
    names: NamesSettings = Field(default_factory=NamesSettings)
    storage: BackendSettings = Field(default_factory=BackendSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    work_dir: Path = Field(default_factory=Path.cwd)
    """The task's scratch space (the container's WORKDIR; a fresh folder per local task):
    OpenClaw's state dir, its HOME and logs live below it."""
    openclaw_state_dir_override: Path | None = Field(
        default=None, validation_alias="SOC_OPENCLAW_STATE_DIR"
    )
    openclaw_runtime_dir: Path | None = None
    """Where Node + OpenClaw are installed (None = the per-user cache)."""
    gateway_port: int = 18789
    """0 = any free port (several local agents on one machine)."""
    gateway_token: SecretStr | None = None
    """None = generate one per start (it never leaves the task)."""
    health_port: int = 8080
    """0 = any free port; the port in use is written to <work_dir>/agent.json."""
    prewarm_port: int = 18799
    """The pre-warm's stand-in model (agent/prewarm.py); 0 = any free port. A fixed port keeps
    openclaw.json the same at every start, so OpenClaw skips its start-up migrations."""
    sync_interval_seconds: float = 300.0
    """Periodic backups beside the one after every turn (OpenClaw also writes on its own)."""
    drain_seconds: float = 60.0
    """How long SIGTERM waits for the current turn (stopTimeout is 120 s)."""
    task_id: str | None = None
    wake_reason: str | None = None
    """Why the control plane started this task ("web message", "telegram message",
    "connect", a scheduled job...): a Telegram chat whose message woke the agent sees
    "typing…" while it starts (agent/waking.py)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    agent_tools: AgentTools = "safe"
    """What OpenClaw's agent may do on the task (`SOC_AGENT_TOOLS`).

    `safe` (default): no shell (OpenClaw's exec/process tools are removed and exec is set to
    deny), file tools only inside OpenClaw's workspace, no browser, canvas or node tools; web
    fetch/search, memory and reminders still work. `shell`: the agent may run shell commands
    (exec without approval: nobody could approve), which is only allowed when OpenClaw runs as
    a user of its own with nothing secret in reach (the task starts as root and drops to two
    unprivileged users); where that separation is impossible (not root, or Bedrock, whose
    credentials OpenClaw itself needs) the agent runs with `safe` and says so in its log.
    """
    aws_call_log_dir: Path | None = None
    """Record every AWS call into this folder (the IAM conformance check; never deployed)."""

    agent_state_root: Path = Field(
        default_factory=lambda: Path.home() / ".serverless-openclaw" / "agents"
    )
    """Parent of every user's OpenClaw state dir on this machine."""

    @property
    def openclaw_state_dir(self) -> Path:
        """Stable for a user across tasks: OpenClaw keys its scheduled jobs by the absolute
        path of the state dir, so a restore into another path would lose them."""
        if self.openclaw_state_dir_override:
            return self.openclaw_state_dir_override
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.user_id)
        return self.agent_state_root / safe / "openclaw-state"


class DevSettings(BaseSettings):
    """`serverless-openclaw dev`: flags > environment (SOC_DEV_*) > `.env` > defaults.

    Model keys use their usual names (ANTHROPIC_API_KEY, OPENAI_API_KEY, SOC_MODEL_API_KEY with
    SOC_MODEL_BASE_URL); with none of them the offline model answers.
    """

    model_config = SettingsConfigDict(
        env_prefix="SOC_DEV_", env_file=".env", frozen=True, extra="ignore"
    )

    state_dir: Path = Path(".dev-state")
    backend: Literal["embedded", "aws"] = "embedded"
    """`embedded`: SQLite under the state dir (crash-safe). `aws`: the boto3 adapters against
    an embedded moto server and the ECS emulator (how CI proves the boto3 code)."""
    host: str = "127.0.0.1"
    port: int = 8800
    """The web app and every API; the local AWS (backend aws) listens on the next port."""
    moto_port: int | None = None
    """Default: `port` + 1."""
    enforce_iam: bool = True
    """Backend aws: every component calls moto as its own principal, with exactly the rights
    the synthesized templates give it (infra/local_iam.py); each person's agent as that
    person's role. Off: any call is allowed (quicker to start, nothing proven)."""
    stop_timeout_seconds: float = 15.0
    """How long Ctrl+C waits for agents to finish their turn and back up before killing them
    (their acknowledged work is safe either way)."""
    region: str = "us-east-1"
    prefix: str = "soc-dev"
    watchdog_interval_seconds: float = 60.0
    agent_sync_interval_seconds: float = 300.0
    web_dir: Path | None = None
    """The built web app (default: web/dist next to the package source, when present)."""
    model_provider: ModelProvider | None = Field(
        default=None, validation_alias="SOC_MODEL_PROVIDER"
    )
    model_id: str | None = Field(default=None, validation_alias="SOC_MODEL_ID")
    model_base_url: str | None = Field(default=None, validation_alias="SOC_MODEL_BASE_URL")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    model_api_key: SecretStr | None = Field(default=None, validation_alias="SOC_MODEL_API_KEY")
    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias="SOC_DEV_TELEGRAM_BOT_TOKEN"
    )
    """A real bot token: the dev stack polls getUpdates itself (no public URL needed).
    Without one, a local fake Bot API server stands in."""
    agent_env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for every agent task (JSON), e.g. a log level while debugging."""
    first_user: str = "me@example.com"
    """Email of the user created on the first start (people sign in with their email)."""

    def resolved_provider(self) -> ModelProvider:
        if self.model_provider:
            return self.model_provider
        if self.anthropic_api_key:
            return "anthropic"
        if self.openai_api_key:
            return "openai"
        if self.model_base_url and self.model_api_key:
            return "openai-compatible"
        return "offline"


def runtime_cache_dir() -> Path:
    """The per-user cache where Node and OpenClaw are installed when no other place is set."""
    override = os.environ.get("SOC_RUNTIME_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "serverless-openclaw"


def environ_snapshot() -> dict[str, str]:
    """A copy of the process environment, for building a child process's environment."""
    return dict(os.environ)


def env_name(settings_class: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from (its alias, else the class's
    prefix + the field name): the one place such names are spelled."""
    info = settings_class.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def launch_environment(
    *,
    user_id: str,
    inbox_queue_url: str,
    state_prefix: str,
    task_id: str,
    wake_reason: str | None = None,
) -> dict[str, str]:
    """What the control plane tells each agent task about itself (the RunTask overrides)."""
    return AgentSettings.given(
        user_id=user_id,
        inbox_queue_url=inbox_queue_url,
        state_prefix=state_prefix,
        task_id=task_id,
        wake_reason=wake_reason or None,
    ).to_environment()
