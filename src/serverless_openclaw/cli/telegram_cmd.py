"""`serverless-openclaw telegram ...`: point the bot at our webhook, and see what Telegram sees.

The bot token and the webhook secret come from the same place the webhook Lambda reads
them. For a deployment: its settings (`serverless-openclaw.json`, or `--config`/`--prefix`/
`--region` as for `deploy`) name the region and the SSM parameters, and `setup` takes the
webhook URL from the Api stack's outputs unless `--url` is given. Without a deployment (the
dev stack): `SOC_TELEGRAM_BOT_TOKEN` / `SOC_TELEGRAM_WEBHOOK_SECRET` directly, or the
parameters named by `SOC_TELEGRAM_BOT_TOKEN_PARAM` / `SOC_TELEGRAM_WEBHOOK_SECRET_PARAM`.
`SOC_TELEGRAM_API_BASE` points the commands at another Bot API (the local fake).

Telegram accepts a webhook secret of 1-256 characters from `A-Z a-z 0-9 _ -` only; `setup`
refuses any other before calling Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.secrets import SecretReader
from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.settings import NamesSettings, TelegramSettings
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.secrets import TelegramSecrets, resolve_secrets
from serverless_openclaw.telegram.updates import BotCommand, User, WebhookInfo

app = typer.Typer(
    help="Telegram: register the webhook and the bot's commands; show the webhook's health.",
    no_args_is_help=True,
)

WEBHOOK_SECRET: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What Telegram accepts as `secret_token` (setWebhook)."""
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
    if not WEBHOOK_SECRET.match(secret):
        raise OpenClawError(
            "the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
            "(Telegram refuses any other): store a new one, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
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


@dataclass(frozen=True)
class Target:
    """Where the bot's secrets are and (for a deployment) where its webhook is."""

    settings: TelegramSettings
    region: str
    webhook_url: str | None = None


def target(config_file: Path | None, prefix: str | None, region: str | None) -> Target:
    """The deployment's (its settings file exists or is named), else the environment's."""
    from serverless_openclaw.cli.deploy_cmd import CONFIG_FILE, load_config, stack_outputs

    if config_file is None and prefix is None and not CONFIG_FILE.exists():
        return Target(TelegramSettings(), region or NamesSettings().region)
    config = load_config(config_file, {"prefix": prefix, "region": region})
    if not config.telegram:
        raise OpenClawError(
            f"the deployment {config.prefix} has Telegram off: deploy with --telegram first"
        )
    outputs = stack_outputs(AwsClients(config.region), config.stack_name("api")) or {}
    return Target(
        TelegramSettings(
            telegram_bot_token_param=config.telegram_bot_token_param,
            telegram_webhook_secret_param=config.telegram_webhook_secret_param,
        ),
        config.region,
        outputs.get("TelegramWebhookUrl"),
    )


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Deployment settings file (default: ./serverless-openclaw.json)."
    ),
]
PrefixOpt = Annotated[str | None, typer.Option(help="Deployment prefix.")]
RegionOpt = Annotated[str | None, typer.Option(help="AWS region.")]


@app.command("setup")
def setup(
    url: Annotated[
        str | None,
        typer.Option(help="The webhook URL (default: the deployment's TelegramWebhookUrl output)."),
    ] = None,
    drop_pending_updates: Annotated[
        bool, typer.Option(help="Forget updates Telegram is still holding for the bot.")
    ] = False,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """Register the webhook (URL + secret) and the bot's command menu with Telegram."""
    console = Console()
    try:
        where = target(config_file, prefix, region)
    except OpenClawError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    settings = where.settings
    url = url or where.webhook_url
    if url is None:
        raise typer.BadParameter(
            "give the webhook URL (the HTTP API's URL followed by /telegram/webhook)",
            param_hint="--url",
        )
    if not url.startswith("https://") and settings.telegram_api_base == tg.DEFAULT_API_BASE:
        raise typer.BadParameter("Telegram only calls HTTPS webhooks", param_hint="--url")
    try:
        secrets = load_secrets(settings, where.region)
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
def status(
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """What Telegram knows about the bot's webhook (URL, pending updates, last error)."""
    console = Console()
    try:
        where = target(config_file, prefix, region)
        settings = where.settings
        secrets = load_secrets(settings, where.region)
        with _client(settings, secrets.bot_token) as api:
            bot, info = run_status(api)
    except OpenClawError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    _render(bot, info, console)
