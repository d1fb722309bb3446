"""The offline model: an OpenAI-compatible chat completions server that needs no network.

It lets the whole product run (and be tested) without an LLM key. It is honest about what it
is: every reply starts with OFFLINE_LABEL. OpenClaw sends a large system prompt and injected
context; the person's words are the final text part of the last user message, and that is
what the model answers.

Tests script it over HTTP (`POST /_script`) so that it works the same in-process and when it
runs inside the dev stack: fixed replies, slow token streams, long replies, errors and stalls.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from serverless_openclaw.local import offline_attachments

OFFLINE_LABEL = "[offline model]"
MODEL_ID = "offline-echo"


class ScriptRule(BaseModel):
    """What to do when the person's text matches `match` (a regex, searched, case-insensitive).

    `reply` replaces the default answer; `{text}` in it is the person's text. `repeat_to`
    pads the reply to that many characters (long replies). `chunk_chars` and `delay_ms` shape
    the stream. `error_status` answers with that HTTP status instead; `stall_after_chunks`
    stops sending (without closing) after that many chunks. `times` limits how often the rule
    fires (None = always; a tool rule fires twice per turn: the call, then the answer).

    `tool` makes the model call that tool (e.g. `exec` with `tool_arguments`
    `{"command": "id"}`) and, once OpenClaw sends the result back, answer with `reply` where
    `{result}` is the tool's whole result: how tests see what a tool could do on the task.
    """

    match: str = ".*"
    reply: str | None = None
    repeat_to: int | None = Field(default=None, ge=1, le=1_000_000)
    chunk_chars: int = Field(default=12, ge=1)
    delay_ms: float = Field(default=0, ge=0)
    error_status: int | None = Field(default=None, ge=400, le=599)
    error_message: str = "offline model: scripted failure"
    stall_after_chunks: int | None = Field(default=None, ge=0)
    times: int | None = Field(default=None, ge=1)
    tool: str | None = None
    tool_arguments: dict[str, Any] = Field(default_factory=dict)
    prompt_tokens: int | None = Field(default=None, ge=0)
    """Usage to report instead of the default count (a token per 4 characters of the request
    and of the reply): lets a test drive spending and budgets to exact figures."""
    completion_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    """Part of the prompt reported as read from a prompt cache."""


@dataclass
class Script:
    rules: list[ScriptRule] = field(default_factory=list)
    default_chunk_chars: int = 12
    default_delay_ms: float = 15.0
    requests: int = 0

    def take(self, text: str) -> ScriptRule | None:
        for rule in self.rules:
            if re.search(rule.match, text, flags=re.IGNORECASE | re.DOTALL):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule
        return None


@dataclass(frozen=True)
class Answer:
    kind: Literal["text", "tool_call", "error"]
    text: str = ""
    chunk_chars: int = 12
    delay_ms: float = 0.0
    stall_after_chunks: int | None = None
    error_status: int = 500
    tool_name: str = ""
    tool_arguments: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0


# --- reading what OpenClaw sends -----------------------------------------------------------
_INTERNAL_CONTEXT = re.compile(
    r"<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>.*?<<<END_OPENCLAW_INTERNAL_CONTEXT>>>", re.S
)
_ENVELOPE = re.compile(r"^\[[^\]\n]{1,80}\]\s*")  # "[Thu 2026-11-26 05:53 UTC] "
_RUNTIME_FOOTER = re.compile(r"(?:\A|\n+)Runtime: agent=.*\Z", re.S)
# After a crash OpenClaw resumes the interrupted turn with the person's message between a
# "[Queued user message ...]" header and a "[System] Your previous turn was interrupted" notice
# (a message of its own, or appended to theirs).
_QUEUED_HEADER = re.compile(r"^\[Queued user message[^\]\n]*\]\s*")
_SYSTEM_NOTICE = re.compile(r"(?:\A(?:\[[^\]\n]{1,80}\]\s*)?|\n+)\[System\] .*\Z", re.S)


def _clean(text: str) -> str:
    text = _INTERNAL_CONTEXT.sub("", text)
    text = _RUNTIME_FOOTER.sub("", text.strip())
    text = _ENVELOPE.sub("", _SYSTEM_NOTICE.sub("", text), count=1)
    text = offline_attachments.strip(text)
    return _QUEUED_HEADER.sub("", text.strip(), count=1).strip()


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return _clean(content)
    if isinstance(content, list):
        parts = [_clean(p.get("text", "")) for p in content if isinstance(p, dict)]
        parts = [p for p in parts if p]
        return parts[-1] if parts else ""
    return ""


def person_text(messages: list[dict[str, Any]]) -> str:
    """The person's own words: the last user text once OpenClaw's wrapping is removed.

    OpenClaw prefixes a time envelope, appends a `Runtime:` footer and may add a trailing
    user message holding only internal context; none of that is the person's.
    """
    message = _person_message(messages)
    return _text_of(message.get("content")) if message is not None else ""


def _person_message(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last user message with the person's words or attachments in it."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if _text_of(content) or offline_attachments.mentions_attachments(content):
            found: dict[str, Any] = message
            return found
    return None


def received_report(messages: list[dict[str, Any]]) -> str:
    """What the person attached to their message, one line each ("" when nothing)."""
    message = _person_message(messages)
    if message is None:
        return ""
    return offline_attachments.report(offline_attachments.received(message.get("content")))


def earlier_user_texts(messages: list[dict[str, Any]]) -> list[str]:
    texts = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    return [t for t in texts if t][:-1]


_REMIND = re.compile(
    r"remind me in (\d+)\s*(second|sec|minute|min|hour|h)s?\b[\s,:-]*(?:to\s+)?(.+)", re.I
)


def _tool_names(tools: list[dict[str, Any]]) -> list[str]:
    return [t.get("function", {}).get("name", "") for t in tools if isinstance(t, dict)]


@dataclass(frozen=True)
class ToolResult:
    tool: str
    content: str


def tool_results_since_person(messages: list[dict[str, Any]]) -> list[ToolResult]:
    """The tool results after the person's last message, with the tool that produced each."""
    last_person = -1
    for index, message in enumerate(messages):
        if message.get("role") == "user" and _text_of(message.get("content")):
            last_person = index
    calls: dict[str, str] = {}
    results: list[ToolResult] = []
    for message in messages[last_person + 1 :]:
        for call in message.get("tool_calls") or []:
            calls[str(call.get("id"))] = str(call.get("function", {}).get("name", ""))
        if message.get("role") == "tool":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            results.append(ToolResult(calls.get(str(message.get("tool_call_id")), ""), text))
    return results


