"""The JSON Schema the web client is typed from: fresh, complete, and true to the wire."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from serverless_openclaw.contracts import frames, records
from serverless_openclaw.contracts.frames import encode
from serverless_openclaw.contracts.schema import export, export_text

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "web" / "src" / "generated" / "contracts.schema.json"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    document = export()
    schema = {"$schema": document["$schema"], "$defs": document["$defs"]}
    schema["$ref"] = f"#/$defs/{name}"
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == export_text(), (
        "web/src/generated/contracts.schema.json is stale: "
        "run `serverless-openclaw contracts export` and commit it"
    )


def test_every_frame_and_record_is_exported() -> None:
    defs = export()["$defs"]
    for name in (
        "SendFrame",
        "AbortFrame",
        "PingFrame",
        "StatusRequestFrame",
        "AckFrame",
        "PongFrame",
        "StatusFrame",
        "StreamStartFrame",
        "StreamChunkFrame",
        "StreamEndFrame",
        "ErrorFrame",
        "Conversation",
        "Message",
        "PageConversation",
        "PageMessage",
        "UserSettings",
        "UserSettingsUpdate",
        "AgentStatus",
        "PairingCode",
        "TelegramLink",
        "ClientFrame",
        "ServerFrame",
    ):
        assert name in defs, name


def test_server_frame_tags_are_required_so_the_client_can_narrow_on_them() -> None:
    defs = export()["$defs"]
    for ref in defs["ServerFrame"]["oneOf"]:
        model = defs[ref["$ref"].removeprefix("#/$defs/")]
        assert "type" in model["required"], model["title"]
    # Present on the wire whenever encode() runs (it drops only None values).
    assert "proactive" in defs["StreamStartFrame"]["required"]
    assert "aborted" in defs["StreamEndFrame"]["required"]
    assert "phase" not in defs["StatusFrame"].get("required", [])


@pytest.mark.parametrize(
    "frame",
    [
        frames.AckFrame(id="msg-00000001", conversationId="main"),
        frames.PongFrame(),
        frames.StatusFrame(agent="starting", phase="restoring state"),
        frames.StatusFrame(agent="idle"),
        frames.StreamStartFrame(id="msg-00000001", conversationId="main", proactive=True),
        frames.StreamChunkFrame(id="msg-00000001", text="Hel"),
        frames.StreamEndFrame(id="msg-00000001", text="Hello", aborted=True),
        frames.ErrorFrame(code="quota_exceeded", message="slow down"),
    ],
)
def test_what_the_server_encodes_matches_the_server_frame_schema(frame: Any) -> None:
    _validator("ServerFrame").validate(json.loads(encode(frame)))


def test_the_schema_rejects_what_the_server_would_reject() -> None:
    validator = _validator("ClientFrame")
    validator.validate({"action": "send", "id": "abcdefgh", "text": "hi"})
    validator.validate({"action": "abort"})
    for bad in (
        {"action": "send", "id": "short", "text": "hi"},
        {"action": "send", "id": "abcdefgh", "text": "hi", "extra": 1},
        {"action": "dance"},
    ):
        assert not validator.is_valid(bad), bad


def test_records_as_the_api_returns_them_match() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    page = records.Page[records.Message](
        items=[
            records.Message(
                id="m1", conversationId="main", role="assistant", text="hi", createdAt=now
            )
        ]
    )
    _validator("PageMessage").validate(json.loads(page.model_dump_json(exclude_none=True)))
    settings = json.loads(records.UserSettings().model_dump_json())
    _validator("UserSettings").validate(settings)
    _validator("UserSettingsUpdate").validate({"idleTimeoutMinutes": 30})
    assert not _validator("UserSettingsUpdate").is_valid({"idleTimeoutMinutes": 0})


def test_shared_limits_travel_with_the_schema() -> None:
    assert export()["x-limits"]["MAX_TEXT_BYTES"] == 32 * 1024
    assert export()["x-limits"]["MAIN_CONVERSATION_ID"] == "main"
