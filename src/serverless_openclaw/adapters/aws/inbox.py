"""Per-user inbox queues (decision D1): the durable hand-off from Lambda to the agent.

One SQS FIFO queue per user, `<prefix>-inbox-<userId>.fifo`, created on first need (creating
an existing queue with the same attributes is a no-op in SQS, so concurrent first messages
are fine). Every inbox hands a job that failed `MAX_RECEIVES` deliveries to ONE shared
dead-letter queue, `<prefix>-dead-letters.fifo`: the queue the alarm watches and the
watchdog reads (`dead_letters`), so the person is told their message could not be answered.
On AWS the Storage stack makes it and the handlers get its ARN; without one configured (the
local stack, tests) the inbox makes it on first need, under the same name.

Each inbox accepts only TLS (a queue policy denies `aws:SecureTransport = false`), like the
queues the stacks create. MessageGroupId per `contracts.jobs.message_group`,
MessageDeduplicationId = jobId (a resend within 5 minutes is dropped by SQS itself).

Producer: `Inbox.send`. Consumer (the agent's bridge): `InboxConsumer` — long-poll
`receive`, `delete` after the job is done, `change_visibility` to keep or release a job.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
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
QUEUE_NAME_MAX: Final = 80
USER_ID_MAX: Final = 36
"""Cognito `sub`s are UUIDs: the longest user id an inbox name must hold."""
DEAD_LETTER_VISIBILITY_S: Final = 120
"""A dead letter taken by the watchdog comes back after this long if it is not dropped."""
SEND_RETRY_DELAYS_S: Final = (0.25, 0.5, 1.0, 2.0)
"""SQS may answer NonExistentQueue for about a second after CreateQueue: a new person's
first message retries through that window instead of failing."""

_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def inbox_name_prefix(prefix: str) -> str:
    """What every inbox name of a deployment starts with (IAM policies name `<this>*`)."""
    return f"{prefix}-inbox-"


def dead_letter_queue_name(prefix: str) -> str:
    """The one dead-letter queue of a deployment (outside the inbox names on purpose: an
    agent's rights on inboxes never reach it)."""
    return f"{prefix}-dead-letters.fifo"


def longest_queue_name(prefix: str) -> int:
    return len(f"{inbox_name_prefix(prefix)}{'x' * USER_ID_MAX}.fifo")


def queue_name(prefix: str, user_id: str) -> str:
    """SQS names allow [A-Za-z0-9_-] and 80 characters; Cognito `sub`s (UUIDs) fit whenever
    the prefix does (the deployment config checks it)."""
    if not _USER_ID.match(user_id):
        raise InvalidRequest("user id cannot name a queue")
    name = f"{inbox_name_prefix(prefix)}{user_id}.fifo"
    if len(name) > QUEUE_NAME_MAX:
        raise InvalidRequest("queue name too long: shorten the resource prefix")
    return name


def tls_only_policy(queue_arn: str) -> str:
    """The queue policy every inbox gets: no request over plain HTTP."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def _converted(what: str) -> AbstractContextManager[None]:
    return converted("SQS", what)


__all__ = ["MAX_RECEIVES", "Inbox", "InboxConsumer", "ReceivedJob", "queue_name"]


class Inbox:
    """The producer side, used by the Lambda handlers (and the watchdog's view of dead
    letters). Queue URLs are cached per container."""

    def __init__(
        self,
        client: SQSClient,
        prefix: str,
        *,
        dead_letter_arn: str | None = None,
        send_retry_delays: Sequence[float] = SEND_RETRY_DELAYS_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = client
        self._prefix = prefix
        self._dead_letter_arn = dead_letter_arn
        self._dead_letter_url: str | None = None
        self._retry_delays = tuple(send_retry_delays)
        self._sleep = sleep
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def queue_url(self, user_id: str, *, create: bool = True) -> str:
        """The user's inbox URL, creating the queue when `create` is set; `NotFound` when it
        does not exist and `create` is off."""
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
                url = self._create(name)
            except StorageUnavailable:
                # A concurrent first message may have created it a moment ago.
                with _converted("get queue url"):
                    url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        with self._lock:
            self._urls[user_id] = url
        return url

    def _fifo(self) -> dict[QueueAttributeNameType, str]:
        return {"FifoQueue": "true", "ContentBasedDeduplication": "false"}

    def dead_letter_arn(self) -> str:
        """The shared dead-letter queue's ARN (made on first need when none is configured)."""
        if self._dead_letter_arn is None:
            name = dead_letter_queue_name(self._prefix)
            with _converted("create dead-letter queue"):
                url = self._sqs.create_queue(
                    QueueName=name,
                    Attributes={**self._fifo(), "MessageRetentionPeriod": str(DLQ_RETENTION_S)},
                )["QueueUrl"]
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn"]
                )["Attributes"]
            self._dead_letter_url = url
            self._dead_letter_arn = attributes["QueueArn"]
        return self._dead_letter_arn

    def _dead_letter_queue_url(self) -> str:
        if self._dead_letter_url is None:
            arn = self.dead_letter_arn()
            if self._dead_letter_url is None:
                account, name = arn.split(":")[4], arn.split(":")[5]
                with _converted("get dead-letter queue url"):
                    self._dead_letter_url = self._sqs.get_queue_url(
                        QueueName=name, QueueOwnerAWSAccountId=account
                    )["QueueUrl"]
        return self._dead_letter_url

    def _create(self, name: str) -> str:
        dead_letters = self.dead_letter_arn()
        queue_arn = ":".join([*dead_letters.split(":")[:5], name])
        redrive = json.dumps(
            {"deadLetterTargetArn": dead_letters, "maxReceiveCount": MAX_RECEIVES},
            separators=(",", ":"),
            sort_keys=True,
        )
        with _converted("create inbox"):
            return self._sqs.create_queue(
                QueueName=name,
                Attributes={
                    **self._fifo(),
                    "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
                    "MessageRetentionPeriod": str(RETENTION_S),
                    "RedrivePolicy": redrive,
                    "Policy": tls_only_policy(queue_arn),
                },
            )["QueueUrl"]

    def send(self, job: ChatJob | ControlJob) -> str:
        """Durably queue `job`; returns the SQS message id. Sending the same jobId twice
        within 5 minutes queues it once. A queue created a moment ago may not be found yet:
        that is retried with growing delays."""
        url = self.queue_url(job.userId)
        delays = iter(self._retry_delays)
        while True:
            try:
                with _converted("send"):
                    answer = self._sqs.send_message(
                        QueueUrl=url,
                        MessageBody=job.model_dump_json(),
                        MessageGroupId=message_group(job),
                        MessageDeduplicationId=job.jobId,
                    )
                return answer["MessageId"]
            except NotFound:
                delay = next(delays, None)
                if delay is None:
                    raise
                self._sleep(delay)

    def dead_letters(self, *, max_jobs: int = 10) -> list[DeadLetter]:
        """Jobs that exhausted their deliveries, whoever they belong to; hidden for
        `DEAD_LETTER_VISIBILITY_S` until dropped."""
        with _converted("receive dead letters"):
            answer = self._sqs.receive_message(
                QueueUrl=self._dead_letter_queue_url(),
                MaxNumberOfMessages=max(1, min(max_jobs, 10)),
                WaitTimeSeconds=0,
                VisibilityTimeout=DEAD_LETTER_VISIBILITY_S,
            )
        return [
            DeadLetter(
                job=_parse(message.get("Body", "")),
                body=message.get("Body", ""),
                receipt_handle=message["ReceiptHandle"],
                message_id=message["MessageId"],
            )
            for message in answer.get("Messages", [])
        ]

    def drop_dead_letter(self, receipt_handle: str) -> None:
        with _converted("delete dead letter"):
            self._sqs.delete_message(
                QueueUrl=self._dead_letter_queue_url(), ReceiptHandle=receipt_handle
            )

    def delete_inbox(self, user_id: str) -> None:
        try:
            with _converted("get queue url"):
                url = self._sqs.get_queue_url(QueueName=queue_name(self._prefix, user_id))[
                    "QueueUrl"
                ]
        except NotFound:
            url = None
        if url is not None:
            with _converted("delete queue"):
                self._sqs.delete_queue(QueueUrl=url)
        with self._lock:
            self._urls.pop(user_id, None)

    def inbox_users(self) -> list[str]:
        start = inbox_name_prefix(self._prefix)
        users: list[str] = []
        with _converted("list queues"):
            pages = self._sqs.get_paginator("list_queues").paginate(QueueNamePrefix=start)
            for page in pages:
                for url in page.get("QueueUrls", []):
                    name = url.rsplit("/", 1)[-1]
                    if name.startswith(start) and name.endswith(".fifo"):
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

    def depth(self) -> int:
        with _converted("get attributes"):
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        return sum(int(v) for v in attrs.values())
