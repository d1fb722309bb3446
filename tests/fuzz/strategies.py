"""Hypothesis strategies for everything that reaches a Lambda from outside: the browser's
WebSocket frames, API Gateway events (WebSocket $connect/$default/$disconnect, HTTP API
payload v2) and Telegram updates.

Each strategy mixes three kinds of input: well-formed values (so that examples get past the
first checks and reach the stores, the inbox and the wake path), values at or just over a
limit (id and text lengths, body sizes, integer ranges, base64), and arbitrary JSON in any
slot.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st
from tests.control_plane.conftest import connect_event, disconnect_event, http_event, message_event
from tests.telegram.conftest import WEBHOOK_SECRET

from serverless_openclaw.contracts.limits import MAX_FRAME_BYTES, MAX_TEXT_BYTES
from serverless_openclaw.local.telegram_poller import webhook_event

# --- building blocks ------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutate(base: dict[str, Any], data: st.DataObject) -> Any:
    """Drop, retype or replace parts of a real event; sometimes replace the whole event."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(json_values)
    event = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(0, 3))):
        target = event
        path = data.draw(st.lists(st.sampled_from(sorted(keys_of(event))), min_size=1, max_size=1))
        keys = path[0].split("/")
        for key in keys[:-1]:
            target = target[key]
        if data.draw(st.booleans()):
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = data.draw(json_values)
        if not isinstance(event, dict):
            break
    return event


