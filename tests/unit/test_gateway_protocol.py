"""The gateway protocol without sockets: framing, signatures, delta assembly, liveness."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from serverless_openclaw.agent.openclaw.client import Liveness
from serverless_openclaw.agent.openclaw.device import DeviceIdentity, SignatureInput
from serverless_openclaw.agent.openclaw.protocol import (
    Challenge,
    ChatEvent,
    ErrorShape,
    EventFrame,
    ResponseFrame,
    TextAssembler,
    connect_params,
    error_from,
    parse_challenge,
    parse_frame,
    parse_hello,
    request_frame,
)
from serverless_openclaw.core.errors import GatewayAuthError, GatewayProtocolError


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- framing -------------------------------------------------------------------------------
def test_request_frame_has_exactly_the_documented_fields() -> None:
    frame = json.loads(request_frame("r1", "chat.send", {"sessionKey": "agent:main:x"}))
    assert frame == {
        "type": "req",
        "id": "r1",
        "method": "chat.send",
        "params": {"sessionKey": "agent:main:x"},
    }


def test_parse_frame_reads_responses_and_events() -> None:
    res = parse_frame('{"type":"res","id":"1","ok":false,"error":{"code":"X","message":"m"}}')
    assert isinstance(res, ResponseFrame) and res.error and res.error.code == "X"
    ev = parse_frame('{"type":"event","event":"tick","payload":{},"seq":3}')
    assert isinstance(ev, EventFrame) and ev.seq == 3


@pytest.mark.parametrize(
    "raw",
    ["not json", "[1,2]", '{"type":"nope"}', '{"type":"res","ok":true}', b"\xff\xfe"],
)
def test_malformed_frames_are_protocol_errors(raw: str | bytes) -> None:
    with pytest.raises(GatewayProtocolError):
        parse_frame(raw)


def test_challenge_must_come_first_and_be_complete() -> None:
    good = parse_frame(
        '{"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":5}}'
    )
    assert parse_challenge(good) == Challenge("n", 5)
    for payload in ('{"nonce":"n"}', '{"nonce":"","ts":5}', '{"nonce":"n","ts":-1}'):
        frame = parse_frame(f'{{"type":"event","event":"connect.challenge","payload":{payload}}}')
        with pytest.raises(GatewayProtocolError):
            parse_challenge(frame)
    with pytest.raises(GatewayProtocolError):
        parse_challenge(parse_frame('{"type":"event","event":"tick"}'))


def test_hello_outside_our_protocol_range_is_refused() -> None:
    hello = parse_hello(
        {"type": "hello-ok", "protocol": 4, "policy": {"tickIntervalMs": 15000}, "server": {}}
    )
    assert hello.tick_interval_ms == 15000
    with pytest.raises(GatewayProtocolError):
        parse_hello({"type": "hello-ok", "protocol": 5})


def test_error_mapping_keeps_auth_errors_final_and_unavailable_retryable() -> None:
    auth = error_from(
        "connect",
        ErrorShape(code="INVALID_REQUEST", message="bad", details={"code": "AUTH_TOKEN_MISMATCH"}),
    )
    assert isinstance(auth, GatewayAuthError) and not auth.retryable
    busy = error_from("connect", ErrorShape(code="UNAVAILABLE", retryAfterMs=250))
    assert busy.retryable and busy.retry_after_ms == 250
    device = error_from("connect", ErrorShape(details={"code": "DEVICE_AUTH_SIGNATURE_INVALID"}))
    assert isinstance(device, GatewayAuthError)


# --- device identity -----------------------------------------------------------------------
def test_signature_payload_is_the_v3_layout() -> None:
    data = SignatureInput(
        device_id="dev",
        client_id="gateway-client",
        client_mode="backend",
        role="operator",
        scopes=("operator.read", "operator.write"),
        signed_at_ms=123,
        token="tok",
        nonce="non",
        platform="Linux",
    )
    assert data.payload() == (
        "v3|dev|gateway-client|backend|operator|operator.read,operator.write|123|tok|non|linux|"
    )


def test_connect_params_carry_a_verifiable_signature() -> None:
    identity = DeviceIdentity.generate()
    params = connect_params(
        challenge=Challenge("nonce-1", 1700), token="t0k", identity=identity, client_version="1"
    )
    device = params["device"]
    raw = unb64url(device["publicKey"])
    assert device["id"] == hashlib.sha256(raw).hexdigest()
    assert device["signedAt"] == 1700 and device["nonce"] == "nonce-1"
    expected = (
        f"v3|{device['id']}|gateway-client|backend|operator|operator.read,operator.write|"
        "1700|t0k|nonce-1|linux|"
    )
    Ed25519PublicKey.from_public_bytes(raw).verify(unb64url(device["signature"]), expected.encode())
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(raw).verify(
            unb64url(device["signature"]), expected.replace("t0k", "other").encode()
        )
    assert params["minProtocol"] == 3 and params["maxProtocol"] == 4


def test_device_key_persists_with_private_permissions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = DeviceIdentity.load_or_create(tmp_path)
    second = DeviceIdentity.load_or_create(tmp_path)
    assert first.device_id == second.device_id
    key_file = tmp_path / "soc" / "device-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


# --- delta assembly ------------------------------------------------------------------------
def delta(seq: int, text: str | None = None, *, full: str | None = None, replace: bool = False):  # type: ignore[no-untyped-def]
    message = {"role": "assistant", "content": [{"type": "text", "text": full}]} if full else None
    return ChatEvent(
        runId="r", seq=seq, state="delta", deltaText=text, replace=replace, message=message
    )


def test_suffix_deltas_append() -> None:
    asm = TextAssembler()
    assert asm.feed(delta(1, "Hel")).appended == "Hel"  # type: ignore[union-attr]
    update = asm.feed(delta(2, "lo"))
    assert update is not None and update.appended == "lo" and update.text == "Hello"


def test_cumulative_message_text_wins_over_delta_text() -> None:
    asm = TextAssembler()
    asm.feed(delta(1, "Hel", full="Hel"))
    update = asm.feed(delta(2, "lo", full="Hello"))
    assert update is not None and update.appended == "lo" and asm.text == "Hello"


def test_replace_that_rewrites_earlier_text_is_flagged() -> None:
    asm = TextAssembler()
    asm.feed(delta(1, "Answer: <<<INTERNAL"))
    update = asm.feed(delta(2, "Answer: 42", replace=True))
    assert update is not None and update.replaced and update.text == "Answer: 42"
    grown = asm.feed(delta(3, "Answer: 42!", replace=True))
    assert grown is not None and not grown.replaced and grown.appended == "!"


def test_duplicate_and_stale_events_are_ignored() -> None:
    asm = TextAssembler()
    asm.feed(delta(5, "abc"))
    assert asm.feed(delta(5, "abc")) is None
    assert asm.feed(delta(4, "zzz")) is None
    assert asm.text == "abc"


def test_final_without_message_keeps_streamed_text() -> None:
    asm = TextAssembler()
    asm.feed(delta(1, "partial"))
    assert asm.finish(ChatEvent(runId="r", seq=2, state="final")) == "partial"
    final = ChatEvent(
        runId="r", seq=3, state="final", message={"content": [{"type": "text", "text": "done"}]}
    )
    assert asm.finish(final) == "done"


# --- liveness ------------------------------------------------------------------------------
def test_socket_is_dead_after_two_silent_tick_intervals() -> None:
    live = Liveness(tick_interval_s=15, grace_s=5)
    live.seen(100.0)
    assert not live.is_dead(130.0)
    assert live.is_dead(135.1)
    live.seen(135.0)
    assert not live.is_dead(140.0)