def _found_tool_id(search_result: str, wanted: str) -> str | None:
    """The id of `wanted` in a tool_search result (ids may be qualified, e.g. core:cron)."""
    candidates = re.findall(r'"(?:id|name)"\s*:\s*"([^"]+)"', search_result)
    for candidate in candidates:
        if candidate == wanted or candidate.endswith((f":{wanted}", f"/{wanted}", f".{wanted}")):
            return str(candidate)
    return None


def _schedule(text: str, names: list[str], done: list[ToolResult]) -> Answer | None:
    """A reminder request: call OpenClaw's scheduler (directly, or through Tool Search)."""
    match = _REMIND.search(text)
    if not match or not ({"cron", "tool_call"} & set(names)):
        return None
    amount, unit, what = int(match.group(1)), match.group(2).lower(), match.group(3).strip()
    what = what.rstrip(". ")
    if done and done[-1].tool in ("cron", "tool_call"):
        return Answer(
            kind="text",
            text=f"{OFFLINE_LABEL} Reminder set: {what} in {amount} "
            f"{unit}{'s' if amount != 1 and not unit.endswith('s') else ''}.",
        )
    arguments = reminder_arguments(amount * {"s": 1, "m": 60, "h": 3600}[unit[0]], what)
    if "cron" in names:
        return Answer(kind="tool_call", tool_name="cron", tool_arguments=arguments)
    if not done and "tool_search" in names:
        return Answer(
            kind="tool_call",
            tool_name="tool_search",
            tool_arguments={"query": "cron scheduler reminder"},
        )
    tool_id = _found_tool_id(done[-1].content, "cron") if done else "cron"
    if tool_id is None:
        return Answer(kind="text", text=f"{OFFLINE_LABEL} I could not find a scheduler tool.")
    return Answer(
        kind="tool_call", tool_name="tool_call", tool_arguments={"id": tool_id, "args": arguments}
    )


def _scripted_tool(rule: ScriptRule, done: list[ToolResult]) -> Answer:
    """Call the rule's tool once per turn, then report what it returned."""
    assert rule.tool is not None
    if not done:
        return Answer(kind="tool_call", tool_name=rule.tool, tool_arguments=rule.tool_arguments)
    reply = rule.reply or f"{OFFLINE_LABEL} The {rule.tool} tool said: {{result}}"
    return Answer(
        kind="text",
        text=reply.replace("{result}", done[-1].content),
        chunk_chars=rule.chunk_chars,
        delay_ms=rule.delay_ms,
    )