def keys_of(event: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(event, dict):
        for key, value in event.items():
            if "/" in str(key):
                continue
            path = f"{prefix}{key}"
            found.add(path)
            found |= keys_of(value, f"{path}/")
    return found


any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
"""Any Unicode a real client could send as UTF-8."""
escaped_surrogates = st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00"])
"""Lone surrogates cannot travel as UTF-8, but a JSON body may carry them as \\u escapes."""
ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:-]{8,64}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_.:-]{0,7}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_.:-]{65,80}", fullmatch=True),
    any_text,
)
conversation_ids = st.one_of(
    st.just("main"),
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    st.sampled_from(["", "..", "../x", "a/b", "x" * 65, "%00", "main\n"]),
    any_text,
)
texts = st.one_of(
    any_text,
    st.sampled_from(["", " ", "\n\t", "\x00", "/stop", "what did I say before?"]),
    escaped_surrogates,
    st.integers(MAX_TEXT_BYTES - 2, MAX_TEXT_BYTES + 2).map(lambda n: "x" * n),
    st.integers(MAX_TEXT_BYTES // 3 - 1, MAX_TEXT_BYTES // 3 + 1).map(lambda n: "€" * n),
)


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: usually of the right kind, sometimes any JSON at all."""
    return st.one_of(values, values, values, json_values)


# --- browser frames -------------------------------------------------------------------------
send_frames = st.fixed_dictionaries(
    {"action": st.just("send"), "id": _maybe(ids), "text": _maybe(texts)},
    optional={"conversationId": _maybe(conversation_ids), "extra": json_values},
)
abort_frames = st.fixed_dictionaries(
    {"action": st.just("abort")},
    optional={"conversationId": _maybe(conversation_ids), "id": ids},
)
bare_frames = st.fixed_dictionaries(
    {"action": st.sampled_from(["status", "ping"])}, optional={"id": ids, "extra": json_values}
)
odd_actions = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["SEND", "Ping", " send", "send ", "$default", "", "delete"])
        | json_values
    },
    optional={"id": ids, "text": texts},
)
good_ids = st.from_regex(r"[A-Za-z0-9_.:-]{8,64}", fullmatch=True)
good_texts = st.one_of(
    any_text.filter(lambda t: t.strip()),
    st.integers(1, MAX_TEXT_BYTES).map(lambda n: "w" * n),
)
good_frames = st.one_of(
    st.fixed_dictionaries(
        {"action": st.just("send"), "id": good_ids, "text": good_texts},
        optional={"conversationId": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)},
    ),
    st.fixed_dictionaries({"action": st.sampled_from(["status", "ping", "abort"])}),
)
"""Frames a correct client sends: they must get ack / status / pong (or nothing, for abort)."""
client_frames = st.one_of(
    good_frames, good_frames, send_frames, abort_frames, bare_frames, odd_actions
)
"""Every client frame of the WebSocket contract, plus near misses."""


def _encode(frame: Any) -> str:
    return json.dumps(frame)  # lone surrogates become \\u escapes, as a browser would send


frame_bodies = st.one_of(
    client_frames.map(_encode),
    client_frames.map(lambda f: _encode(f) + " "),
    json_values.map(_encode),
    any_text,
    st.just("{" * 2000),
    st.integers(MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES + 1).map(
        lambda n: '{"action":"send","id":"abcdefgh","text":"' + "y" * (n - 40) + '"}'
    ),
)


# --- API Gateway WebSocket events -----------------------------------------------------------
connection_ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_=-]{16}", fullmatch=True),
    st.sampled_from(["", "x" * 300]),
    any_text,
)
tokens = st.one_of(
    st.none(),
    st.sampled_from(["", "a.b.c", "a.b", "...", "Bearer x.y.z", "eyJ0eXAiOiJKV1QifQ.e30.e30"]),
    any_text,
)


@st.composite
def websocket_events(draw: st.DrawFn, known_connection: str) -> tuple[str, dict[str, Any]]:
    """(route, event) for $connect, $default or $disconnect, built from AWS's samples and
    then varied: body encodings, headers, query strings, and arbitrary damage."""
    route = draw(st.sampled_from(["connect", "message", "disconnect"]))
    connection = draw(
        st.one_of(st.just(known_connection), st.just(known_connection), connection_ids)
    )
    if route == "connect":
        event = connect_event(connection, draw(tokens), subprotocol=draw(st.booleans()))
        if draw(st.booleans()):
            event["headers"]["Sec-WebSocket-Protocol"] = draw(
                st.sampled_from(["", "chat, a.b.c", "a.b.c,x.y.z", ",,,"]) | any_text
            )
    elif route == "message":
        event = message_event(connection, draw(frame_bodies))
        if draw(st.integers(0, 4)) == 0:
            event["isBase64Encoded"] = True
            raw = event["body"].encode()
            event["body"] = draw(
                st.sampled_from(
                    [
                        base64.b64encode(raw).decode(),
                        "%%%not base64",
                        base64.b64encode(b"\xff").decode(),
                    ]
                )
            )
        if draw(st.integers(0, 6)) == 0:
            event["body"] = None
    else:
        event = disconnect_event(connection)
    if draw(st.integers(0, 3)) == 0:
        event = mutate(event, draw(st.data()))
    return route, event


# --- API Gateway HTTP API (payload v2) events ------------------------------------------------
paths = st.one_of(
    st.sampled_from(
        [
            "/api/conversations",
            "/api/conversations/main",
            "/api/conversations/main/messages",
            "/api/conversations/x%2F..%2Fy/messages",
            "/api/settings",
            "/api/agent",
            "/api/agent/start",
            "/api/agent/stop",
            "/api/agent/restart",
            "/api/agent/backup",
            "/api/telegram",
            "/api/telegram/pairing-code",
            "/api//conversations",
            "/api/conversations/",
            "/",
            "",
        ]
    ),
    conversation_ids.map(lambda c: f"/api/conversations/{c}"),
    conversation_ids.map(lambda c: f"/api/conversations/{c}/messages"),
    any_text.map(lambda s: "/api/" + s),
)
settings_bodies = st.fixed_dictionaries(
    {},
    optional={
        "wakeOnConnect": _maybe(st.booleans()),
        "idleTimeoutMinutes": _maybe(st.integers(-10, 10**12)),
        "modelProvider": _maybe(st.sampled_from(["offline", "anthropic", "openai", "x"])),
        "modelId": _maybe(any_text),
        "heartbeat": _maybe(any_text),
        "activeHoursStart": _maybe(st.integers(-1, 25)),
        "activeHoursEnd": _maybe(st.integers(-1, 25)),
        "scheduledWakes": _maybe(any_text),
        "wakeLeadSeconds": _maybe(st.integers(-1, 10**9)),
        "text": escaped_surrogates,
    },
)
queries = st.none() | st.dictionaries(
    st.sampled_from(["limit", "cursor", "x"]),
    st.one_of(
        st.integers(-1, 101).map(str),
        st.sampled_from(["", "1e3", "0x10", " 5", "eyJ9", "x" * 3000]),
        any_text,
    ),
    max_size=3,
)
subjects = st.one_of(
    st.just("FUZZ_USER"),
    st.sampled_from([None, "", "x" * 3000, "other-user-0001"]),
    any_text,
)


ROUTES = (
    ("GET", "/api/conversations"),
    ("GET", "/api/conversations/main"),
    ("DELETE", "/api/conversations/{c}"),
    ("GET", "/api/conversations/main/messages"),
    ("GET", "/api/conversations/{c}/messages"),
    ("GET", "/api/settings"),
    ("PUT", "/api/settings"),
    ("GET", "/api/agent"),
    ("POST", "/api/agent/start"),
    ("POST", "/api/agent/stop"),
    ("POST", "/api/agent/restart"),
    ("POST", "/api/agent/backup"),
    ("POST", "/api/telegram/pairing-code"),
    ("GET", "/api/telegram"),
    ("DELETE", "/api/telegram"),
)
"""Every route of docs/api.md with its method (the webhook has its own Lambda)."""


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str]:
    """(method, path): mostly a real route, otherwise any method on any path."""
    if draw(st.integers(0, 2)):
        method, template = draw(st.sampled_from(ROUTES))
        return method, template.replace("{c}", draw(conversation_ids))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    return method, draw(paths)


@st.composite
def http_events(draw: st.DrawFn, user_id: str) -> dict[str, Any]:
    """An HTTP API v2 event as API Gateway hands it over after the JWT authorizer."""
    subject = draw(st.one_of(st.just("FUZZ_USER"), st.just("FUZZ_USER"), subjects))
    body = draw(
        st.one_of(
            st.none(),
            settings_bodies.map(_encode),
            settings_bodies.map(_encode),
            json_values.map(_encode),
            any_text,
        )
    )
    method, path = draw(requests())
    event = http_event(
        method,
        path,
        user_id if subject == "FUZZ_USER" else subject,
        query=draw(queries),
        body=body,
    )
    if body is not None and draw(st.integers(0, 4)) == 0:
        event["isBase64Encoded"] = True
        event["body"] = draw(
            st.sampled_from(
                [
                    base64.b64encode(body.encode()).decode(),
                    base64.b64encode(b"\xff\xfe{}").decode(),  # a binary body, not UTF-8
                    "!!not-base64",
                ]
            )
        )
    if draw(st.integers(0, 4)) == 0:
        claims = event["requestContext"].get("authorizer", {}).get("jwt", {}).get("claims")
        if claims is not None:
            claims["sub"] = draw(json_values)
    if draw(st.integers(0, 4)) == 0:
        event = mutate(event, draw(st.data()))
    return event


# --- Telegram updates ----------------------------------------------------------------------
telegram_ints = st.one_of(
    st.integers(1, 2**31),
    st.integers(-(10**13), -1),
    st.sampled_from([0, 2**53, 2**63, -(2**63), 10**40]),
)
media = st.sampled_from(
    ["sticker", "photo", "animation", "video", "voice", "audio", "document", "location", "poll"]
)
command_texts = st.one_of(
    st.sampled_from(["/start", "/help", "/status", "/new", "/stop", "/pair", "/unknown"]),
    st.tuples(
        st.sampled_from(["/pair", "/start", "/PAIR", "/pair@serverless_openclaw_fake_bot"]),
        st.one_of(st.from_regex(r"[A-Z0-9]{4}-?[A-Z0-9]{4}", fullmatch=True), any_text),
    ).map(" ".join),
    st.sampled_from(["/status@OtherBot", "/" + "a" * 40, "/ ", "//", "/start@"]),
)
telegram_texts = st.one_of(
    any_text,
    st.sampled_from(["", " ", "\n\t", "\x00", "what did I say before?"]),
    escaped_surrogates,
    command_texts,
    st.integers(4094, 4098).map(lambda n: "z" * n),
)


@st.composite
def telegram_users(draw: st.DrawFn) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": draw(telegram_ints),
        "is_bot": draw(st.booleans()),
        "first_name": draw(any_text),
    }
    if draw(st.booleans()):
        user["username"] = draw(_maybe(any_text))
    return user


@st.composite
def telegram_messages(draw: st.DrawFn, chat_ids: st.SearchStrategy[int]) -> dict[str, Any]:
    chat_type = draw(
        st.sampled_from(["private", "private", "private", "group", "supergroup", "channel", "x"])
    )
    message: dict[str, Any] = {
        "message_id": draw(_maybe(telegram_ints)),
        "date": draw(_maybe(st.integers(0, 2**32))),
        "chat": {"id": draw(_maybe(chat_ids)), "type": chat_type},
    }
    if draw(st.integers(0, 5)):
        message["from"] = draw(telegram_users())
    kind = draw(st.sampled_from(["text", "text", "text", "media", "service", "garbage"]))
    if kind == "text":
        message["text"] = draw(_maybe(telegram_texts))
        if draw(st.booleans()):
            message["entities"] = draw(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(["bot_command", "bold", "url", "x"]),
                            "offset": st.integers(-1, 10),
                            "length": st.integers(-1, 50),
                        }
                    ),
                    max_size=3,
                )
                | json_values
            )
    elif kind == "media":
        message[draw(media)] = draw(st.just({"file_id": "f"}) | json_values)
        if draw(st.booleans()):
            message["caption"] = draw(any_text)
    elif kind == "garbage":
        message.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=3)))
    return message


@st.composite
def telegram_updates(draw: st.DrawFn, chat_ids: st.SearchStrategy[int]) -> Any:
    """Updates as Telegram sends them (message, edit, channel post, update types we do not
    subscribe to) and some it never would."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    update: dict[str, Any] = {"update_id": draw(_maybe(telegram_ints))}
    slot = draw(
        st.sampled_from(
            ["message"] * 5
            + ["edited_message", "channel_post", "edited_channel_post", "callback_query", "none"]
        )
    )
    if slot == "callback_query":
        update[slot] = {"id": "1", "data": draw(any_text)}
    elif slot != "none":
        update[slot] = draw(telegram_messages(chat_ids))
    return update


@st.composite
def telegram_webhook_events(draw: st.DrawFn, chat_ids: st.SearchStrategy[int]) -> dict[str, Any]:
    """The webhook's HTTP API event: mostly with the right secret (so updates get processed),
    sometimes with a wrong or missing one, odd bodies, or a damaged event."""
    body_kind = draw(st.sampled_from(["update"] * 8 + ["text", "huge", "empty"]))
    if body_kind == "update":
        body = _encode(draw(telegram_updates(chat_ids)))
    elif body_kind == "text":
        body = draw(any_text)
    elif body_kind == "huge":
        body = '{"update_id": 1, "message": {"text": "' + "h" * (1024 * 1024) + '"}}'
    else:
        body = ""
    secret = draw(
        st.sampled_from([WEBHOOK_SECRET] * 6 + [None, "", WEBHOOK_SECRET + "x", "x" * 300])
    )
    event = webhook_event(body, secret)
    if draw(st.integers(0, 9)) == 0:
        event["isBase64Encoded"] = True
        event["body"] = draw(
            st.sampled_from(
                [base64.b64encode(body.encode()).decode(), base64.b64encode(b"\xff").decode(), "%"]
            )
        )
    if draw(st.integers(0, 9)) == 0:
        event = mutate(event, draw(st.data()))
    return event
