"""Where the bot token and the webhook secret come from: direct values (the dev stack) or SSM
parameters (AWS), read through the `SecretReader` port. The webhook handler, the watchdog's
notices and `serverless-openclaw telegram ...` all resolve them here."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr

from serverless_openclaw.core.errors import NotFound
from serverless_openclaw.ports.secrets import SecretReader
from serverless_openclaw.settings import TelegramSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TelegramSecrets:
    bot_token: SecretStr
    webhook_secret: SecretStr


def _one(direct: SecretStr | None, parameter: str | None, reader: SecretReader) -> SecretStr | None:
    if direct is not None and direct.get_secret_value():
        return direct
    if not parameter:
        return None
    try:
        value = reader.get(parameter)
    except NotFound:
        logger.error("telegram: SSM parameter %s is missing", parameter)
        return None
    return value if value.get_secret_value() else None


def resolve_bot_token(settings: TelegramSettings, reader: SecretReader) -> SecretStr | None:
    """The bot token alone (sending a message needs no webhook secret, and the watchdog's
    role may not read it)."""
    return _one(settings.telegram_bot_token, settings.telegram_bot_token_param, reader)


def resolve_secrets(settings: TelegramSettings, reader: SecretReader) -> TelegramSecrets | None:
    """Bot token and webhook secret: direct values (dev stack) or SSM parameters; None when
    Telegram is not configured."""
    token = _one(settings.telegram_bot_token, settings.telegram_bot_token_param, reader)
    secret = _one(settings.telegram_webhook_secret, settings.telegram_webhook_secret_param, reader)
    if token is None or secret is None:
        return None
    return TelegramSecrets(token, secret)
