"""Photos, documents and voice notes sent to the bot: fetched through the Bot API (getFile,
then the file's URL), kept as the person's attachments in the state bucket, and queued as
one message with the caption — or refused with a reason, before anything is downloaded when
Telegram's description already says it cannot be taken."""

from __future__ import annotations

import pytest

from serverless_openclaw.adapters.aws.provision import create_state_bucket
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.contracts.limits import MAX_FILE_BYTES
from serverless_openclaw.local.fake_telegram import THUMBNAIL, FakeFile
from serverless_openclaw.telegram import replies

from .conftest import Webhook

CHAT = 556_001
USER = "user-media-01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0" + b"\x00" * 200


@pytest.fixture
def paired(webhook: Webhook) -> Webhook:
    create_state_bucket(
        webhook.services.ports.clients.s3(),
        webhook.services.settings.names.state_bucket,
        webhook.services.settings.names.region,
    )
    webhook.pair(CHAT, USER)
    return webhook


def only_chat_job(webhook: Webhook) -> ChatJob:
    jobs = [job for job in webhook.take_jobs(USER) if isinstance(job, ChatJob)]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_a_photo_with_a_caption_becomes_one_message_with_the_full_size_image(
    paired: Webhook,
) -> None:
    update = paired.fake.user_message(CHAT, file=FakeFile("photo", PNG), caption="my desk")
    assert paired.post(update) == 200

    job = only_chat_job(paired)
    assert job.text == "my desk"
    (photo,) = job.attachments
    assert (photo.kind, photo.contentType, photo.size) == ("image", "image/jpeg", len(PNG))
    assert (photo.width, photo.height) == (640, 480)
    assert photo.name == f"photo-{update['message']['message_id']}.jpg"
    assert paired.services.attachments.read(USER, photo.id) == PNG
    assert len(paired.fake.downloads) == 1  # not the thumbnail
    assert THUMBNAIL not in paired.fake.downloads

    history = paired.services.conversations.list_messages(USER, "main").items
    assert history[-1].attachments == job.attachments


def test_a_document_keeps_its_name_and_type(paired: Webhook) -> None:
    data = b"%PDF-1.4 the magic word is KUMQUAT"
    file = FakeFile("document", data, "Quarterly report.pdf", "application/pdf")
    assert paired.post(paired.fake.user_message(CHAT, file=file)) == 200

    (document,) = only_chat_job(paired).attachments
    assert (document.name, document.contentType, document.kind) == (
        "Quarterly report.pdf",
        "application/pdf",
        "file",
    )
    assert paired.services.attachments.read(USER, document.id) == data


def test_a_voice_note_is_stored_as_audio_with_its_length(paired: Webhook) -> None:
    file = FakeFile("voice", b"OggS\x00\x02" + b"\x00" * 100, None, "audio/ogg", duration=7)
    update = paired.fake.user_message(CHAT, file=file)
    assert paired.post(update) == 200

    job = only_chat_job(paired)
    (voice,) = job.attachments
    assert (voice.kind, voice.contentType, voice.durationMs) == ("audio", "audio/ogg", 7000)
    assert voice.name == f"voice-{update['message']['message_id']}.ogg"
    assert job.text == ""


def test_files_we_cannot_take_are_refused_before_downloading(paired: Webhook) -> None:
    archive = FakeFile("document", b"PK\x03\x04", "photos.zip", "application/zip")
    big = FakeFile("document", b"x" * (MAX_FILE_BYTES + 1), "big.pdf", "application/pdf")
    assert paired.post(paired.fake.user_message(CHAT, file=archive)) == 200
    assert paired.post(paired.fake.user_message(CHAT, file=big)) == 200
    assert paired.post(paired.fake.user_message(CHAT, media="video")) == 200

    said = paired.replies(CHAT)[1:]
    assert said[0].startswith("Not sent: photos.zip: files of type application/zip cannot")
    assert said[1] == "Not sent: big.pdf: 10.1 MB is over the 10 MB limit for files"
    assert said[2] == replies.unsupported_media("video")
    assert paired.fake.downloads == []
    assert paired.take_jobs(USER) == []


def test_a_file_telegram_will_not_hand_over_is_explained(paired: Webhook) -> None:
    paired.fake.fail_next("getFile", status=400, description="Bad Request: file is too big")
    file = FakeFile("document", b"hello", "notes.txt", "text/plain")
    assert paired.post(paired.fake.user_message(CHAT, file=file)) == 200
    assert paired.replies(CHAT)[-1] == replies.MEDIA_NOT_FETCHED
    assert paired.take_jobs(USER) == []


def test_an_unpaired_chat_downloads_nothing(webhook: Webhook) -> None:
    update = webhook.fake.user_message(777_000, file=FakeFile("photo", PNG))
    assert webhook.post(update) == 200
    assert webhook.replies(777_000) == [replies.UNPAIRED]
    assert webhook.fake.downloads == []
    assert webhook.fake.calls("getFile") == []
