"""What each kind of Telegram update means to the webhook (built by the fake, as Telegram
builds them)."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_openclaw.local.fake_telegram import FakeTelegram
from serverless_openclaw.telegram.updates import (
    Command,
    EditedMessage,
    GroupMessage,
    Ignored,
    PrivateText,
    UnsupportedMedia,
    Update,
    classify,
)


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


def _intent(raw: dict[str, Any], bot: str | None = "my_bot") -> object:
    return classify(Update.model_validate(raw), bot_username=bot)


def test_private_text(fake: FakeTelegram) -> None:
    intent = _intent(fake.user_message(11, "hello there"))
    assert isinstance(intent, PrivateText)
    assert (intent.chat_id, intent.text) == (11, "hello there")


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("/start", "start", ""),
        ("/pair abcd-2345", "pair", "abcd-2345"),
        ("/pair@my_bot  ABCD2345 ", "pair", "ABCD2345"),
        ("/STATUS", "status", ""),
        ("/new", "new", ""),
        ("/stop", "stop", ""),
        ("/help", "help", ""),
    ],
)
def test_our_commands(fake: FakeTelegram, text: str, name: str, args: str) -> None:
    intent = _intent(fake.user_message(11, text))
    assert isinstance(intent, Command)
    assert (intent.name, intent.args) == (name, args)


def test_unknown_commands_are_text_for_the_agent(fake: FakeTelegram) -> None:
    # OpenClaw has slash commands of its own (/think, /model ...).
    assert isinstance(_intent(fake.user_message(11, "/think high")), PrivateText)


def test_command_for_another_bot_is_not_ours(fake: FakeTelegram) -> None:
    assert isinstance(_intent(fake.user_message(11, "/status@other_bot")), Ignored)


def test_groups_edits_and_media(fake: FakeTelegram) -> None:
    group_text = _intent(fake.user_message(-100, "hi all", chat_type="supergroup"))
    group_command = _intent(fake.user_message(-100, "/start", chat_type="group"))
    assert isinstance(group_text, GroupMessage) and not group_text.is_command
    assert isinstance(group_command, GroupMessage) and group_command.is_command
    assert isinstance(_intent(fake.user_message(11, "fixed", edited=True)), EditedMessage)
    sticker = _intent(fake.user_message(11, media="sticker"))
    assert isinstance(sticker, UnsupportedMedia) and sticker.kind == "sticker"
    photo = _intent(fake.user_message(11, media="photo"))
    assert isinstance(photo, UnsupportedMedia) and photo.kind == "photo"


def test_unknown_fields_and_update_types_are_tolerated() -> None:
    raw = {
        "update_id": 5,
        "my_chat_member": {"chat": {"id": 1, "type": "private"}},
        "brand_new_field": {"x": 1},
    }
    assert isinstance(_intent(raw), Ignored)
    message = {
        "update_id": 6,
        "message": {
            "message_id": 1,
            "chat": {"id": 3, "type": "private", "is_forum": False},
            "from": {"id": 3, "is_bot": False, "first_name": "A", "is_premium": True},
            "text": "hi",
            "link_preview_options": {"is_disabled": True},
        },
    }
    assert isinstance(_intent(message), PrivateText)


def test_bots_and_channels_are_ignored() -> None:
    from_bot = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "chat": {"id": 3, "type": "private"},
            "from": {"id": 9, "is_bot": True, "first_name": "B"},
            "text": "hi",
        },
    }
    channel = {
        "update_id": 8,
        "message": {"message_id": 1, "chat": {"id": -5, "type": "channel"}, "text": "news"},
    }
    assert isinstance(_intent(from_bot), Ignored)
    assert isinstance(_intent(channel), Ignored)
