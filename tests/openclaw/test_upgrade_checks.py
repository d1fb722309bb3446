"""The real checks of `openclaw upgrade`, run against the OpenClaw under test (the pinned one,
or the candidate SOC_TEST_OPENCLAW_VERSION names while an upgrade runs these tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from serverless_openclaw.core.pins import OPENCLAW_VERSION
from serverless_openclaw.runtime.installer import OpenClawRuntime
from serverless_openclaw.runtime.upgrade import config_changes
from serverless_openclaw.runtime.upgrade_checks import VERSION_ENV, LocalChecks

pytestmark = pytest.mark.openclaw
ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_under_test_is_the_version_asked_for(
    openclaw_runtime: OpenClawRuntime,
) -> None:
    wanted = os.environ.get(VERSION_ENV) or OPENCLAW_VERSION
    assert openclaw_runtime.version == wanted
    printed = subprocess.run(
        openclaw_runtime.command("--version"),
        env=openclaw_runtime.env({"PATH": os.defpath, "HOME": str(ROOT / ".no-home")}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert wanted in printed


def test_every_generated_config_validates(openclaw_runtime: OpenClawRuntime) -> None:
    result = LocalChecks(root=ROOT).validate_configs(openclaw_runtime)
    assert result.ok, result.details


def test_doctor_keeps_our_managed_keys_and_is_repeatable(
    openclaw_runtime: OpenClawRuntime,
) -> None:
    checks = LocalChecks(root=ROOT)
    first = checks.normalized_config(openclaw_runtime)
    assert first["gateway"]["port"] == 18999
    assert first["agents"]["defaults"]["model"]["primary"] == "offline/offline-echo"
    assert first["agents"]["defaults"]["heartbeat"]["every"] == "0m"
    # The same version twice: nothing to report beyond doctor's own stamps (ignored), so a
    # difference in an upgrade's report is the new version's doing.
    assert config_changes(first, checks.normalized_config(openclaw_runtime)) == []
