"""A process using the embedded family the way the local stack and an agent task do, printing
each write once it is acknowledged (the call returned). Run by test_embedded_crash.py:

    python _embedded_child.py writes <root> <first n>     # until killed
    python _embedded_child.py produce <root> <count>
    python _embedded_child.py consume <root> <count>
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from serverless_openclaw.adapters.embedded import EmbeddedPorts
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.contracts.records import Message

USER = "u1"


def job(n: int) -> ChatJob:
    return ChatJob(
        jobId=f"job-{n:08d}",
        userId=USER,
        source="web",
        conversationId="main",
        text=f"hello {n}",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )


def ack(*parts: object) -> None:
    print(*parts, flush=True)


def writes(ports: EmbeddedPorts, first: int, scratch: Path) -> None:
    inbox = ports.inbox()
    conversations = ports.conversations()
    blobs = ports.state_blobs(f"agents/{USER}/")
    n = first
    while True:
        message = Message(
            id=f"m-{n:08d}",
            conversationId="main",
            role="user",
            text=f"message {n}",
            createdAt=datetime.now(UTC),
        )
        conversations.put_message(USER, message)
        ack("message", message.id)
        if n % 2 == 0:
            ack("job", job(n).jobId, inbox.send(job(n)))
        if n % 5 == 0:
            source = scratch / f"blob-{n}"
            source.write_bytes(f"blob {n}\n".encode() * 2000)
            ack("blob", blobs.upload(f"state-{n}.bin", source), n)
        n += 1


def produce(ports: EmbeddedPorts, count: int) -> None:
    inbox = ports.inbox()
    for n in range(count):
        inbox.send(job(n))
        ack("sent", job(n).jobId)


def consume(ports: EmbeddedPorts, count: int) -> None:
    consumer = ports.inbox_consumer(ports.inbox().queue_url(USER))
    ack("ready")
    seen = 0
    while seen < count:
        received = consumer.receive(max_messages=1, wait_seconds=5)
        if not received:
            ack("idle")
            return
        for delivery in received:
            assert delivery.job is not None
            consumer.delete(delivery.receipt_handle)
            ack("got", delivery.job.jobId, delivery.receive_count)
            seen += 1


def main() -> None:
    mode, root, number = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    ports = EmbeddedPorts(root)
    if mode == "writes":
        scratch = root.parent / f"scratch-{number}"
        scratch.mkdir(parents=True, exist_ok=True)
        writes(ports, number, scratch)
    elif mode == "produce":
        produce(ports, number)
    elif mode == "consume":
        consume(ports, number)
    ports.close()


if __name__ == "__main__":
    main()
