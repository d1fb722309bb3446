"""Size and rate limits shared by the handlers, the agent and the web client."""

from typing import Final

MAX_TEXT_BYTES: Final = 32 * 1024
"""A person's message, UTF-8 encoded. Well under SQS's 256 KB and API Gateway's 128 KB frame."""

MAX_FRAME_BYTES: Final = 128 * 1024
"""API Gateway WebSocket frame limit (messages are metered per 32 KB)."""

MAX_CONVERSATION_TITLE: Final = 80

MAIN_CONVERSATION_ID: Final = "main"
"""The conversation shared by the web and Telegram; it maps to OpenClaw's main session."""

# --- attachments (docs/api.md, "Attachments") ----------------------------------------------
# OpenClaw 2026.9.6 refuses images over 6 MiB and files over ~19 MB (decoded), and closes the
# gateway socket (1009, no answer) on a frame over 25 MiB: a message's attachments travel in
# one `chat.send` frame as base64 (4/3 of the bytes), so our own limits stay well below.
MAX_ATTACHMENTS: Final = 5
"""Attachments of one message."""

MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
"""Documents and audio (voice notes)."""

MAX_ATTACHMENTS_BYTES: Final = 15 * 1024 * 1024
"""All attachments of one message together: 20 MiB as base64, under OpenClaw's 25 MiB frame."""

ATTACHMENT_IMAGE_TYPES: Final = "image/png,image/jpeg,image/gif,image/webp"
ATTACHMENT_FILE_TYPES: Final = "application/pdf,text/plain,text/markdown,text/csv,application/json"
ATTACHMENT_AUDIO_TYPES: Final = "audio/ogg,audio/mpeg,audio/mp4,audio/wav,audio/webm"
"""Comma-separated, as an `<input type=file accept=...>` takes them. No SVG or HTML: files are
served back to the browser, and those two can carry script."""

MAX_ATTACHMENT_NAME: Final = 200
"""Characters of a file name (longer names are shortened, keeping the extension)."""

NUL: Final = "\x00"
"""A character OpenClaw refuses in a message (`chat.send`: "message must not contain null
bytes"). The edges (the WebSocket `send`, the Telegram webhook) refuse it up front, so the
person learns at once instead of waiting for an answer that cannot come."""

NUL_REFUSED: Final = (
    "Your message contains a NUL character (\\0), which your agent cannot take. "
    "Remove it and send the message again."
)
