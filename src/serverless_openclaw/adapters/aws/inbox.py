"""Per-user inbox queues (decision D1): the durable hand-off from Lambda to the agent.

One SQS FIFO queue per user, `<prefix>-inbox-<userId>.fifo`, created on first need (creating
an existing queue with the same attributes is a no-op in SQS, so concurrent first messages
are fine), with a dead-letter queue `<prefix>-inbox-<userId>-dlq.fifo` that receives a job
after `MAX_RECEIVES` failed deliveries. MessageGroupId per `contracts.jobs.message_group`,
MessageDeduplicationId = jobId (a resend within 5 minutes is dropped by SQS itself).

Producer: `Inbox.send`. Consumer (the agent's bridge): `InboxConsumer` — long-poll
`receive`, `delete` after the job is done, `change_visibility` to keep or release a job.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, inbox_job_adapter, message_group
from serverless_openclaw.core.errors import InvalidRequest, NotFound, StorageUnavailable
from serverless_openclaw.ports.inbox import (
    MAX_RECEIVES,
    MAX_WAIT_S,
    VISIBILITY_TIMEOUT_S,
    DeadLetter,
    ReceivedJob,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

RETENTION_S: Final = 4 * 24 * 3600
DLQ_RETENTION_S: Final = 14 * 24 * 3600

_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def queue_name(prefix: str, user_id: str, *, dead_letter: bool = False) -> str:
    """SQS names allow [A-Za-z0-9_-] and 80 characters; Cognito `sub`s (UUIDs) fit."""
    if not _USER_ID.match(user_id):
        raise InvalidRequest("user id cannot name a queue")
    name = f"{prefix}-inbox-{user_id}{'-dlq' if dead_letter else ''}.fifo"
    if len(name) > 80:
        raise InvalidRequest("queue name too long: shorten the resource prefix")
    return name


def _converted(what: str) -> AbstractContextManager[None]:
    return converted("SQS", what)


__all__ = ["MAX_RECEIVES", "Inbox", "InboxConsumer", "ReceivedJob", "queue_name"]


class Inbox:
    """The producer side, used by the Lambda handlers. Queue URLs are cached per container."""

    def __init__(self, client: SQSClient, prefix: str) -> None:
        self._sqs = client
        self._prefix = prefix
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def queue_url(self, user_id: str, *, create: bool = True) -> str:
        """The user's inbox URL, creating the queue (and its DLQ) when `create` is set;
        `NotFound` when it does not exist and `create` is off."""
        with self._lock:
            cached = self._urls.get(user_id)
        if cached:
            return cached
        name = queue_name(self._prefix, user_id)
        try:
            with _converted("get queue url"):
                url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except NotFound:
            if not create:
                raise
            try:
                url = self._create(user_id)
            except StorageUnavailable:
                # A concurrent first message may have created it a moment ago.
                with _converted("get queue url"):
                    url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        with self._lock:
            self._urls[user_id] = url
        return url

    def _create(self, user_id: str) -> str:
        fifo: dict[QueueAttributeNameType, str] = {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
        }
        with _converted("create dead-letter queue"):
            dlq_url = self._sqs.create_queue(
                QueueName=queue_name(self._prefix, user_id, dead_letter=True),
                Attributes={**fifo, "MessageRetentionPeriod": str(DLQ_RETENTION_S)},
            )["QueueUrl"]
            dlq_arn = self._sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        redrive = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES},
            separators=(",", ":"),
            sort_keys=True,
        )
        with _converted("create inbox"):
            return self._sqs.create_queue(
                QueueName=queue_name(self._prefix, user_id),
                Attributes={
                    **fifo,
                    "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
                    "MessageRetentionPeriod": str(RETENTION_S),
                    "RedrivePolicy": redrive,
                },
            )["QueueUrl"]

    def send(self, job: ChatJob | ControlJob) -> str:
        """Durably queue `job`; returns the SQS message id. Sending the same jobId twice
        within 5 minutes queues it once."""
        url = self.queue_url(job.userId)
        with _converted("send"):
            answer = self._sqs.send_message(
                QueueUrl=url,
                MessageBody=job.model_dump_json(),
                MessageGroupId=message_group(job),
                MessageDeduplicationId=job.jobId,
            )
        return answer["MessageId"]

    def dead_letters(self, *, max_jobs: int = 10) -> list[DeadLetter]:
        raise NotImplementedError("the shared dead-letter queue is being wired")

    def drop_dead_letter(self, receipt_handle: str) -> None:
        raise NotImplementedError("the shared dead-letter queue is being wired")

    def delete_inbox(self, user_id: str) -> None:
        for dead_letter in (False, True):
            try:
                with _converted("get queue url"):
                    url = self._sqs.get_queue_url(
                        QueueName=queue_name(self._prefix, user_id, dead_letter=dead_letter)
                    )["QueueUrl"]
            except NotFound:
                continue
            with _converted("delete queue"):
                self._sqs.delete_queue(QueueUrl=url)
        with self._lock:
            self._urls.pop(user_id, None)

    def inbox_users(self) -> list[str]:
        start = f"{self._prefix}-inbox-"
        users: list[str] = []
        with _converted("list queues"):
            pages = self._sqs.get_paginator("list_queues").paginate(QueueNamePrefix=start)
            for page in pages:
                for url in page.get("QueueUrls", []):
                    name = url.rsplit("/", 1)[-1]
                    if name.endswith("-dlq.fifo") or not name.endswith(".fifo"):
                        continue
                    users.append(name[len(start) : -len(".fifo")])
        return sorted(users)

    def depth(self, user_id: str) -> int:
        """Jobs waiting or in flight (approximate, as SQS reports it); 0 with no queue."""
        try:
            url = self.queue_url(user_id, create=False)
        except NotFound:
            return 0
        with _converted("get attributes"):
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        return sum(int(v) for v in attrs.values())


def _parse(body: str) -> ChatJob | ControlJob | None:
    try:
        return inbox_job_adapter.validate_json(body)
    except ValidationError:
        return None


class InboxConsumer:
    """The agent's side of one user's inbox."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self.queue_url = queue_url

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: int = MAX_WAIT_S,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedJob]:
        """Long-poll up to `wait_seconds` (<= 20) for up to `max_messages` (<= 10) jobs."""
        kwargs: dict[str, object] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max(1, min(max_messages, 10)),
            "WaitTimeSeconds": max(0, min(wait_seconds, MAX_WAIT_S)),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "MessageGroupId"],
        }
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        with _converted("receive"):
            answer = self._sqs.receive_message(**kwargs)  # type: ignore[arg-type]
        received: list[ReceivedJob] = []
        for message in answer.get("Messages", []):
            body = message.get("Body", "")
            job = _parse(body)
            received.append(
                ReceivedJob(
                    job=job,
                    body=body,
                    receipt_handle=message["ReceiptHandle"],
                    message_id=message["MessageId"],
                    receive_count=int(
                        message.get("Attributes", {}).get("ApproximateReceiveCount", "1")
                    ),
                )
            )
        return received

    def delete(self, receipt_handle: str) -> None:
        """The job is done (its reply is stored): it will not be delivered again."""
        with _converted("delete"):
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Keep a job hidden longer (a long turn) or, with 0, hand it back at once."""
        with _converted("change visibility"):
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
