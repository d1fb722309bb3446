"""What the bot says by itself (not the agent's words): pairing help, notices, refusals.

Plain text only (sent without parse_mode), so nothing here can fail Telegram's HTML rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from serverless_openclaw.contracts.records import AgentStatus

UNPAIRED: Final = (
    "Hi! I am the Telegram door to your own OpenClaw agent, but this chat is not linked to "
    "an account yet.\n\n"
    "1. Sign in to the web app and open the Telegram tab.\n"
    "2. Press “Get pairing code”.\n"
    "3. Send it here as: /pair CODE\n\n"
    "Codes work once and expire after 10 minutes."
)
WELCOME: Final = (
    "This chat is linked to your agent: just write to it.\n\n"
    "/status - is your agent awake?\n"
    "/new - start a new conversation\n"
    "/stop - put your agent to sleep now"
)
PAIR_USAGE: Final = "Send the code from the web app like this: /pair ABCD-EFGH"
PAIR_MALFORMED: Final = (
    "That does not look like a pairing code: it has 8 letters and digits, like ABCD-EFGH. "
    "Get one in the web app under the Telegram tab."
)
PAIR_REFUSED: Final = (
    "That code is not valid: it may be mistyped, already used, or older than 10 minutes. "
    "Get a new one in the web app under the Telegram tab."
)
PAIR_RATE_LIMITED: Final = "Too many pairing attempts from this chat. Try again in an hour."
UNLINKED_BY_NEW_CHAT: Final = (
    "This chat is no longer linked to your agent: another Telegram chat was paired with your "
    "account (one chat at a time). Messages here do not reach your agent any more; to use "
    "this chat again, pair it with a new code from the web app."
)
UNLINKED_FROM_WEB: Final = (
    "This chat was unlinked from your agent in the web app. Messages here do not reach it "
    "any more; to use this chat again, pair it with a new code from the web app."
)
PAIRED: Final = "Paired! Messages you send here now go to your agent, which answers here."
WAKING: Final = "⏳ Waking up your agent - this takes about a minute. It will answer here."
RESTARTING: Final = "⏳ Your agent is going to sleep; it will wake up again and answer here."
WAKE_FAILED: Final = (
    "Your agent could not be started just now. Your message is saved and will be answered "
    "as soon as it starts; /status shows what it is doing."
)
NEW_CONVERSATION: Final = "Starting a new conversation."
STOPPING: Final = "Putting your agent to sleep. Any message wakes it again."
NOT_RUNNING: Final = "Your agent is already asleep. Any message wakes it."
GROUPS_UNSUPPORTED: Final = (
    "I only talk in private chats: your agent belongs to one person. Write to me directly."
)
EDITS_UNSUPPORTED: Final = "Edited messages are not passed on. Send the new text as a new message."
UNAVAILABLE: Final = "Something went wrong on our side. Please try again in a minute."


MEDIA_NOT_FETCHED: Final = (
    "I could not fetch that file from Telegram (bots may download at most 20 MB). "
    "Please send it again."
)


def pairing_paused(retry_after_s: int) -> str:
    minutes = max(1, -(-retry_after_s // 60))
    return (
        "Pairing is paused for a while: too many wrong codes were sent to this bot. "
        f"Try again in about {minutes} min, with a new code from the web app if yours has "
        "expired by then."
    )


def unsupported_media(kind: str) -> str:
    return (
        "I can pass text, photos, documents (PDF, text, Markdown, CSV, JSON) and voice notes "
        f"to your agent; a {kind.replace('_', ' ')} is not supported."
    )


def attachment_refused(reason: str) -> str:
    return f"Not sent: {reason}"


def quota_exceeded(reason: str) -> str:
    """A message refused before it reached the agent (a limit, text it cannot take)."""
    return f"Not sent: {reason}"


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def status(agent: AgentStatus, now: datetime) -> str:
    """/status in one glance."""
    lines = {
        "idle": "😴 Your agent is asleep. Any message wakes it.",
        "starting": "⏳ Your agent is starting up.",
        "running": "✅ Your agent is awake.",
        "stopping": "💤 Your agent is going to sleep.",
    }
    text = [lines[agent.state]]
    if agent.phase and agent.state == "starting":
        text.append(f"Phase: {agent.phase}")
    if agent.state == "running" and agent.lastActivityAt is not None:
        text.append(f"Last activity: {_ago(agent.lastActivityAt, now)}")
    if agent.lastError:
        text.append(f"Last problem: {agent.lastError[:200]}")
    return "\n".join(text)
