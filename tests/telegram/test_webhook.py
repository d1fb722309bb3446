"""The Telegram webhook Lambda: secret check, once-only processing, pairing, allowlist.

Real surroundings: moto over HTTP (DynamoDB, SQS), the local ECS emulator, and the fake Bot
API server, which records every call the handler makes to "Telegram"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.control_plane.conftest import TestTokens, http_event

from serverless_openclaw import wiring
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.jobs import ChatJob, TelegramReplyTo
from serverless_openclaw.contracts.limits import NUL_REFUSED
from serverless_openclaw.gateway import http_api
from serverless_openclaw.telegram import replies
from serverless_openclaw.wiring import wire_lambda

from .conftest import Webhook, handler_settings

CHAT = 555_001
OTHER_CHAT = 555_002
USER = "user-0001"


def _no_side_effects(webhook: Webhook) -> None:
    services = webhook.services
    assert webhook.fake.calls() == []  # not one Bot API call
    assert webhook.queues() == []  # no inbox queue, so no job
    assert webhook.ecs.run_task_calls == 0
    db = services.ports.clients.dynamodb()
    for table in ("task-state", "idempotency", "counters", "telegram-links"):
        assert db.scan(TableName=f"{services.prefix}-{table}")["Count"] == 0, table


@pytest.mark.parametrize(
    "secret", [None, "", "wrong", "webhook-s3cret_for-tests ", "WEBHOOK-S3CRET_FOR-TESTS"]
)
def test_wrong_or_missing_secret_is_401_and_nothing_else(
    webhook: Webhook, secret: str | None
) -> None:
    # Even an update that would otherwise pair a chat and start the agent.
    code = webhook.services.telegram.create_pairing_code(USER).code
    pair = webhook.fake.user_message(CHAT, f"/pair {code}")
    text = webhook.fake.user_message(CHAT, "start my agent")
    assert webhook.post(pair, secret=secret) == 401
    assert webhook.post(text, secret=secret) == 401
    _no_side_effects(webhook)
    assert webhook.services.task_state.get(USER).version == 0
    # The code was not consumed: with the right secret the same update pairs the chat.
    assert webhook.post(pair) == 200
    assert webhook.services.telegram.user_for_chat(CHAT) == USER


def test_telegram_not_configured_refuses_everything(webhook: Webhook) -> None:
    wiring.reset(
        wire_lambda(
            handler_settings(webhook.fake_url, configured=False),
            clients=webhook.services.ports.clients,
        )
    )
    assert webhook.say(CHAT, "hello") == 401
    _no_side_effects(webhook)


def test_the_same_update_three_times_is_one_job(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    update = webhook.fake.user_message(CHAT, "what's the weather?")
    assert [webhook.post(update) for _ in range(3)] == [200, 200, 200]
    [job] = webhook.take_jobs(USER)
    assert isinstance(job, ChatJob)
    assert job.jobId == f"tg-{update['update_id']}"
    assert job.text == "what's the weather?"
    assert job.source == "telegram"
    assert job.replyTo == TelegramReplyTo(chatId=CHAT, messageId=update["message"]["message_id"])
    assert webhook.ecs.run_task_calls == 1
    # One pairing confirmation, one "waking up": the retries said nothing.
    assert webhook.replies(CHAT) == [replies.PAIRED, replies.WAKING]


def test_waking_is_announced_once_and_an_awake_agent_shows_typing(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    assert webhook.say(CHAT, "first") == 200
    assert webhook.say(CHAT, "second, while it starts") == 200
    assert webhook.replies(CHAT) == [replies.PAIRED, replies.WAKING]  # no second notice
    assert webhook.fake.calls("sendChatAction") == []
    state = webhook.services.task_state.get(USER)
    assert state.launch_id is not None
    webhook.services.task_state.mark_running(USER, state.launch_id)  # the agent is up
    assert webhook.say(CHAT, "third") == 200
    assert [c.params["chat_id"] for c in webhook.fake.calls("sendChatAction")] == [CHAT]
    assert webhook.replies(CHAT) == [replies.PAIRED, replies.WAKING]
    texts = [j.text for j in webhook.take_jobs(USER) if isinstance(j, ChatJob)]
    assert texts == ["first", "second, while it starts", "third"]
    assert webhook.ecs.run_task_calls == 1


def test_an_unpaired_chat_cannot_start_a_task(webhook: Webhook) -> None:
    for text in ("hello agent", "/status", "/new", "/stop", "/start"):
        assert webhook.say(CHAT, text) == 200
    assert webhook.replies(CHAT) == [replies.UNPAIRED] * 5
    assert webhook.queues() == []
    assert webhook.ecs.run_task_calls == 0
    db = webhook.services.ports.clients.dynamodb()
    assert db.scan(TableName=f"{webhook.services.prefix}-task-state")["Count"] == 0


def test_pairing_links_the_chat_and_messages_then_reach_the_agent(webhook: Webhook) -> None:
    code = webhook.services.telegram.create_pairing_code(USER).code
    dashed = f"{code[:4].lower()}-{code[4:].lower()}"  # as a person might type it
    assert webhook.say(CHAT, f"/pair {dashed}", username="ada") == 200
    assert webhook.replies(CHAT) == [replies.PAIRED]
    link = webhook.services.telegram.link_of_user(USER)
    assert link is not None and link.chatId == CHAT and link.username == "ada"
    assert webhook.say(CHAT, "hi") == 200
    assert [j.text for j in webhook.take_jobs(USER) if isinstance(j, ChatJob)] == ["hi"]


def test_a_start_link_with_a_code_pairs_too(webhook: Webhook) -> None:
    code = webhook.services.telegram.create_pairing_code(USER).code
    assert webhook.say(CHAT, f"/start {code}") == 200
    assert webhook.services.telegram.user_for_chat(CHAT) == USER


def test_expired_codes_are_refused(webhook: Webhook) -> None:
    eleven_minutes_ago = webhook.services.clock() - timedelta(minutes=11)
    code = webhook.services.telegram.create_pairing_code(USER, now=eleven_minutes_ago).code
    assert webhook.say(CHAT, f"/pair {code}") == 200
    assert webhook.replies(CHAT) == [replies.PAIR_REFUSED]
    assert webhook.services.telegram.user_for_chat(CHAT) is None


def test_a_used_code_is_refused(webhook: Webhook) -> None:
    code = webhook.services.telegram.create_pairing_code(USER).code
    assert webhook.say(CHAT, f"/pair {code}") == 200
    assert webhook.say(OTHER_CHAT, f"/pair {code}") == 200
    assert webhook.replies(OTHER_CHAT) == [replies.PAIR_REFUSED]
    assert webhook.services.telegram.user_for_chat(OTHER_CHAT) is None
    assert webhook.say(OTHER_CHAT, "let me in") == 200
    assert webhook.replies(OTHER_CHAT)[-1] == replies.UNPAIRED
    assert all(
        j.replyTo == TelegramReplyTo(chatId=CHAT)
        for j in webhook.take_jobs(USER)
        if isinstance(j, ChatJob)
    )


def test_guessing_codes_is_rate_limited(webhook: Webhook) -> None:
    limit = webhook.services.settings.quotas.pairing_attempts_per_hour
    for guess in range(limit):
        assert (
            webhook.say(CHAT, f"/pair AAAA{guess:04d}".replace("0", "A").replace("1", "B")) == 200
        )
    assert webhook.replies(CHAT) == [replies.PAIR_REFUSED] * limit
    # Now even the right code is refused: the chat has used its attempts for this hour.
    code = webhook.services.telegram.create_pairing_code(USER).code
    assert webhook.say(CHAT, f"/pair {code}") == 200
    assert webhook.replies(CHAT)[-1] == replies.PAIR_RATE_LIMITED
    assert webhook.services.telegram.user_for_chat(CHAT) is None
    # Another chat is not affected, and the code was not consumed by the refused attempt.
    assert webhook.say(OTHER_CHAT, f"/pair {code}") == 200
    assert webhook.services.telegram.user_for_chat(OTHER_CHAT) == USER


def test_text_that_cannot_be_a_code_costs_no_attempt(webhook: Webhook) -> None:
    limit = webhook.services.settings.quotas.pairing_attempts_per_hour
    for _ in range(limit + 2):
        assert webhook.say(CHAT, "/pair my-code-please") == 200
    assert webhook.replies(CHAT) == [replies.PAIR_MALFORMED] * (limit + 2)
    webhook.pair(CHAT, USER)


def test_groups_edits_and_media_are_refused_politely(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    group = -100_123
    assert webhook.say(group, "hello everyone", chat_type="supergroup") == 200
    assert webhook.say(group, "/status", chat_type="group") == 200
    assert webhook.replies(group) == [replies.GROUPS_UNSUPPORTED]
    assert webhook.say(CHAT, "fixed typo", edited=True) == 200
    assert webhook.post(webhook.fake.user_message(CHAT, media="sticker")) == 200
    assert webhook.post(webhook.fake.user_message(CHAT, media="video")) == 200
    assert webhook.replies(CHAT)[1:] == [
        replies.EDITS_UNSUPPORTED,
        replies.unsupported_media("sticker"),
        replies.unsupported_media("video"),
    ]
    assert webhook.queues() == []
    assert webhook.ecs.run_task_calls == 0


def test_status_new_and_stop(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    assert webhook.say(CHAT, "/status") == 200
    assert webhook.replies(CHAT)[-1] == replies.status(
        ops.agent_status(webhook.services, USER), webhook.services.clock()
    )
    assert "asleep" in webhook.replies(CHAT)[-1]
    assert webhook.say(CHAT, "/stop") == 200
    assert webhook.replies(CHAT)[-1] == replies.NOT_RUNNING
    assert webhook.say(CHAT, "wake up") == 200
    assert webhook.say(CHAT, "/status") == 200
    assert "starting" in webhook.replies(CHAT)[-1]
    assert webhook.say(CHAT, "/new") == 200
    assert webhook.replies(CHAT)[-1] == replies.NEW_CONVERSATION
    # `/new` reaches OpenClaw (its own session reset) in order with the messages around it.
    chats = [j for j in webhook.take_jobs(USER) if isinstance(j, ChatJob)]
    assert [(c.text, c.conversationId) for c in chats] == [("wake up", "main"), ("/new", "main")]
    assert webhook.say(CHAT, "/stop") == 200
    assert webhook.replies(CHAT)[-1] == replies.STOPPING
    assert webhook.services.task_state.get(USER).state == "stopping"


def test_the_message_rate_quota_is_explained(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    # One minute's window for all of them, however slow this machine is today.
    frozen = webhook.services.clock().replace(second=1, microsecond=0)
    webhook.services.clock = lambda: frozen
    limit = webhook.services.settings.quotas.messages_per_minute
    for i in range(limit + 1):
        assert webhook.say(CHAT, f"message {i}") == 200
    assert webhook.replies(CHAT)[-1].startswith("Not sent: You can send")
    assert len([j for j in webhook.take_jobs(USER) if isinstance(j, ChatJob)]) == limit


def test_telegram_being_down_does_not_lose_the_message(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    webhook.fake.fail_next("sendMessage", status=502, times=5)
    assert webhook.say(CHAT, "are you there?") == 200
    assert [j.text for j in webhook.take_jobs(USER) if isinstance(j, ChatJob)] == ["are you there?"]


def test_a_message_with_a_nul_character_is_refused_with_a_reason(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    assert webhook.say(CHAT, "before\u0000after") == 200
    assert webhook.replies(CHAT)[-1] == replies.quota_exceeded(NUL_REFUSED)
    assert webhook.take_jobs(USER) == []
    assert webhook.ecs.run_task_calls == 0
    assert webhook.services.conversations.get_conversation(USER, "main") is None


# --- pairing: one code, one chat, limits per chat and per deployment -------------------------
def test_only_the_newest_code_of_a_user_pairs(webhook: Webhook) -> None:
    older = webhook.services.telegram.create_pairing_code(USER).code
    newer = webhook.services.telegram.create_pairing_code(USER).code
    assert webhook.say(CHAT, f"/pair {older}") == 200
    assert webhook.replies(CHAT) == [replies.PAIR_REFUSED]
    assert webhook.services.telegram.user_for_chat(CHAT) is None
    assert webhook.say(CHAT, f"/pair {newer}") == 200
    assert webhook.replies(CHAT)[-1] == replies.PAIRED


def test_pairing_another_chat_unlinks_the_first_and_tells_it(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    webhook.pair(OTHER_CHAT, USER)
    assert webhook.services.telegram.user_for_chat(CHAT) is None
    assert webhook.replies(CHAT) == [replies.PAIRED, replies.UNLINKED_BY_NEW_CHAT]
    assert webhook.replies(OTHER_CHAT) == [replies.PAIRED]  # nothing about a previous chat
    # The old chat is an unpaired chat now: it cannot reach the agent.
    assert webhook.say(CHAT, "still there?") == 200
    assert webhook.replies(CHAT)[-1] == replies.UNPAIRED
    assert webhook.take_jobs(USER) == []
    # Pairing the same chat again says nothing to anyone else.
    webhook.pair(OTHER_CHAT, USER)
    assert webhook.replies(CHAT)[-1] == replies.UNPAIRED


def test_many_chats_with_one_wrong_guess_each_pause_pairing_for_the_hour(
    webhook: Webhook,
) -> None:
    ceiling = webhook.services.settings.quotas.pairing_failures_per_hour
    guessers = [600_000 + n for n in range(ceiling + 3)]
    for chat in guessers:
        assert webhook.say(chat, "/pair WXYZ-2345") == 200
    answers = [webhook.replies(chat)[-1] for chat in guessers]
    assert answers[:ceiling] == [replies.PAIR_REFUSED] * ceiling
    assert all(a.startswith("Pairing is paused") for a in answers[ceiling:]), answers[ceiling:]
    # Now even the owner's right code waits: nobody may try more codes this hour.
    code = webhook.services.telegram.create_pairing_code(USER).code
    assert webhook.say(CHAT, f"/pair {code}") == 200
    assert webhook.replies(CHAT)[-1].startswith("Pairing is paused")
    assert webhook.services.telegram.user_for_chat(CHAT) is None
    # The pause is the hour's: an hour later the code (if still fresh) would work again.
    later = Services(
        webhook.services.settings,
        webhook.services.ports,
        clock=lambda: datetime.now(UTC) + timedelta(hours=1),
    )
    wiring.reset(later)
    try:
        code = later.telegram.create_pairing_code(USER, now=later.clock()).code
        assert webhook.say(CHAT, f"/pair {code}") == 200
        assert webhook.replies(CHAT)[-1] == replies.PAIRED
    finally:
        later.close()


def test_unlinking_in_the_web_app_tells_the_chat(webhook: Webhook) -> None:
    webhook.pair(CHAT, USER)
    services = Services(webhook.services.settings, webhook.services.ports, verifier=TestTokens())
    try:
        answer = http_api.handle(http_event("DELETE", "/api/telegram", USER), services)
    finally:
        services.close()
    assert answer["statusCode"] == 204
    assert webhook.services.telegram.user_for_chat(CHAT) is None
    assert webhook.replies(CHAT) == [replies.PAIRED, replies.UNLINKED_FROM_WEB]
