"""Inbox jobs: what the Lambda handlers put into a user's SQS FIFO queue for the agent.

SQS attributes: MessageGroupId = userId for chat jobs (one turn at a time, in order) and
`<userId>.control` for control jobs (so that "abort" is not stuck behind the turn it aborts);
MessageDeduplicationId = jobId.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from serverless_openclaw.contracts.frames import Attachment, ConversationId, MessageId
from serverless_openclaw.contracts.records import Message


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebReplyTo(_Job):
    """Replies go to every open WebSocket connection of the user."""

    kind: Literal["web"] = "web"


class TelegramReplyTo(_Job):
    kind: Literal["telegram"] = "telegram"
    chatId: int
    messageId: int | None = None


ReplyTo = Annotated[WebReplyTo | TelegramReplyTo, Field(discriminator="kind")]


class ChatJob(_Job):
    """A person's message. Web jobs use the client's message id; Telegram `tg-<update_id>`."""

    v: Literal[1] = 1
    kind: Literal["chat"] = "chat"
    jobId: MessageId
    userId: str = Field(min_length=1, max_length=128)
    source: Literal["web", "telegram"]
    conversationId: ConversationId
    text: str
    replyTo: ReplyTo
    receivedAt: datetime
    attachments: tuple[Attachment, ...] = ()
    """References to stored files (the bridge reads their bytes from the attachment store)."""

    def user_message(self) -> Message:
        """The person's message as it is stored (its id is the job id: idempotent)."""
        return Message(
            id=self.jobId,
            conversationId=self.conversationId,
            role="user",
            text=self.text,
            createdAt=self.receivedAt,
            source=self.source,
            attachments=self.attachments,
        )


ControlCommand = Literal["abort", "backup", "restart", "stop", "new_conversation"]


class ControlJob(_Job):
    v: Literal[1] = 1
    kind: Literal["control"] = "control"
    jobId: MessageId
    userId: str = Field(min_length=1, max_length=128)
    command: ControlCommand
    conversationId: ConversationId | None = None
    receivedAt: datetime


InboxJob = Annotated[ChatJob | ControlJob, Field(discriminator="kind")]
inbox_job_adapter: TypeAdapter[InboxJob] = TypeAdapter(InboxJob)


def message_group(job: ChatJob | ControlJob) -> str:
    return job.userId if isinstance(job, ChatJob) else f"{job.userId}.control"
