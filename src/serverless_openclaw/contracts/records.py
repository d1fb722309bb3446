"""What the REST API returns and the stores persist, as the web client sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from serverless_openclaw.contracts.frames import AgentState, Attachment, MessageUsage, ReplyError


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conversation(_Record):
    id: str
    title: str
    createdAt: datetime
    updatedAt: datetime


class Message(_Record):
    id: str
    conversationId: str
    role: Literal["user", "assistant"]
    text: str
    createdAt: datetime
    source: Literal["web", "telegram", "agent"] = "web"
    aborted: bool = False
    proactive: bool = False
    inReplyTo: str | None = None
    """The id of the message this one answers: a reply is listed directly under its
    question, whatever was asked in between."""
    error: ReplyError | None = None
    """Set on a reply that says why the question could not be answered."""
    usage: MessageUsage | None = None
    """On replies: the turn's tokens and estimated cost (shown subtly under the reply)."""
    attachments: tuple[Attachment, ...] = ()
    """What the person sent with the message (`GET /api/attachments/{id}` fetches one)."""


T = TypeVar("T")


class Page(_Record, Generic[T]):
    items: list[T]
    nextCursor: str | None = None


ModelProvider = Literal["offline", "anthropic", "openai", "bedrock", "openai-compatible"]
HeartbeatPolicy = Literal["off", "active-hours", "openclaw"]
AgentTools = Literal["safe", "shell"]
"""What the agent may do on its task (the deployment's `SOC_AGENT_TOOLS`): see docs/security."""
ScheduledWakePolicy = Literal["own-jobs", "all-jobs", "none"]
ChatOverBudget = Literal["stop", "continue"]
ModelRef = Annotated[
    str, StringConstraints(min_length=3, max_length=200, pattern=r"^[A-Za-z0-9._:@-]+/[^\s]+$")
]
"""OpenClaw's model reference, `<provider>/<model id>` (e.g. `anthropic/claude-sonnet-5`)."""
MAX_PRICE_OVERRIDES = 20


class LlmPrice(_Record):
    """A person's price for a model, in USD per million tokens. Cache prices left out are
    taken as the input price (never an underestimate of what the provider bills)."""

    inputUsdPerMtok: float = Field(ge=0, le=10_000)
    outputUsdPerMtok: float = Field(ge=0, le=10_000)
    cacheReadUsdPerMtok: float | None = Field(default=None, ge=0, le=10_000)
    cacheWriteUsdPerMtok: float | None = Field(default=None, ge=0, le=10_000)


class UserSettings(_Record):
    """A person's preferences. Every field has a default so a new user needs no set-up."""

    modelProvider: ModelProvider | None = None
    """None = the deployment's default provider."""
    modelId: str | None = Field(default=None, max_length=200)
    idleTimeoutMinutes: int = Field(default=15, ge=1, le=24 * 60)
    wakeOnConnect: bool = True
    heartbeat: HeartbeatPolicy = "off"
    activeHoursStart: int = Field(default=8, ge=0, le=23)
    activeHoursEnd: int = Field(default=22, ge=1, le=24)
    timezone: str = Field(default="UTC", max_length=64)
    scheduledWakes: ScheduledWakePolicy = "own-jobs"
    wakeLeadSeconds: int = Field(default=120, ge=0, le=3600)
    maxScheduledWakesPerDay: int = Field(default=12, ge=0, le=288)
    dailyBudgetUsd: float | None = Field(default=None, ge=0, le=100_000)
    """Estimated LLM spend per UTC day after which automations and heartbeats pause (and
    chat stops, per `chatOverBudget`). None = no limit."""
    monthlyBudgetUsd: float | None = Field(default=None, ge=0, le=1_000_000)
    chatOverBudget: ChatOverBudget = "stop"
    """Once a budget is reached: refuse new chat messages until it resets, or keep chatting."""
    llmPrices: dict[ModelRef, LlmPrice] = Field(default={}, max_length=MAX_PRICE_OVERRIDES)
    """The person's prices per model, over the built-in table (core/llm_prices.py)."""


class AgentStatus(_Record):
    state: AgentState
    phase: str | None = None
    startedAt: datetime | None = None
    lastActivityAt: datetime | None = None
    lastBackupAt: datetime | None = None
    lastBackupBytes: int | None = None
    nextWakeAt: datetime | None = None
    nextWakeJob: str | None = None
    lastError: str | None = None


class PairingCode(_Record):
    code: str
    expiresAt: datetime


class TelegramLink(_Record):
    chatId: int
    username: str | None = None
    linkedAt: datetime


class SpendPeriod(_Record):
    """Estimated LLM spend of one UTC day or month."""

    period: str
    """`2026-11-30` or `2026-11`."""
    tokens: int
    costUsd: float
    unpricedTokens: int = 0
    """Tokens of models without a price (counted, not priced)."""
    budgetUsd: float | None = None
    resetsAt: datetime


class ModelPriceRow(_Record):
    """One line of the price table the estimates use, with the person's override applied."""

    model: str
    inputUsdPerMtok: float
    outputUsdPerMtok: float
    cacheReadUsdPerMtok: float
    cacheWriteUsdPerMtok: float
    source: str
    asOf: str | None = None
    overridden: bool = False


class UsageSummary(_Record):
    """`GET /api/usage`: today's and this month's spend against the budgets."""

    today: SpendPeriod
    thisMonth: SpendPeriod
    budgetReached: Literal["daily", "monthly"] | None = None
    pausedUntil: datetime | None = None
    """While a budget is reached: when automations (and chat, if it stops) resume."""
    chatOverBudget: ChatOverBudget = "stop"
    prices: list[ModelPriceRow] = []


class AttachmentUploadRequest(_Record):
    """The body of `POST /api/attachments`: what the browser is about to upload."""

    name: str = Field(min_length=1, max_length=1000)
    contentType: str = Field(default="", max_length=200)
    """The browser's `File.type`; may be empty (then the name's extension decides)."""
    size: int = Field(ge=1)


class UploadForm(_Record):
    """How the browser sends the bytes: an HTML form POST to `url` with every field of
    `fields`, then the file as the last field, `file` (S3's presigned POST; the local stack
    serves the same form). The form only accepts this attachment's type and size."""

    url: str
    fields: dict[str, str]


class AttachmentUpload(_Record):
    """The answer to `POST /api/attachments`: the attachment as it will be listed, and where
    its bytes go. Send the message (its id in `attachments`) after the upload succeeded."""

    attachment: Attachment
    upload: UploadForm
    expiresAt: datetime


class AttachmentLink(_Record):
    """A short-lived address of an attachment's bytes (`GET /api/attachments/{id}`): images
    are served inline (for thumbnails), other files as a download under their own name."""

    url: str
    expiresAt: datetime