def decide(body: dict[str, Any], script: Script) -> Answer:
    messages: list[dict[str, Any]] = body.get("messages") or []
    text = person_text(messages)
    rule = script.take(text)
    chunk = script.default_chunk_chars
    delay = script.default_delay_ms
    if rule is not None:
        if rule.error_status is not None:
            return Answer(kind="error", text=rule.error_message, error_status=rule.error_status)
        if rule.tool:
            return _scripted_tool(rule, tool_results_since_person(messages))
        reply = (rule.reply or f"{OFFLINE_LABEL} You said: {text}").replace("{text}", text)
        if rule.repeat_to:
            reply = (reply + " ") * (rule.repeat_to // (len(reply) + 1) + 1)
            reply = reply[: rule.repeat_to]
        return Answer(
            kind="text",
            text=reply,
            chunk_chars=rule.chunk_chars,
            delay_ms=rule.delay_ms,
            stall_after_chunks=rule.stall_after_chunks,
            prompt_tokens=rule.prompt_tokens,
            completion_tokens=rule.completion_tokens,
            cached_tokens=rule.cached_tokens,
        )
    done = tool_results_since_person(messages)
    scheduled = _schedule(text, _tool_names(body.get("tools") or []), done)
    if scheduled is not None and len(done) < 4:
        return scheduled
    if done:  # never loop on tools: whatever happened, answer now
        result = done[-1].content[:300]
        return Answer(
            kind="text", text=f"{OFFLINE_LABEL} Done. ({result})", chunk_chars=chunk, delay_ms=delay
        )
    if re.search(r"what did i (say|tell you)", text, re.I):
        earlier = earlier_user_texts(messages)
        said = "; ".join(t[-200:] for t in earlier) if earlier else "nothing yet"
        return Answer(
            kind="text",
            text=f"{OFFLINE_LABEL} Earlier you said: {said}",
            chunk_chars=chunk,
            delay_ms=delay,
        )
    attached = received_report(messages)
    said = f"{OFFLINE_LABEL} You said: {text}" if text or not attached else OFFLINE_LABEL
    return Answer(
        kind="text",
        text=f"{said}\n\n{attached}" if attached else said,
        chunk_chars=chunk,
        delay_ms=delay,
    )


def reminder_arguments(seconds: int, what: str) -> dict[str, Any]:
    """Arguments for OpenClaw's `cron` tool: a one-shot system event on the main session."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        "action": "add",
        "job": {
            "name": f"Reminder: {what}"[:80],
            "schedule": {"kind": "at", "at": at.isoformat(timespec="seconds")},
            "sessionTarget": "main",
            "wakeMode": "now",
            "payload": {"kind": "systemEvent", "text": f"Reminder: {what}"},
            "deleteAfterRun": True,
        },
    }


# --- wire format ---------------------------------------------------------------------------
def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _usage(prompt: str, answer: Answer) -> dict[str, Any]:
    """OpenAI's usage object: deterministic counts (a token per 4 characters), or the ones a
    script rule asked for. OpenClaw reads it into the transcript, where spending is counted."""
    p = answer.prompt_tokens if answer.prompt_tokens is not None else max(1, len(prompt) // 4)
    c = (
        answer.completion_tokens
        if answer.completion_tokens is not None
        else max(1, len(answer.text) // 4)
    )
    usage: dict[str, Any] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    if answer.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": min(answer.cached_tokens, p)}
    return usage


def completion(answer: Answer, prompt: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    finish = "stop"
    if answer.kind == "tool_call":
        message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(answer)]}
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(prompt, answer),
    }


def _tool_call(answer: Answer) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:10]}",
        "type": "function",
        "function": {"name": answer.tool_name, "arguments": json.dumps(answer.tool_arguments)},
    }


async def stream(answer: Answer, prompt: str) -> AsyncIterator[bytes]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    created = int(time.time())

    def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(obj)}\n\n".encode()

    yield frame({"role": "assistant", "content": ""})
    if answer.kind == "tool_call":
        call = _tool_call(answer)
        yield frame({"tool_calls": [{"index": 0, **call}]})
        yield frame({}, "tool_calls")
    else:
        for n, piece in enumerate(_chunks(answer.text, answer.chunk_chars)):
            if answer.stall_after_chunks is not None and n >= answer.stall_after_chunks:
                await asyncio.Event().wait()  # a stall: the connection stays open, silent
            if answer.delay_ms:
                await asyncio.sleep(answer.delay_ms / 1000)
            yield frame({"content": piece})
        yield frame({}, "stop")
    yield frame({}, None, usage=_usage(prompt, answer))
    yield b"data: [DONE]\n\n"


# --- the app -------------------------------------------------------------------------------
def create_app(script: Script | None = None) -> Starlette:
    state = script or Script()

    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": {"message": "body is not JSON"}}, status_code=400)
        state.requests += 1
        answer = decide(body, state)
        prompt = json.dumps(body.get("messages", []))
        if answer.kind == "error":
            return JSONResponse(
                {"error": {"message": answer.text, "type": "server_error"}},
                status_code=answer.error_status,
            )
        if body.get("stream"):
            return StreamingResponse(stream(answer, prompt), media_type="text/event-stream")
        return JSONResponse(completion(answer, prompt))

    async def models(_: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "local"}]}
        )

    async def put_script(request: Request) -> Response:
        body = await request.json()
        state.rules = [ScriptRule.model_validate(r) for r in body.get("rules", [])]
        if "default_delay_ms" in body:
            state.default_delay_ms = float(body["default_delay_ms"])
        if "default_chunk_chars" in body:
            state.default_chunk_chars = int(body["default_chunk_chars"])
        return JSONResponse({"rules": len(state.rules)})

    async def get_stats(_: Request) -> Response:
        return JSONResponse({"requests": state.requests, "rules": len(state.rules)})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/_script", put_script, methods=["POST"]),
            Route("/_stats", get_stats, methods=["GET"]),
        ]
    )
