"""Adding and removing a person: what they may reach is made, and taken back, all at once.

`add_person`: the account (self sign-up is off, decision D9), the person's own role for their
agent task (decision D13; `AgentAccess`), and their inbox — so that their first message
neither waits for a queue nor races IAM's eventual consistency.

`remove_person` (`serverless-openclaw user remove`), in this order:
1. their remaining tokens are refused by our handlers (`revoked#<sub>`, kept for a token's
   lifetime: API Gateway and `ws_connect` verify tokens offline), their refresh tokens are
   revoked (Cognito `AdminUserGlobalSignOut`);
2. their Telegram chats are unlinked and remembered as removed (the bot answers them so);
3. their agent task is stopped; without `erase`, it gets its stop timeout to back up first;
4. their role loses its rights and is deleted (a task still running is refused by AWS from
   then on), their open sockets are closed, their inbox is deleted;
5. the account is deleted; with `erase`, their conversations, settings, task state and
   backups are deleted too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Protocol

from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services, is_revoked, revoked_key
from serverless_openclaw.core.errors import ConnectionGone, NotFound, StorageUnavailable
from serverless_openclaw.ports.identity import UserDirectory, UserInfo
from serverless_openclaw.ports.inbox import Inbox

log = logging.getLogger(__name__)

__all__ = [
    "Added",
    "AgentAccess",
    "NoAgentAccess",
    "Operator",
    "PersonalData",
    "Removal",
    "add_person",
    "chat_was_removed",
    "complete_person",
    "is_revoked",
    "remove_person",
    "revoked_key",
]

REVOKED_FOR: Final = timedelta(hours=1, minutes=10)
"""An ID or access token lives 1 h (infra/components/auth.py); plus clock skew."""
REMOVED_CHAT_FOR: Final = timedelta(days=90)
"""How long the bot answers a removed person's chat as such (then: as any unpaired chat)."""
STOP_WAIT_S: Final = 150.0
"""The task's stop timeout (120 s) and a margin: its final backup, when data is kept."""


def removed_chat_key(chat_id: int) -> str:
    return f"removed-chat#{chat_id}"


def chat_was_removed(services: Services, chat_id: int) -> bool:
    return services.counters.is_marked(removed_chat_key(chat_id), now=services.clock())


class AgentAccess(Protocol):
    """The person's own principal for their agent task (a role per person on AWS)."""

    def grant(self, user_id: str) -> None: ...

    def revoke(self, user_id: str) -> None: ...


class NoAgentAccess:
    """Where agent tasks have no principal of their own (the embedded backend: one machine,
    one database; docs/security.md)."""

    def grant(self, user_id: str) -> None:
        return None

    def revoke(self, user_id: str) -> None:
        return None


class PersonalData(Protocol):
    """Erases everything stored about one person (`user remove --delete-data`)."""

    def erase(self, user_id: str) -> dict[str, int]:
        """What was deleted, counted by kind."""
        ...


@dataclass(frozen=True)
class Operator:
    """What the operator's `serverless-openclaw user ...` works with: the deployment's ports
    (with the operator's credentials), its people, their roles, and a way to erase one."""

    services: Services
    users: UserDirectory
    access: AgentAccess
    erase: PersonalData | None = None
    """None: this backend cannot erase a person's data (kept; the command says so)."""


@dataclass(frozen=True)
class Added:
    user: UserInfo
    user_id: str
    inbox_url: str


def add_person(
    inbox: Inbox,
    users: UserDirectory,
    access: AgentAccess,
    email: str,
    *,
    temporary_password: str | None = None,
    send_invite: bool = True,
) -> Added:
    """A new person with their role and inbox (`Conflict` when the account exists: use
    `complete_person` to repair one added before roles existed)."""
    user = users.add(email, temporary_password=temporary_password, send_invite=send_invite)
    return complete_person(inbox, users, access, user)


