"""Settings in one place: each class writes the environment it reads, and no field is dead."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from serverless_openclaw import settings as S
from serverless_openclaw.infra.config import DeploymentConfig

SRC = Path(S.__file__).resolve().parent


def _settings_classes() -> list[type[BaseSettings]]:
    return [
        value
        for name, value in vars(S).items()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == S.__name__
        and not name.startswith("_")
    ]


def test_every_settings_field_is_read_by_the_code_it_configures() -> None:
    """A field nothing reads is a setting that does nothing (an operator would set it and
    see no effect): `deploy --idle-timeout` was one."""
    code = "\n".join(path.read_text() for path in SRC.rglob("*.py") if path.name != "settings.py")
    own = (SRC / "settings.py").read_text()
    dead = [
        f"{cls.__name__}.{field}"
        for cls in _settings_classes()
        for field in cls.model_fields
        if not re.search(rf"\.{field}\b", code) and not re.search(rf"self\.{field}\b", own)
    ]
    assert dead == []


def test_to_environment_is_read_back_as_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = S.HandlerSettings.given(
        names=S.NamesSettings.given(prefix="p1", state_bucket="b1", inbox_dlq_arn="arn:dlq"),
        compute=S.ComputeSettings.given(
            ecs_cluster="c",
            task_definition="p1-agent",
            subnets=["s1", "s2"],
            assign_public_ip=False,
        ),
        telegram=S.TelegramSettings.given(telegram_bot_token_param="/p1/token"),
        default_idle_timeout_minutes=42,
    )
    env = given.to_environment()
    for key in [k for k in os.environ if k.startswith("SOC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    read = S.HandlerSettings()
    assert read.names.prefix == "p1" and read.names.inbox_dlq_arn == "arn:dlq"
    assert read.compute.subnets == ["s1", "s2"] and read.compute.assign_public_ip is False
    assert read.compute.task_definition == "p1-agent"
    assert read.telegram.telegram_bot_token_param == "/p1/token"
    assert read.default_idle_timeout_minutes == 42


def test_the_deploying_machines_environment_does_not_leak_into_what_it_deploys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOC_MIN_UPTIME_SECONDS", "1")
    monkeypatch.setenv("SOC_TELEGRAM_BOT_TOKEN", "secret-of-the-operator")
    env = S.HandlerSettings.given(default_idle_timeout_minutes=20).to_environment()
    assert env == {"SOC_DEFAULT_IDLE_TIMEOUT_MINUTES": "20"}


def test_a_task_is_told_who_it_is_through_the_agent_settings() -> None:
    env = S.launch_environment(
        user_id="u1", inbox_queue_url="https://q", state_prefix="agents/u1/", task_id="l1"
    )
    assert env == {
        "SOC_USER_ID": "u1",
        "SOC_INBOX_QUEUE_URL": "https://q",
        "SOC_STATE_PREFIX": "agents/u1/",
        "SOC_TASK_ID": "l1",
    }


def test_a_prefix_whose_queue_names_sqs_refuses_is_refused_at_deploy() -> None:
    assert DeploymentConfig(prefix="a" * 32).prefix == "a" * 32
    with pytest.raises(ValueError, match="prefix"):
        DeploymentConfig(prefix="a" * 33)


def test_cost_prices_the_task_size_deploy_would_use() -> None:
    def total(*args: str) -> dict[str, object]:
        import json

        out = subprocess.run(
            [sys.executable, "-m", "serverless_openclaw", "cost", "--json", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(json.loads(out))

    default, big = total(), total("--task-cpu", "2048", "--task-memory", "4096")
    assert big["total_usd_per_month"] > default["total_usd_per_month"]  # type: ignore[operator]
    refused = subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "cost", "--task-cpu", "256",
         "--task-memory", "8192"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "Fargate has no 256" in refused.stderr
