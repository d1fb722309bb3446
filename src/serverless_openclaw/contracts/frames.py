"""Browser <-> WebSocket API frames (JSON text frames).

Client frames are tagged by `action`, server frames by `type`. Models are closed
(`extra="forbid"`) so a typo is a clear error, not a silently ignored field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from serverless_openclaw.contracts.limits import MAX_TEXT_BYTES

ConversationId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MessageId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
AgentState = Literal["idle", "starting", "running", "stopping"]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server ----------------------------------------------------------------------
class SendFrame(_Frame):
    """Send a message. `id` is chosen by the client and reused on resend (we deduplicate)."""

    action: Literal["send"]
    id: MessageId
    conversationId: ConversationId | None = None
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _text_fits(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        if len(value.encode()) > MAX_TEXT_BYTES:
            raise ValueError(f"text is larger than {MAX_TEXT_BYTES} bytes")
        return value


class StatusRequestFrame(_Frame):
    action: Literal["status"]


class AbortFrame(_Frame):
    action: Literal["abort"]
    conversationId: ConversationId | None = None


class PingFrame(_Frame):
    action: Literal["ping"]


ClientFrame = Annotated[
    SendFrame | StatusRequestFrame | AbortFrame | PingFrame, Field(discriminator="action")
]
client_frame_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


# --- server -> client ----------------------------------------------------------------------
class AckFrame(_Frame):
    """The message with this id is durably queued for the agent."""

    type: Literal["ack"] = "ack"
    id: MessageId
    conversationId: ConversationId


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


class StatusFrame(_Frame):
    type: Literal["status"] = "status"
    agent: AgentState
    phase: str | None = None


class StreamStartFrame(_Frame):
    """A reply begins. `id` is the id of the message it answers (or of a proactive message)."""

    type: Literal["stream_start"] = "stream_start"
    id: MessageId
    conversationId: ConversationId
    proactive: bool = False


class StreamChunkFrame(_Frame):
    type: Literal["stream_chunk"] = "stream_chunk"
    id: MessageId
    text: str


class ReplyError(_Frame):
    """Why a message could not be answered, shown in the conversation in place of a reply.
    `retryable`: sending the same message again may work (the UI offers a retry button)."""

    code: str
    message: str
    retryable: bool = False


class StreamEndFrame(_Frame):
    """The reply is complete; `text` is the full reply (it may differ from the chunks' sum
    when the model rewrote its output, so clients show this one). With `error`, the message
    could not be answered and `text` says why."""

    type: Literal["stream_end"] = "stream_end"
    id: MessageId
    text: str
    aborted: bool = False
    error: ReplyError | None = None


class UserMessageFrame(_Frame):
    """A person's message was stored: every open tab shows it in place, whichever tab or
    channel it was sent from (`source`)."""

    type: Literal["message"] = "message"
    id: MessageId
    conversationId: ConversationId
    text: str
    source: Literal["web", "telegram"]
    createdAt: datetime


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    id: str | None = None
    code: str
    message: str


ServerFrame = Annotated[
    AckFrame
    | PongFrame
    | StatusFrame
    | StreamStartFrame
    | StreamChunkFrame
    | StreamEndFrame
    | UserMessageFrame
    | ErrorFrame,
    Field(discriminator="type"),
]
server_frame_adapter: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def encode(frame: _Frame) -> str:
    return frame.model_dump_json(exclude_none=True)
