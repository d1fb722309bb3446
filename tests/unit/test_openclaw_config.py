"""openclaw.json patching: keeps the person's keys, never holds a secret."""

from __future__ import annotations

import json

import pytest

from serverless_openclaw.agent.openclaw.config import (
    HeartbeatChoice,
    ModelChoice,
    patch_config,
    read_config,
    write_config,
)
from serverless_openclaw.agent.openclaw.gateway_process import gateway_environment


def test_patch_keeps_keys_we_do_not_manage() -> None:
    existing = {
        "gateway": {"port": 1, "controlUi": {"enabled": False}},
        "agents": {"defaults": {"model": {"primary": "x/y"}, "thinkingDefault": "high"}},
        "ui": {"seamColor": "#fff"},
    }
    patched = patch_config(
        existing, port=18789, model=ModelChoice("anthropic", model_id="claude-sonnet-5")
    )
    assert patched["gateway"]["controlUi"] == {"enabled": False}
    assert patched["ui"] == {"seamColor": "#fff"}
    assert patched["agents"]["defaults"]["thinkingDefault"] == "high"
    assert patched["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-sonnet-5"
    assert patched["gateway"]["port"] == 18789
    assert existing["gateway"]["port"] == 1, "the input is not modified"


def test_no_secret_value_is_ever_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for provider in ("offline", "openai-compatible", "anthropic", "openai", "bedrock"):
        config = patch_config(
            None,
            port=1,
            model=ModelChoice(provider, base_url="http://x/v1"),  # type: ignore[arg-type]
        )
        write_config(tmp_path / "openclaw.json", config)
        text = (tmp_path / "openclaw.json").read_text()
        assert config["gateway"]["auth"] == {"mode": "token"}, "the token is in the env only"
        assert "sk-" not in text
    custom = patch_config(None, port=1, model=ModelChoice("openai-compatible", base_url="u"))
    assert custom["models"]["providers"]["custom"]["apiKey"] == "${SOC_MODEL_API_KEY}"


def test_switching_provider_removes_the_old_managed_provider() -> None:
    offline = patch_config(None, port=1, model=ModelChoice("offline", base_url="http://m/v1"))
    assert "offline" in offline["models"]["providers"]
    anthropic = patch_config(offline, port=1, model=ModelChoice("anthropic"))
    assert "offline" not in anthropic["models"]["providers"]


def test_heartbeat_policies() -> None:
    model = ModelChoice("anthropic")
    off = patch_config(None, port=1, model=model, heartbeat=HeartbeatChoice("off"))
    assert off["agents"]["defaults"]["heartbeat"] == {"every": "0m"}
    active = patch_config(
        off, port=1, model=model, heartbeat=HeartbeatChoice("active-hours", every="1h")
    )
    assert active["agents"]["defaults"]["heartbeat"]["activeHours"] == {
        "start": "08:00",
        "end": "22:00",
    }
    native = patch_config(active, port=1, model=model, heartbeat=HeartbeatChoice("openclaw"))
    assert native["agents"]["defaults"]["heartbeat"] == {}


def test_offline_and_custom_need_a_base_url() -> None:
    with pytest.raises(ValueError, match="base URL"):
        patch_config(None, port=1, model=ModelChoice("openai-compatible"))


def test_unreadable_json5_is_kept_aside_not_lost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "openclaw.json"
    path.write_text("{ gateway: { port: 1, }, // a comment\n}")
    assert read_config(path) is None
    assert "a comment" in (tmp_path / "openclaw.json5.bak").read_text()


def test_gateway_environment_is_an_allowlist() -> None:
    base = {
        "PATH": "/bin",
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "SOC_TELEGRAM_BOT_TOKEN": "123:abc",
        "AWS_ENDPOINT_URL": "http://moto",
        "AWS_SECRET_ACCESS_KEY": "s",
        "ANTHROPIC_API_KEY": "sk-ant",
    }
    env = gateway_environment(
        base,
        state_dir=__import__("pathlib").Path("/s"),
        home=__import__("pathlib").Path("/h"),
        token="t",
    )
    assert "TELEGRAM_BOT_TOKEN" not in env and "SOC_TELEGRAM_BOT_TOKEN" not in env
    assert "AWS_ENDPOINT_URL" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["ANTHROPIC_API_KEY"] == "sk-ant"
    assert env["OPENCLAW_GATEWAY_TOKEN"] == "t" and env["OPENCLAW_STATE_DIR"] == "/s"
    assert json.dumps(env).count("123:abc") == 0


def test_a_spent_budget_pauses_automations_and_the_heartbeat_and_resumes_them() -> None:
    model = ModelChoice("anthropic")
    heartbeat = HeartbeatChoice("active-hours")
    mine = {"cron": {"sessionRetention": "48h"}}  # the person's own cron setting stays
    paused = patch_config(mine, port=1, model=model, heartbeat=heartbeat, automations_paused=True)
    assert paused["cron"] == {"sessionRetention": "48h", "enabled": False}
    assert paused["agents"]["defaults"]["heartbeat"] == {"every": "0m"}
    resumed = patch_config(paused, port=1, model=model, heartbeat=heartbeat)
    assert resumed["cron"] == {"sessionRetention": "48h"}
    assert resumed["agents"]["defaults"]["heartbeat"]["activeHours"] == {
        "start": "08:00",
        "end": "22:00",
    }
    assert "cron" not in patch_config(None, port=1, model=model)


def test_a_custom_endpoint_is_asked_for_streamed_usage() -> None:
    custom = patch_config(
        None, port=1, model=ModelChoice("openai-compatible", base_url="https://llm.example/v1")
    )
    (entry,) = custom["models"]["providers"]["custom"]["models"]
    assert entry["compat"] == {"supportsUsageInStreaming": True}
    offline = patch_config(
        None, port=1, model=ModelChoice("offline", base_url="http://127.0.0.1:9/v1")
    )
    assert "compat" not in offline["models"]["providers"]["offline"]["models"][0]


def test_the_agent_turns_off_background_work_nobody_here_uses() -> None:
    lean = patch_config(None, port=1, model=ModelChoice("anthropic"))
    assert lean["gateway"]["controlUi"] == {"enabled": False}
    assert lean["models"]["catalogRefresh"] == {"enabled": False}
    assert lean["update"] == {"checkOnStart": False}
    # A bare gateway (the benchmark's comparison) gets OpenClaw's own defaults back.
    bare = patch_config(lean, port=1, model=ModelChoice("anthropic"), lean=False)
    assert bare["gateway"].get("controlUi") == {}
    assert bare["models"].get("catalogRefresh") == {}
    assert bare.get("update") == {}


def test_the_prewarm_stand_in_is_a_provider_of_its_own_and_never_the_default() -> None:
    config = patch_config(
        None,
        port=1,
        model=ModelChoice("anthropic"),
        prewarm_url="http://127.0.0.1:5555/v1",
    )
    provider = config["models"]["providers"]["soc-prewarm"]
    assert provider["baseUrl"] == "http://127.0.0.1:5555/v1"
    assert [m["id"] for m in provider["models"]] == ["stand-in"]
    assert config["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-sonnet-5"
    # The next start without a stand-in (pre-warm off) leaves no dead provider behind.
    again = patch_config(config, port=1, model=ModelChoice("anthropic"))
    assert "soc-prewarm" not in again["models"]["providers"]
