"""`serverless-openclaw telegram setup|status` against the fake Bot API, with the bot token and
webhook secret in (moto's) SSM, where a deployment keeps them."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.cli import telegram_cmd
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN

from .conftest import WEBHOOK_SECRET, FakeBot

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/telegram/webhook"


@pytest.fixture
def ssm_secrets(aws: Any, fake_bot: FakeBot, monkeypatch: pytest.MonkeyPatch) -> None:
    ssm = AwsClients(aws.region).ssm()
    for name, value in (("bot-token", DEFAULT_TOKEN), ("webhook-secret", WEBHOOK_SECRET)):
        ssm.put_parameter(Name=f"/{aws.prefix}/telegram/{name}", Value=value, Type="SecureString")
    monkeypatch.setenv("SOC_TELEGRAM_BOT_TOKEN_PARAM", f"/{aws.prefix}/telegram/bot-token")
    monkeypatch.setenv(
        "SOC_TELEGRAM_WEBHOOK_SECRET_PARAM", f"/{aws.prefix}/telegram/webhook-secret"
    )
    monkeypatch.setenv("SOC_TELEGRAM_API_BASE", fake_bot.url)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.usefixtures("ssm_secrets")
def test_setup_registers_webhook_secret_and_commands(fake_bot: FakeBot) -> None:
    result = CliRunner().invoke(telegram_cmd.app, ["setup", "--url", URL])
    assert result.exit_code == 0, result.output
    webhook = fake_bot.fake.webhook
    assert (webhook.url, webhook.secret_token) == (URL, WEBHOOK_SECRET)
    assert webhook.allowed_updates == ["message", "edited_message"]
    assert [c["command"] for c in fake_bot.fake.commands] == [
        "pair",
        "status",
        "new",
        "stop",
        "help",
    ]
    assert URL in result.output
    assert WEBHOOK_SECRET not in result.output and DEFAULT_TOKEN not in result.output


@pytest.mark.usefixtures("ssm_secrets")
def test_status_shows_what_telegram_sees(fake_bot: FakeBot) -> None:
    assert CliRunner().invoke(telegram_cmd.app, ["setup", "--url", URL]).exit_code == 0
    fake_bot.fake.user_message(1, "waiting")
    fake_bot.fake.deliver_pending(timeout=2)  # nothing listens at URL: Telegram records an error
    result = CliRunner().invoke(telegram_cmd.app, ["status"])
    assert result.exit_code == 0, result.output
    assert URL in result.output
    words = " ".join(result.output.replace("│", " ").split())
    assert "pending updates 1" in words
    assert "Connection failed" in result.output


def test_without_configuration_it_says_what_to_set(
    aws: Any, fake_bot: FakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_TELEGRAM_API_BASE", fake_bot.url)
    result = CliRunner().invoke(telegram_cmd.app, ["status"])
    assert result.exit_code == 1
    assert "SOC_TELEGRAM_BOT_TOKEN_PARAM" in result.output
    assert fake_bot.fake.calls() == []


def test_plain_http_is_refused_for_the_real_telegram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOC_TELEGRAM_API_BASE", raising=False)
    result = CliRunner().invoke(telegram_cmd.app, ["setup", "--url", "http://example.test/hook"])
    assert result.exit_code != 0
    assert "HTTPS" in result.output