def complete_person(
    inbox: Inbox, users: UserDirectory, access: AgentAccess, user: UserInfo
) -> Added:
    """Make the role and inbox of an existing person (idempotent)."""
    sub = user.sub or users.get(user.username).sub
    if not sub:
        raise NotFound(f"user {user.username} has no id")
    access.grant(sub)
    url = inbox.queue_url(sub, create=True)
    return Added(user=user, user_id=sub, inbox_url=url)


@dataclass
class Removal:
    user_id: str
    chats_unlinked: list[int] = field(default_factory=list)
    task_stopped: bool = False
    sockets_closed: int = 0
    data_erased: dict[str, int] = field(default_factory=dict)


def remove_person(
    services: Services,
    users: UserDirectory,
    access: AgentAccess,
    username: str,
    *,
    erase: PersonalData | None = None,
    stop_wait_s: float = STOP_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
) -> Removal:
    """Take everything back from a person at once (see the module doc); `progress` hears
    each step as it is done."""
    info = users.get(username)
    if not info.sub:
        raise NotFound(f"user {username} has no id")
    sub = info.sub
    now = services.clock()
    removal = Removal(user_id=sub)
    # 1. Tokens: ours refuse what is left of them; Cognito revokes the refresh tokens.
    services.counters.mark(revoked_key(sub), expires_at=now + REVOKED_FOR, now=now)
    users.sign_out_everywhere(username)
    progress("their tokens are refused and their sessions signed out")
    # 2. Telegram: the chats no longer reach anything, and hear why.
    while (link := services.telegram.link_of_user(sub)) is not None:
        services.counters.mark(
            removed_chat_key(link.chatId), expires_at=now + REMOVED_CHAT_FOR, now=now
        )
        services.telegram.unlink_user(sub)
        removal.chats_unlinked.append(link.chatId)
        if len(removal.chats_unlinked) > 100:  # the index trailing a delete: do not spin
            break
    if removal.chats_unlinked:
        progress(f"{len(removal.chats_unlinked)} Telegram chat(s) unlinked")
    # 3-4. The task, then its rights. Erasing: rights first (nothing may write back).
    if erase is not None:
        access.revoke(sub)
    stopped = ops.stop(services, sub, "person removed")
    removal.task_stopped = stopped.state == "stopping"
    if removal.task_stopped and stopped.task_arn and erase is None:
        progress("their agent is stopping (it backs up first)")
        _wait_stopped(services, stopped.task_arn, stop_wait_s, sleep, poll_s)
    if erase is None:
        access.revoke(sub)
    progress(
        "their agent's role is gone" + (" and the agent stopped" if removal.task_stopped else "")
    )
    removal.sockets_closed = _close_sockets(services, sub)
    services.inbox.delete_inbox(sub)
    progress(f"{removal.sockets_closed} open socket(s) closed, inbox deleted")
    # 5. The account, and (asked for) the data.
    users.remove(username)
    progress("account deleted")
    if erase is not None:
        removal.data_erased = erase.erase(sub)
    log.info("person removed", extra={"user_id": sub, "erased": erase is not None})
    return removal


def _wait_stopped(
    services: Services,
    task_arn: str,
    timeout_s: float,
    sleep: Callable[[float], None],
    poll_s: float,
) -> None:
    """Until ECS reports the task stopped (its final backup made), or `timeout_s`."""
    waited = 0.0
    while waited < timeout_s:
        info = services.compute.describe([task_arn]).get(task_arn)
        if info is None or not info.alive:
            return
        sleep(poll_s)
        waited += poll_s
    log.warning("removed person's task still stopping; its role goes now", extra={"arn": task_arn})


def _close_sockets(services: Services, user_id: str) -> int:
    api = services.connections_api
    closed = 0
    for record in services.connections.for_user(user_id):
        if api is not None:
            with contextlib.suppress(ConnectionGone, NotFound):
                try:
                    api.delete(record.connection_id)
                    closed += 1
                except StorageUnavailable as exc:
                    log.warning("closing a socket failed: %s", exc)
        services.connections.delete(record.connection_id)
    return closed
