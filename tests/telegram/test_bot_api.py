"""The Bot API client against the fake server over HTTP: results, errors, token hygiene."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.loopback import free_port
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.bot_api import AsyncBotApi, BotApi, TelegramApiError
from serverless_openclaw.telegram.updates import BotCommand

from .conftest import FakeBot


def test_send_edit_and_read_back(bot_api: BotApi, fake_bot: FakeBot) -> None:
    sent = bot_api.call(tg.send_message(42, "<b>hello</b> &amp; bye", parse_mode="HTML"))
    assert sent.chat.id == 42
    assert sent.text == "hello & bye"
    edited = bot_api.call(tg.edit_message_text(42, sent.message_id, "hello again"))
    assert not isinstance(edited, bool)
    assert edited.text == "hello again"
    [message] = fake_bot.fake.messages(42)
    assert message.versions == ["hello & bye", "hello again"]


async def test_async_client_reads_the_same_answers(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot
) -> None:
    me = await async_bot_api.call(tg.get_me())
    assert me.is_bot and me.username == fake_bot.fake.bot_username
    assert await async_bot_api.call(tg.send_chat_action(7, "typing")) is True
    assert [c.method for c in fake_bot.fake.calls()] == ["getMe", "sendChatAction"]


def test_bad_request_keeps_telegrams_description(bot_api: BotApi) -> None:
    with pytest.raises(TelegramApiError) as caught:
        bot_api.call(tg.send_message(1, "<b>unclosed", parse_mode="HTML"))
    assert caught.value.status == 400
    assert tg.is_parse_error(caught.value)
    assert not tg.is_retryable(caught.value)


def test_not_modified_is_recognised(bot_api: BotApi) -> None:
    sent = bot_api.call(tg.send_message(1, "same"))
    with pytest.raises(TelegramError) as caught:
        bot_api.call(tg.edit_message_text(1, sent.message_id, "same"))
    assert tg.is_not_modified(caught.value)


def test_flood_control_gives_status_and_retry_after(bot_api: BotApi, fake_bot: FakeBot) -> None:
    fake_bot.fake.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramError) as caught:
        bot_api.call(tg.send_message(1, "hi"))
    assert caught.value.status == 429
    assert caught.value.retry_after_s == 7
    assert tg.is_retryable(caught.value)
    assert bot_api.call(tg.send_message(1, "hi")).text == "hi"


def test_wrong_token_is_unauthorized(fake_bot: FakeBot) -> None:
    with (
        BotApi("999:not-the-token", base_url=fake_bot.url) as api,
        pytest.raises(TelegramError) as caught,
    ):
        api.call(tg.get_me())
    assert caught.value.status == 401
    assert "not-the-token" not in str(caught.value)


def test_a_containers_clients_keep_one_client_per_token_and_close_together(
    fake_bot: FakeBot,
) -> None:
    bots = tg.BotClients(base_url=fake_bot.url)
    bot = bots.for_token(SecretStr(fake_bot.token))
    assert bots.for_token(SecretStr(fake_bot.token)) is bot
    stranger = bots.for_token(SecretStr("999:not-the-token"))
    assert stranger is not bot
    with pytest.raises(TelegramError):
        stranger.call(tg.get_me())  # a rotated-away token fails alone...
    assert bot.call(tg.send_message(7, "still here")).text == "still here"  # ...not the pool
    bots.close()
    # Closing is not final: a later call opens a new pool.
    assert bots.for_token(SecretStr(fake_bot.token)).call(tg.send_message(7, "again")).text == (
        "again"
    )
    bots.close()


def test_webhook_and_commands_round_trip(bot_api: BotApi, fake_bot: FakeBot) -> None:
    assert bot_api.call(
        tg.set_webhook("https://example.test/telegram/webhook", secret_token="s3cr3t_-x")
    )
    assert bot_api.call(tg.set_my_commands([BotCommand(command="pair", description="Link")]))
    info = bot_api.call(tg.get_webhook_info())
    assert info.url == "https://example.test/telegram/webhook"
    assert info.allowed_updates == ("message", "edited_message")
    assert fake_bot.fake.webhook.secret_token == "s3cr3t_-x"
    assert fake_bot.fake.commands == [{"command": "pair", "description": "Link"}]
    assert bot_api.call(tg.delete_webhook(drop_pending_updates=True))
    assert bot_api.call(tg.get_webhook_info()).url == ""


def test_get_updates_long_polls_and_confirms_by_offset(bot_api: BotApi, fake_bot: FakeBot) -> None:
    assert bot_api.call(tg.get_updates(timeout=0)) == []
    first = fake_bot.fake.user_message(5, "one")
    fake_bot.fake.user_message(5, "two")
    updates = bot_api.call(tg.get_updates(timeout=1))
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    later = bot_api.call(tg.get_updates(offset=first["update_id"] + 1, timeout=0))
    assert [u.message.text for u in later if u.message] == ["two"]


def test_get_updates_refused_while_a_webhook_is_set(bot_api: BotApi) -> None:
    bot_api.call(tg.set_webhook("https://example.test/hook", secret_token="abc"))
    with pytest.raises(TelegramError) as caught:
        bot_api.call(tg.get_updates())
    assert caught.value.status == 409


def test_network_failure_names_no_token() -> None:
    token = "4242:very-secret-token"
    api = BotApi(token, base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    with api, pytest.raises(TelegramError) as caught:
        api.call(tg.get_me())
    assert caught.value.status is None
    assert tg.is_retryable(caught.value)
    assert token not in str(caught.value)
    assert token not in repr(api)


def test_httpx_request_log_lines_are_redacted(
    bot_api: BotApi, fake_bot: FakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        bot_api.call(tg.get_me())
    request_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/bot<redacted>/getMe" in line for line in request_lines)
    assert all(fake_bot.token not in line for line in request_lines)


def test_fake_accepts_form_bodies_as_telegram_does(fake_bot: FakeBot) -> None:
    answer = httpx.post(
        f"{fake_bot.url}/bot{fake_bot.token}/sendMessage",
        data={
            "chat_id": "9",
            "text": "from a form",
            "link_preview_options": '{"is_disabled":true}',
        },
    ).json()
    assert answer["ok"] is True
    assert answer["result"]["chat"]["id"] == 9
    assert fake_bot.fake.texts(9) == ["from a form"]


def test_fake_can_be_driven_over_http(fake_bot: FakeBot, bot_api: BotApi) -> None:
    """A dev stack in another process injects a person's message and reads the bot's."""
    created = httpx.post(f"{fake_bot.url}/_fake/updates", json={"chatId": 31, "text": "hi bot"})
    assert created.status_code == 201
    [update] = bot_api.call(tg.get_updates(timeout=0))
    assert update.update_id == created.json()["update_id"]
    assert update.message is not None and update.message.text == "hi bot"
    bot_api.call(tg.send_message(31, "hello person"))
    shown = httpx.get(f"{fake_bot.url}/_fake/messages", params={"chatId": "31"}).json()
    assert [m["text"] for m in shown] == ["hello person"]
