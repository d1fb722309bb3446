"""What each kind of Telegram update means to the webhook (built by the fake, as Telegram
builds them)."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_openclaw.local.fake_telegram import FakeFile, FakeTelegram
from serverless_openclaw.telegram.updates import (
    Command,
    EditedMessage,
    GroupMessage,
    Ignored,
    PrivateMedia,
    PrivateText,
    UnsupportedMedia,
    Update,
    classify,
    received_file,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x03\x00\x00\x00\x02" + b"\x00" * 20


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
    video = _intent(fake.user_message(11, media="video"))
    assert isinstance(video, UnsupportedMedia) and video.kind == "video"
    no_file = _intent(fake.user_message(11, media="document") | {})
    assert isinstance(no_file, PrivateMedia)  # a file id, even a dud, is fetched and told


def test_photos_documents_and_voice_notes_are_files_for_the_agent(fake: FakeTelegram) -> None:
    photo = _intent(fake.user_message(11, file=FakeFile("photo", PNG), caption="my cat"))
    assert isinstance(photo, PrivateMedia)
    assert (photo.caption, photo.file.kind, photo.file.mime_type) == (
        "my cat",
        "photo",
        "image/jpeg",
    )
    assert (photo.file.width, photo.file.height, photo.file.file_size) == (3, 2, len(PNG))

    document = _intent(
        fake.user_message(11, file=FakeFile("document", b"%PDF", "a.pdf", "application/pdf"))
    )
    assert isinstance(document, PrivateMedia) and document.caption == ""
    assert (document.file.file_name, document.file.mime_type) == ("a.pdf", "application/pdf")

    voice = _intent(fake.user_message(11, file=FakeFile("voice", b"OggS", None, "audio/ogg", 4)))
    assert isinstance(voice, PrivateMedia)
    assert (voice.file.kind, voice.file.duration_s, voice.file.file_name) == ("voice", 4, None)


def test_the_largest_photo_size_within_the_limit_is_taken() -> None:
    sizes = [
        {"file_id": "small", "width": 90, "height": 90, "file_size": 1_000},
        {"file_id": "medium", "width": 800, "height": 800, "file_size": 90_000},
        {"file_id": "large", "width": 2560, "height": 2560, "file_size": 9_000_000},
    ]
    raw = {
        "update_id": 9,
        "message": {"message_id": 3, "chat": {"id": 3, "type": "private"}, "photo": sizes},
    }
    update = Update.model_validate(raw)
    assert received_file(update.message).file_id == "large"  # type: ignore[arg-type,union-attr]
    limited = classify(update, max_photo_bytes=5_000_000)
    assert isinstance(limited, PrivateMedia) and limited.file.file_id == "medium"


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
