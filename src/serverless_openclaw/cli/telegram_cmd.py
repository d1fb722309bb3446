"""`serverless-openclaw telegram ...`: point the bot at our webhook, and see what Telegram sees.

The bot token and the webhook secret come from the same place the webhook Lambda reads
them: `SOC_TELEGRAM_BOT_TOKEN` / `SOC_TELEGRAM_WEBHOOK_SECRET` directly, or the SSM
parameters named by `SOC_TELEGRAM_BOT_TOKEN_PARAM` / `SOC_TELEGRAM_WEBHOOK_SECRET_PARAM`.
`SOC_TELEGRAM_API_BASE` points the commands at another Bot API (the local fake).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.secrets import SecretReader
from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.gateway.telegram_webhook import TelegramSecrets, resolve_secrets
from serverless_openclaw.settings import NamesSettings, TelegramSettings
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.updates import BotCommand, User, WebhookInfo

app = typer.Typer(
    help="Telegram: register the webhook and the bot's commands; show the webhook's health.",
    no_args_is_help=True,
)

ALLOWED_UPDATES: Final = ("message", "edited_message")
"""What the webhook handles; everything else Telegram does not even send."""
BOT_COMMANDS: Final = (
    BotCommand(command="pair", description="Link this chat to your account: /pair CODE"),
    BotCommand(command="status", description="Is your agent awake?"),
    BotCommand(command="new", description="Start a new conversation"),
    BotCommand(command="stop", description="Put your agent to sleep now"),
    BotCommand(command="help", description="What this bot does"),
)


@dataclass(frozen=True)
class SetupResult:
    bot: User
    info: WebhookInfo
    commands: Sequence[BotCommand]


def load_secrets(settings: TelegramSettings, region: str) -> TelegramSecrets:
    """The bot token and webhook secret, or a message that says what to set."""
    secrets = resolve_secrets(settings, SecretReader(AwsClients(region).ssm()))
    if secrets is None:
        raise OpenClawError(
            "Telegram is not configured: set SOC_TELEGRAM_BOT_TOKEN_PARAM and "
            "SOC_TELEGRAM_WEBHOOK_SECRET_PARAM (SSM SecureString parameters) or, for the dev "
            "stack, SOC_TELEGRAM_BOT_TOKEN and SOC_TELEGRAM_WEBHOOK_SECRET."
        )
    return secrets


def run_setup(
    api: tg.SyncTelegramApi,
    *,
    url: str,
    secret: str,
    drop_pending_updates: bool = False,
    commands: Sequence[BotCommand] = BOT_COMMANDS,
) -> SetupResult:
    """Register the webhook (with its secret) and the command menu; idempotent."""
    bot = api.call(tg.get_me())
    api.call(
        tg.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending_updates,
        )
    )
    api.call(tg.set_my_commands(commands))
    return SetupResult(bot=bot, info=api.call(tg.get_webhook_info()), commands=commands)


def run_status(api: tg.SyncTelegramApi) -> tuple[User, WebhookInfo]:
    return api.call(tg.get_me()), api.call(tg.get_webhook_info())


def _render(bot: User, info: WebhookInfo, console: Console) -> None:
    table = Table(title=f"@{bot.username or bot.id}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("webhook", info.url or "[yellow]none (updates are not delivered)[/]")
    table.add_row("pending updates", str(info.pending_update_count))
    table.add_row("allowed updates", ", ".join(info.allowed_updates or ()) or "all (default)")
    if info.last_error_date is not None:
        when = datetime.fromtimestamp(info.last_error_date, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        table.add_row("last error", f"[red]{info.last_error_message}[/] at {when}")
    else:
        table.add_row("last error", "none")
    console.print(table)


def _client(settings: TelegramSettings, token: SecretStr) -> tg.BotApi:
    return tg.BotApi(token, base_url=settings.telegram_api_base)


@app.command("setup")
def setup(
    url: Annotated[
        str,
        typer.Option(help="The webhook URL: the HTTP API's URL followed by /telegram/webhook."),
    ],
    drop_pending_updates: Annotated[
        bool, typer.Option(help="Forget updates Telegram is still holding for the bot.")
    ] = False,
) -> None:
    """Register the webhook (URL + secret) and the bot's command menu with Telegram."""
    console = Console()
    settings = TelegramSettings()
    if not url.startswith("https://") and settings.telegram_api_base == tg.DEFAULT_API_BASE:
        raise typer.BadParameter("Telegram only calls HTTPS webhooks", param_hint="--url")
    try:
        secrets = load_secrets(settings, NamesSettings().region)
        with _client(settings, secrets.bot_token) as api:
            result = run_setup(
                api,
                url=url,
                secret=secrets.webhook_secret.get_secret_value(),
                drop_pending_updates=drop_pending_updates,
            )
    except OpenClawError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(
        f"Webhook set; {len(result.commands)} commands registered "
        f"({', '.join('/' + c.command for c in result.commands)})."
    )
    _render(result.bot, result.info, console)


@app.command("status")
def status() -> None:
    """What Telegram knows about the bot's webhook (URL, pending updates, last error)."""
    console = Console()
    settings = TelegramSettings()
    try:
        secrets = load_secrets(settings, NamesSettings().region)
        with _client(settings, secrets.bot_token) as api:
            bot, info = run_status(api)
    except OpenClawError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    _render(bot, info, console)
