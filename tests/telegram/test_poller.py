"""Telegram reaching the webhook handler without a public URL (the dev-stack poller), and
over real HTTP from the fake Bot API's webhook delivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.gateway import telegram_webhook
from serverless_openclaw.local.serve import ServerHandle, serve_in_thread
from serverless_openclaw.local.telegram_poller import TelegramPoller, webhook_event
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram import replies
from serverless_openclaw.telegram.bot_api import AsyncBotApi, BotApi

from .conftest import WEBHOOK_SECRET, FakeBot, LambdaContext, Webhook

CHAT = 777_001
USER = "user-poller"


def _poller(
    api: AsyncBotApi, handler: Any = telegram_webhook.handler, poll_timeout: int = 1, **kw: Any
) -> TelegramPoller:
    return TelegramPoller(
        api,
        handler,
        secret=WEBHOOK_SECRET,
        poll_timeout=poll_timeout,
        backoff=Backoff(base=0),
        **kw,
    )


async def _wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.05)


async def test_polled_updates_reach_the_same_handler(
    webhook: Webhook, async_bot_api: AsyncBotApi
) -> None:
    # Paired through the handler directly; the /pair update also stays in Telegram's queue,
    # so the poller hands it over a second time and the handler's idempotency absorbs it.
    await asyncio.to_thread(webhook.pair, CHAT, USER)
    webhook.fake.webhook.url = "https://example.test/hook"  # left over from a deployment
    webhook.fake.user_message(CHAT, "polled hello")
    webhook.fake.user_message(CHAT, "/status")
    poller = _poller(async_bot_api, poll_timeout=30)
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    await _wait_for(lambda: poller.delivered == 3)
    await asyncio.sleep(0.2)
    stop.set()  # while the next 30 s long poll is waiting: it ends now, not in 30 s
    await asyncio.wait_for(running, timeout=3)
    assert webhook.fake.webhook.url == ""  # the poller took the bot over
    jobs = await asyncio.to_thread(webhook.take_jobs, USER)
    assert [getattr(j, "text", None) for j in jobs] == ["polled hello"]
    assert webhook.replies(CHAT)[0] == replies.PAIRED  # once
    assert webhook.replies(CHAT)[1:] == [replies.WAKING, webhook.replies(CHAT)[-1]]
    assert "starting" in webhook.replies(CHAT)[-1]
    assert webhook.fake.pending_updates == []  # confirmed: a restart will not see them again


async def test_polling_errors_back_off_and_recover(
    webhook: Webhook, async_bot_api: AsyncBotApi
) -> None:
    webhook.fake.fail_next("getUpdates", status=502, times=2)
    webhook.fake.user_message(CHAT, "/start")
    poller = _poller(async_bot_api)
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    await _wait_for(lambda: poller.delivered == 1)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert [c.status for c in webhook.fake.calls("getUpdates")][:3] == [502, 502, 200]
    assert webhook.replies(CHAT) == [replies.UNPAIRED]


async def test_a_refused_token_stops_the_poller(fake_bot: FakeBot) -> None:
    async with AsyncBotApi("1:wrong", base_url=fake_bot.url) as api:
        with pytest.raises(TelegramError) as caught:
            await asyncio.wait_for(_poller(api).run(asyncio.Event()), timeout=5)
    assert caught.value.status == 401


async def test_a_failing_update_is_retried_then_skipped(
    fake_bot: FakeBot, async_bot_api: AsyncBotApi
) -> None:
    answers = iter([500, 503, 500, 200])
    seen: list[int] = []

    def flaky_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(json.loads(event["body"])["update_id"])
        return {"statusCode": next(answers)}

    first = fake_bot.fake.user_message(CHAT, "poison")
    second = fake_bot.fake.user_message(CHAT, "fine")
    poller = _poller(async_bot_api, flaky_handler, handler_attempts=3)
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    await _wait_for(lambda: poller.delivered == 1)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert seen == [first["update_id"]] * 3 + [second["update_id"]]
    assert poller.offset == second["update_id"] + 1


# --- the fake's webhook delivery, over HTTP, into the handler ---------------------------------
def _http_to_lambda() -> Starlette:
    """What API Gateway does for the webhook route: HTTP in, Lambda event, HTTP out."""

    async def endpoint(request: Request) -> Response:
        body = (await request.body()).decode()
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        event = webhook_event(body, secret)
        answer = await asyncio.to_thread(telegram_webhook.handler, event, LambdaContext())
        return Response(answer.get("body", ""), status_code=answer["statusCode"])

    return Starlette(routes=[Route("/telegram/webhook", endpoint, methods=["POST"])])


@pytest.fixture
def api_gateway() -> Iterator[ServerHandle]:
    handle = serve_in_thread(_http_to_lambda())
    yield handle
    handle.stop()


def test_webhook_delivery_with_the_secret_header(
    webhook: Webhook, bot_api: BotApi, api_gateway: ServerHandle
) -> None:
    url = f"{api_gateway.url}/telegram/webhook"
    bot_api.call(tg.set_webhook(url, secret_token=WEBHOOK_SECRET))
    code = webhook.services.telegram.create_pairing_code(USER).code
    webhook.fake.user_message(CHAT, f"/pair {code}")
    webhook.fake.user_message(CHAT, "over https, in real life")
    assert webhook.fake.deliver_pending() == [200, 200]
    assert [getattr(j, "text", None) for j in webhook.take_jobs(USER)] == [
        "over https, in real life"
    ]


def test_a_webhook_registered_with_another_secret_is_refused(
    webhook: Webhook, bot_api: BotApi, api_gateway: ServerHandle
) -> None:
    bot_api.call(tg.set_webhook(f"{api_gateway.url}/telegram/webhook", secret_token="stale"))
    webhook.fake.user_message(CHAT, "hello")
    assert webhook.fake.deliver_pending() == [401]
    info = bot_api.call(tg.get_webhook_info())
    assert info.pending_update_count == 1
    assert info.last_error_message is not None and "401" in info.last_error_message
    assert webhook.queues() == []
