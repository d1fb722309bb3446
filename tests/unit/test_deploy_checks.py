"""`deploy` refuses to publish an empty site: the web app must be built first."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.cli.deploy_cmd import check_prerequisites
from serverless_openclaw.infra.config import DeploymentConfig


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_credentials")
def test_deploy_lists_an_unbuilt_web_app_among_what_is_missing(tmp_path: Path) -> None:
    empty, built = tmp_path / "empty", tmp_path / "dist"
    empty.mkdir()
    built.mkdir()
    (built / "index.html").write_text("<!doctype html>")
    for web, ok in ((empty, False), (built, True)):
        config = DeploymentConfig(web_dist=web, agent_image="registry.invalid/agent:1")
        checks, _ = check_prerequisites(config, AwsClients(config.region))
        (check,) = [c for c in checks if c.name.startswith("web app")]
        assert check.ok is ok
        if not ok:
            assert "npm run build" in check.detail
