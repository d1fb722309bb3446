"""Attachments through the real handlers (memory adapters, the local stack's upload form):
ask for an upload, upload, send a message naming it, fetch a link — and what a person sees
when something is off (a type we do not take, a file too big, an upload that never finished,
somebody else's attachment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.contracts.limits import MAX_IMAGE_BYTES
from serverless_openclaw.gateway import http_api, ws_message
from serverless_openclaw.local.attachment_files import routes
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.settings import HandlerSettings

from .conftest import TestTokens, body_of, http_event, message_event

USER = "att-user-0001"
OTHER = "att-user-0002"
CONNECTION = "AttConn0001="
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03" + b"\x00" * 40


@dataclass
class World:
    services: Services
    ports: MemoryPorts
    site: httpx.Client

    def call(self, method: str, path: str, user: str = USER, **kw: Any) -> dict[str, Any]:
        return http_api.handle(http_event(method, path, user, **kw), self.services)

    def send(self, frame: dict[str, Any]) -> dict[str, Any]:
        answer = ws_message.handle(
            message_event(CONNECTION, {"action": "send", **frame}), self.services
        )
        return json.loads(answer["body"]) if answer.get("body") else {}

    def upload(self, name: str, data: bytes, content_type: str, user: str = USER) -> str:
        granted = self.call(
            "POST",
            "/api/attachments",
            user,
            body={"name": name, "contentType": content_type, "size": len(data)},
        )
        assert granted["statusCode"] == 201, granted
        ticket = body_of(granted)
        form = self.site.post(
            ticket["upload"]["url"],
            data=ticket["upload"]["fields"],
            files={"file": (name, data, content_type)},
        )
        assert form.status_code == 204
        return str(ticket["attachment"]["id"])


@pytest.fixture
def world() -> Iterator[World]:
    ports = MemoryPorts()
    services = Services(HandlerSettings.given(), ports, verifier=TestTokens())
    services.user_settings.update(USER, {"wakeOnConnect": False})
    services.connections.put(CONNECTION, USER, services.clock())
    server = serve_in_thread(Starlette(routes=routes(ports.attachments())))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as site:
            yield World(services, ports, site)
    finally:
        server.stop()


def queued_job(world: World) -> ChatJob:
    consumer = world.ports.inbox_consumer(world.ports.inbox().queue_url(USER))
    received = consumer.receive(max_messages=10, wait_seconds=0, visibility_timeout=30)
    jobs = [r.job for r in received if isinstance(r.job, ChatJob)]
    assert len(jobs) == 1
    return jobs[0]


def test_a_photo_sent_with_a_message_reaches_the_inbox_and_the_history(world: World) -> None:
    photo = world.upload("holiday.png", PNG, "image/png")
    ack = world.send({"id": "msg-photo-0001", "text": "look!", "attachments": [photo]})
    assert ack["type"] == "ack"

    job = queued_job(world)
    assert [(a.id, a.name, a.contentType, a.size, a.kind) for a in job.attachments] == [
        (photo, "holiday.png", "image/png", len(PNG), "image")
    ]
    history = body_of(world.call("GET", "/api/conversations/main/messages"))["items"]
    assert history[0]["text"] == "look!"
    assert history[0]["attachments"][0]["name"] == "holiday.png"

    link = body_of(world.call("GET", f"/api/attachments/{photo}"))
    shown = world.site.get(link["url"])
    assert shown.content == PNG
    assert shown.headers["content-disposition"].startswith("inline")


def test_a_file_alone_is_a_message_and_downloads_under_its_name(world: World) -> None:
    notes = world.upload("notes.md", b"# hello\n", "")  # browsers give .md no type
    assert world.send({"id": "msg-file-00001", "attachments": [notes]})["type"] == "ack"
    assert queued_job(world).attachments[0].contentType == "text/markdown"

    link = body_of(world.call("GET", f"/api/attachments/{notes}"))
    assert world.site.get(link["url"]).headers["content-disposition"].startswith("attachment")


def test_what_cannot_be_sent_is_refused_before_the_upload(world: World) -> None:
    cases = [
        ({"name": "tool.exe", "contentType": "application/x-msdownload", "size": 10}, 415),
        ({"name": "page.svg", "contentType": "image/svg+xml", "size": 10}, 415),
        ({"name": "huge.png", "contentType": "image/png", "size": MAX_IMAGE_BYTES + 1}, 413),
        ({"name": "x.png", "contentType": "image/png", "size": 0}, 400),
        ({"name": "x.png"}, 400),
    ]
    for body, status in cases:
        answer = world.call("POST", "/api/attachments", body=body)
        assert answer["statusCode"] == status, (body, answer)
        assert body_of(answer)["error"]["message"]
    message = body_of(world.call("POST", "/api/attachments", body=cases[2][0]))["error"]["message"]
    assert message == "huge.png: 5.1 MB is over the 5 MB limit for images"


def test_a_message_naming_an_unfinished_upload_is_refused(world: World) -> None:
    granted = body_of(
        world.call(
            "POST",
            "/api/attachments",
            body={"name": "a.png", "contentType": "image/png", "size": len(PNG)},
        )
    )
    answer = world.send(
        {"id": "msg-early-0001", "text": "hi", "attachments": [granted["attachment"]["id"]]}
    )
    assert (answer["type"], answer["code"]) == ("error", "attachment_missing")
    assert world.ports.inbox().depth(USER) == 0


def test_another_persons_attachment_is_not_there(world: World) -> None:
    theirs = world.upload("secret.png", PNG, "image/png", user=OTHER)
    assert world.call("GET", f"/api/attachments/{theirs}")["statusCode"] == 404
    answer = world.send({"id": "msg-steal-0001", "text": "mine?", "attachments": [theirs]})
    assert answer["code"] == "attachment_missing"
    for bad in ("..%2F..%2Fx", "short", "a" * 65):
        assert world.call("GET", f"/api/attachments/{bad}")["statusCode"] == 404


def test_too_many_or_too_much_in_one_message_is_refused(world: World) -> None:
    ids = [world.upload(f"p{n}.png", PNG, "image/png") for n in range(6)]
    answer = world.send({"id": "msg-many-00001", "text": "all", "attachments": ids})
    assert answer["code"] == "invalid_request"
    assert world.ports.inbox().depth(USER) == 0
    answer = world.send({"id": "msg-twice-0001", "text": "x", "attachments": [ids[0], ids[0]]})
    assert answer["code"] == "invalid_request"


def test_an_empty_message_without_attachments_is_still_refused(world: World) -> None:
    assert world.send({"id": "msg-empty-0001", "text": "  "})["code"] == "invalid_request"
