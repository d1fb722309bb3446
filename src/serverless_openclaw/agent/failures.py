"""When OpenClaw will not take a turn: which failures are worth another try, how long to wait
before it, and the error replies the person reads instead of silence.

- **Permanent**: `chat.send` answered with an error about the message itself (INVALID_REQUEST
  such as "message must not contain null bytes", or any other code that is not about
  availability). The same message would be refused again, so it is answered at once with a
  `rejected` error reply and the job is done.
- **Transient**: the gateway unreachable, restarting, timing out, or an error it marks
  `retryable` (UNAVAILABLE). The job goes back to the inbox after a jittered, capped delay
  that grows with its deliveries; on its last delivery (`MAX_RECEIVES`) it is answered with an
  `unavailable` error reply instead, so the person hears of it without waiting for the
  dead-letter sweep.
- A model failure during the run (`RunFailed`) is answered at once as `model_error`, with
  "send again" (the bridge's own business: the turn ran, the model failed it).

Pure: no I/O, so the classification is tested on plain exceptions.
"""

from __future__ import annotations

import random
from typing import Final

from serverless_openclaw.contracts.frames import ReplyError
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import GatewayError, MessageRefused

ERROR_MARK: Final = "⚠️ "
TRANSIENT_CODES: Final = frozenset({"UNAVAILABLE", "TIMEOUT", "GATEWAY_EXITED", "gateway_error"})
"""Gateway error codes about availability, not about the message (`gateway_error` is what our
own client raises when it has no code from OpenClaw)."""


def refusal(exc: GatewayError) -> MessageRefused | None:
    """`chat.send`'s error as a permanent refusal of the message, or None when another try
    may succeed. Subclasses (disconnected, protocol, auth) are about the connection, never
    about the person's message."""
    if type(exc) is not GatewayError or exc.retryable or exc.code in TRANSIENT_CODES:
        return None
    reason = str(exc).removeprefix("chat.send: ").strip() or exc.code
    return MessageRefused(reason, code=exc.code)


def rejected(exc: MessageRefused) -> tuple[str, ReplyError]:
    """The reply to a message OpenClaw refused: (text, error)."""
    message = (
        f"Your agent could not take this message ({exc}). Sending it again as it is will not "
        "help; change it and send it again."
    )
    return ERROR_MARK + message, ReplyError(code="rejected", message=message, retryable=False)


def unavailable(exc: GatewayError) -> tuple[str, ReplyError]:
    """The reply to a message that could not reach OpenClaw in all its deliveries."""
    message = (
        "Your agent could not be reached after several tries, so this message was not "
        "answered. Send it again in a minute."
    )
    return ERROR_MARK + message, ReplyError(code="unavailable", message=message, retryable=True)


def retry_delay_s(
    deliveries: int, *, base_s: float, cap_s: float, rng: random.Random | None = None
) -> int:
    """Seconds a job stays in the inbox before its next delivery, after `deliveries` failed
    ones: base, 2*base, 4*base ... capped, with jitter (whole seconds: a visibility timeout)."""
    backoff = Backoff(base=base_s, cap=cap_s, rng=rng or random.Random())  # noqa: S311 - jitter
    backoff.attempts = max(0, deliveries - 1)
    return round(backoff.next())
