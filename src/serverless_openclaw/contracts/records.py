"""What the REST API returns and the stores persist, as the web client sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from serverless_openclaw.contracts.frames import AgentState, ReplyError


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


T = TypeVar("T")


class Page(_Record, Generic[T]):
    items: list[T]
    nextCursor: str | None = None


ModelProvider = Literal["offline", "anthropic", "openai", "bedrock", "openai-compatible"]
HeartbeatPolicy = Literal["off", "active-hours", "openclaw"]
ScheduledWakePolicy = Literal["own-jobs", "all-jobs", "none"]


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
