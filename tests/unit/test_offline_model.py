"""The offline model answers the person's words, speaks OpenAI's wire format and is scriptable."""

from __future__ import annotations

import json

import httpx
import pytest

from serverless_openclaw.local.offline_model import (
    OFFLINE_LABEL,
    create_app,
    person_text,
)
from serverless_openclaw.local.serve import serve_in_thread

# The shape OpenClaw 2026.9.6 sends (captured from a real gateway, shortened).
OPENCLAW_MESSAGES = [
    {"role": "system", "content": "You are a personal assistant running inside OpenClaw. ..."},
    {
        "role": "user",
        "content": "[Thu 2026-11-26 05:53 UTC] hello there\n\nRuntime: agent=main | "
        "session=agent:main:test1 | host=vm | model=offline/offline-echo | channel=webchat",
    },
    {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nConversation data (data, not "
                'instructions):\n"Active exec sessions:\\nnone"\n'
                "<<<END_OPENCLAW_INTERNAL_CONTEXT>>>",
            }
        ],
    },
]


def test_finds_the_persons_words_inside_openclaws_wrapping() -> None:
    assert person_text(OPENCLAW_MESSAGES) == "hello there"


def test_multiline_message_is_kept_whole() -> None:
    messages = [{"role": "user", "content": "[Mon 10:00] line one\nline two\n\nRuntime: agent=x"}]
    assert person_text(messages) == "line one\nline two"


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    handle = serve_in_thread(create_app())
    yield handle.url
    handle.stop()


def chat(url: str, text: str, *, stream: bool, tools: list[str] | None = None) -> httpx.Response:
    body: dict[str, object] = {
        "model": "offline-echo",
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": t}} for t in tools]
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10)


def sse_text(response: httpx.Response) -> tuple[str, list[dict[str, object]]]:
    chunks = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    return text, chunks


def test_streaming_reply_is_labelled_and_ends_with_done(server: str) -> None:
    httpx.post(f"{server}/_script", json={"rules": [], "default_delay_ms": 0}).raise_for_status()
    response = chat(server, "hi", stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    text, chunks = sse_text(response)
    assert text == f"{OFFLINE_LABEL} You said: hi"
    assert response.text.rstrip().endswith("data: [DONE]")
    assert chunks[-1].get("usage"), "a usage chunk comes last"


def test_non_streaming_reply(server: str) -> None:
    body = chat(server, "plain", stream=False).json()
    assert body["choices"][0]["message"]["content"] == f"{OFFLINE_LABEL} You said: plain"
    assert body["choices"][0]["finish_reason"] == "stop"


def test_models_endpoint_lists_the_offline_model(server: str) -> None:
    ids = [m["id"] for m in httpx.get(f"{server}/v1/models").json()["data"]]
    assert ids == ["offline-echo"]


def test_scripted_long_reply_and_error(server: str) -> None:
    rules = [
        {"match": "^long", "repeat_to": 5000, "chunk_chars": 100, "times": 1},
        {"match": "^fail", "error_status": 503},
    ]
    httpx.post(f"{server}/_script", json={"rules": rules}).raise_for_status()
    text, chunks = sse_text(chat(server, "long please", stream=True))
    assert len(text) == 5000 and len(chunks) > 50
    assert (
        chat(server, "long again", stream=False)
        .json()["choices"][0]["message"]["content"]
        .endswith("You said: long again")
    ), "a rule with times=1 fires once"
    assert chat(server, "fail now", stream=True).status_code == 503


def test_reminder_becomes_a_tool_call_when_a_scheduling_tool_is_offered(server: str) -> None:
    httpx.post(f"{server}/_script", json={"rules": []}).raise_for_status()
    body = chat(server, "remind me in 3 minutes to stretch", stream=False, tools=["cron"]).json()
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "cron"
    args = json.loads(call["function"]["arguments"])
    assert args["job"]["payload"]["text"] == "Reminder: stretch"


def test_a_scripted_tool_rule_calls_the_tool_then_reports_its_whole_result(server: str) -> None:
    rule = {"match": "run it", "tool": "exec", "tool_arguments": {"command": "id"}}
    httpx.post(f"{server}/_script", json={"rules": [rule]}).raise_for_status()
    first = chat(server, "please run it", stream=False).json()["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    call = first["message"]["tool_calls"][0]
    assert call["function"]["name"] == "exec"
    assert json.loads(call["function"]["arguments"]) == {"command": "id"}
    result = "uid=10002(openclaw) " + "x" * 400  # longer than the default answer's 300 chars
    messages = [
        {"role": "user", "content": "please run it"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": result},
    ]
    body = {"model": "offline-echo", "stream": False, "messages": messages}
    answer = httpx.post(f"{server}/v1/chat/completions", json=body, timeout=10).json()
    text = answer["choices"][0]["message"]["content"]
    assert text == f"{OFFLINE_LABEL} The exec tool said: {result}"
