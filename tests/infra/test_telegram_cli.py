# ruff: noqa: F811 - the fake Bot API fixtures are imported by name
"""`telegram setup` for a deployment: the region, the SSM parameters and the webhook URL come
from the deployment's settings and stack outputs, not from the environment; a secret Telegram
would refuse is refused before calling it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.telegram.conftest import FakeBot, clock, fake_bot  # noqa: F401 - fixtures
from typer.testing import CliRunner

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.cli import telegram_cmd
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/telegram/webhook"


@pytest.fixture
def deployment(
    aws: Any, fake_bot: FakeBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    prefix = f"tg-{aws.prefix}"
    clients = AwsClients(aws.region)
    for name in ("bot-token", "webhook-secret"):
        value = DEFAULT_TOKEN if name == "bot-token" else "Good_secret-123"
        clients.ssm().put_parameter(
            Name=f"/{prefix}/telegram/{name}", Value=value, Type="SecureString"
        )
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {}}},
        "Outputs": {"TelegramWebhookUrl": {"Value": URL}},
    }
    clients.client("cloudformation").create_stack(
        StackName=f"{prefix}-api", TemplateBody=json.dumps(template)
    )
    for key in ("SOC_TELEGRAM_BOT_TOKEN_PARAM", "SOC_TELEGRAM_WEBHOOK_SECRET_PARAM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SOC_TELEGRAM_API_BASE", fake_bot.url)
    monkeypatch.setenv("COLUMNS", "200")
    config = tmp_path / "serverless-openclaw.json"
    config.write_text(json.dumps({"prefix": prefix, "telegram": True, "region": aws.region}))
    return config


def test_setup_reads_the_deployment_and_its_webhook_url(
    deployment: Path, fake_bot: FakeBot
) -> None:
    result = CliRunner().invoke(telegram_cmd.app, ["setup", "--config", str(deployment)])
    assert result.exit_code == 0, result.output
    status = CliRunner().invoke(telegram_cmd.app, ["status", "--config", str(deployment)])
    assert URL in status.output


def test_a_secret_telegram_refuses_is_refused_with_the_rule(
    deployment: Path, aws: Any, fake_bot: FakeBot
) -> None:
    prefix = json.loads(deployment.read_text())["prefix"]
    AwsClients(aws.region).ssm().put_parameter(
        Name=f"/{prefix}/telegram/webhook-secret",
        Value="not ok: spaces & colons",
        Type="SecureString",
        Overwrite=True,
    )
    result = CliRunner().invoke(telegram_cmd.app, ["setup", "--config", str(deployment)])
    assert result.exit_code == 1
    assert "A-Z, a-z, 0-9, _ and -" in result.output
