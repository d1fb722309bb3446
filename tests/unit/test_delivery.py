"""Reply delivery to the browsers, on a hand-driven clock: a fast stream is coalesced to about
ten posts a second, a browser that connects mid-reply is caught up, a failing sink does not
stop the others."""

from __future__ import annotations

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.delivery import FanOut, ReplySink, ReplySinks
from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.core.errors import TelegramError

from .conftest import BROWSER, USER, chat_job, frames

DELTA_S = 0.025
"""A fast model: a piece every 25 ms (the dev-stack test streams the same, for real)."""


def sinks(ports: MemoryPorts, clock: ManualClock) -> ReplySinks:
    api = ports.connections_api()
    assert api is not None
    return ReplySinks(
        user_id=USER,
        connections=ports.connections(),
        broadcaster=Broadcaster(ports.connections(), api),
        telegram=None,
        telegram_links=ports.telegram(),
        clock=clock,
    )


async def stream(sink: ReplySink, clock: ManualClock, pieces: list[str]) -> str:
    """Feed the pieces one delta apart; the flusher posts, then sleeps on the clock."""
    text = ""
    await sink.start()
    for piece in pieces:
        text += piece
        await sink.update(text)
        await clock.parked()  # it has posted what it will post now
        await clock.advance(DELTA_S)
    await sink.finish(text)
    await sink.aclose()
    return text


async def test_a_ten_second_stream_is_posted_about_ten_times_a_second(
    ports: MemoryPorts, clock: ManualClock
) -> None:
    job = chat_job("tell me a story", at=clock.now())
    sink = sinks(ports, clock).for_job(job)
    pieces = [f"w{i:03d} " for i in range(400)]  # 2,000 characters over 10 s

    text = await stream(sink, clock, pieces)

    posted = frames(ports)
    chunks = [f["text"] for f in posted if f["type"] == "stream_chunk"]
    seconds = len(pieces) * DELTA_S
    assert len(chunks) / seconds <= 10.1, f"{len(chunks)} posts in {seconds} s"
    assert len(chunks) >= 95, "it streamed all along, not only at the end"
    assert text.startswith("".join(chunks)), "chunks are pieces of the reply, in order"
    assert [f["type"] for f in (posted[0], posted[-1])] == ["stream_start", "stream_end"]
    assert posted[-1]["text"] == text


async def test_a_browser_that_connects_mid_reply_gets_the_whole_reply_once(
    ports: MemoryPorts, clock: ManualClock
) -> None:
    job = chat_job("tell me a story", at=clock.now())
    sink = sinks(ports, clock).for_job(job)
    pieces = [f"w{i:03d} " for i in range(400)]

    text = ""
    await sink.start()
    for n, piece in enumerate(pieces):
        if n == 80:  # two seconds in, a second tab opens
            ports.connections().put("conn-2", USER, clock.now())
        text += piece
        await sink.update(text)
        await clock.parked()
        await clock.advance(DELTA_S)
    await sink.finish(text)
    await sink.aclose()

    late = [f.get("text", "") for f in frames(ports, "conn-2") if f["type"] == "stream_chunk"]
    second = frames(ports, "conn-2")
    assert second[0]["type"] == "stream_start"
    assert text.startswith("".join(late)), "caught up from the top, no piece twice"
    assert len(late) >= 45, "from the next refresh of the list (5 s) on, it streams there too"
    assert second[-1] == frames(ports, BROWSER)[-1], "both tabs end with the same reply"


class Broken:
    """A sink whose channel is down (Telegram refusing every call)."""

    async def start(self) -> None:
        raise TelegramError("Bad Gateway", status=502)

    async def update(self, text_so_far: str) -> None:
        raise TelegramError("Bad Gateway", status=502)

    async def finish(self, text: str, *, aborted: bool = False, error: object = None) -> None:
        raise TelegramError("Bad Gateway", status=502)

    async def aclose(self) -> None:
        return None


async def test_a_failing_channel_does_not_keep_the_reply_from_the_others(
    ports: MemoryPorts, clock: ManualClock
) -> None:
    job = chat_job("hi", at=clock.now())
    web = sinks(ports, clock).for_job(job)
    both = FanOut([Broken(), web])
    await both.start()
    await both.update("hello")
    await both.finish("hello there")
    await both.aclose()
    assert [f["type"] for f in frames(ports)][-1] == "stream_end"
    assert frames(ports)[-1]["text"] == "hello there"


async def test_a_proactive_message_goes_to_every_browser_marked_as_such(
    ports: MemoryPorts, clock: ManualClock
) -> None:
    sink = sinks(ports, clock).proactive("oc-12345678")
    await sink.start()
    await sink.finish("Reminder: stretch")
    await sink.aclose()
    start, end = frames(ports)
    assert start["proactive"] is True
    assert end == {
        "type": "stream_end",
        "id": "oc-12345678",
        "text": "Reminder: stretch",
        "aborted": False,
    }
