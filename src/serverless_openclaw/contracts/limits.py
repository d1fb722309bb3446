"""Size and rate limits shared by the handlers, the agent and the web client."""

from typing import Final

MAX_TEXT_BYTES: Final = 32 * 1024
"""A person's message, UTF-8 encoded. Well under SQS's 256 KB and API Gateway's 128 KB frame."""

MAX_FRAME_BYTES: Final = 128 * 1024
"""API Gateway WebSocket frame limit (messages are metered per 32 KB)."""

MAX_CONVERSATION_TITLE: Final = 80

MAIN_CONVERSATION_ID: Final = "main"
"""The conversation shared by the web and Telegram; it maps to OpenClaw's main session."""

NUL: Final = "\x00"
"""A character OpenClaw refuses in a message (`chat.send`: "message must not contain null
bytes"). The edges (the WebSocket `send`, the Telegram webhook) refuse it up front, so the
person learns at once instead of waiting for an answer that cannot come."""

NUL_REFUSED: Final = (
    "Your message contains a NUL character (\\0), which your agent cannot take. "
    "Remove it and send the message again."
)
