"""`openclaw upgrade` / `rollback`: the pin moves only after every check passed, and a failed
check leaves `core/pins.py` byte for byte as it was. The checks are a stub here (a "new
version" whose contract tests fail, whose config is refused...); the real ones run in
tests/openclaw/test_upgrade_checks.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from serverless_openclaw.core import pins as real_pins
from serverless_openclaw.core.errors import RuntimeInstallError, UpgradeRefused
from serverless_openclaw.runtime import installer
from serverless_openclaw.runtime.installer import OpenClawRuntime
from serverless_openclaw.runtime.upgrade import (
    CheckResult,
    Pin,
    PinFile,
    checkout_root,
    config_changes,
    run_rollback,
    run_upgrade,
)

PINNED = real_pins.OPENCLAW_VERSION
NEW = "2026.10.1"


@dataclass
class StubChecks:
    """A candidate OpenClaw that fails where told to."""

    fail: str | None = None
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def install(self, version: str) -> OpenClawRuntime:
        self.calls.append(f"install {version}")
        if self.fail == "install" and version == NEW:
            raise RuntimeInstallError(f"`npm install openclaw@{version}` failed (exit 1)")
        root = Path("/cache") / f"openclaw-{version}"
        return OpenClawRuntime(
            prefix=Path("/cache"),
            node=Path("/usr/bin/node"),
            entry=root / "node_modules" / "openclaw" / "openclaw.mjs",
            version=version,
        )

    def validate_configs(self, runtime: OpenClawRuntime) -> CheckResult:
        self.calls.append(f"validate {runtime.version}")
        if self.fail == "validate":
            return CheckResult(False, "1 config(s) refused", 'gateway: Unrecognized key: "bind"')
        return CheckResult(True, "5 configs valid")

    def normalized_config(self, runtime: OpenClawRuntime) -> dict[str, Any]:
        self.calls.append(f"doctor {runtime.version}")
        return self.configs.get(runtime.version, {"gateway": {"port": 1}})

    def contract_tests(self, version: str) -> CheckResult:
        self.calls.append(f"contract {version}")
        if self.fail == "contract":
            return CheckResult(False, "1 failed, 13 passed", "E   PROTOCOL_MISMATCH expected 5")
        return CheckResult(True, "14 passed")


@pytest.fixture
def pins(tmp_path: Path) -> PinFile:
    path = tmp_path / "pins.py"
    path.write_text(Path(real_pins.__file__).read_text())
    return PinFile(path)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("pins_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("step", ["install", "validate", "contract"])
def test_a_failed_check_leaves_the_pin_untouched(pins: PinFile, step: str) -> None:
    before = pins.path.read_bytes()
    checks = StubChecks(fail=step)
    report = run_upgrade(NEW, pins=pins, checks=checks)
    assert not report.moved
    assert pins.path.read_bytes() == before
    failed = report.failed
    assert failed is not None
    assert failed[0] == {"install": "install", "validate": "config validation"}.get(
        step, "contract tests"
    )
    if step != "contract":
        assert f"contract {NEW}" not in checks.calls  # a refused config stops before the tests


def test_the_contract_failure_is_reported_with_its_output(pins: PinFile) -> None:
    report = run_upgrade(NEW, pins=pins, checks=StubChecks(fail="contract"))
    failed = report.failed
    assert failed is not None and "PROTOCOL_MISMATCH" in failed[1].details


def test_passing_checks_move_the_pin_and_remember_the_old_one(pins: PinFile) -> None:
    report = run_upgrade(NEW, pins=pins, checks=StubChecks())
    assert report.moved
    assert [name for name, _ in report.steps] == [
        "install",
        "config validation",
        "config changes",
        "contract tests",
    ]
    module = load(pins.path)
    assert (module.OPENCLAW_VERSION, module.OPENCLAW_PREVIOUS_VERSION) == (NEW, PINNED)
    # Nothing else of the module changed.
    assert module.NODE_VERSION == real_pins.NODE_VERSION
    assert module.GATEWAY_PROTOCOL_MAX == real_pins.GATEWAY_PROTOCOL_MAX

    back = run_rollback(pins=pins, checks=StubChecks())
    assert back.moved and back.target == PINNED
    assert pins.read() == Pin(current=PINNED, previous=NEW)


def test_check_only_runs_everything_and_keeps_the_pin(pins: PinFile) -> None:
    before = pins.path.read_bytes()
    checks = StubChecks()
    report = run_upgrade(NEW, pins=pins, checks=checks, move_pin=False)
    assert report.failed is None and not report.moved
    assert f"contract {NEW}" in checks.calls
    assert pins.path.read_bytes() == before


def test_a_rollback_whose_config_is_refused_keeps_the_pin(pins: PinFile) -> None:
    pins.write(Pin(current=NEW, previous=PINNED))
    before = pins.path.read_bytes()
    report = run_rollback(pins=pins, checks=StubChecks(fail="validate"))
    assert not report.moved and pins.path.read_bytes() == before


def test_refusals(pins: PinFile) -> None:
    with pytest.raises(UpgradeRefused, match="already the pinned"):
        run_upgrade(PINNED, pins=pins, checks=StubChecks())
    for bad in ("latest", "^2026.9.6", "2026.9", "2026.9.6 && rm -rf /"):
        with pytest.raises(UpgradeRefused, match="not an exact version"):
            run_upgrade(bad, pins=pins, checks=StubChecks())
    with pytest.raises(UpgradeRefused, match="no previous version"):
        run_rollback(pins=pins, checks=StubChecks())


def test_the_config_diff_shows_moved_keys_and_ignores_doctors_stamps(pins: PinFile) -> None:
    checks = StubChecks(
        configs={
            PINNED: {
                "tools": {"exec": {"timeoutSec": 30}},
                "gateway": {"port": 1},
                "wizard": {"lastRunVersion": PINNED},
            },
            NEW: {
                "tools": {"exec": {"timeoutSeconds": 30}},
                "gateway": {"port": 1},
                "wizard": {"lastRunVersion": NEW},
                "meta": {"lastTouchedVersion": NEW},
            },
        }
    )
    report = run_upgrade(NEW, pins=pins, checks=checks, move_pin=False)
    assert report.config_changes == [
        "- tools.exec.timeoutSec = 30",
        "+ tools.exec.timeoutSeconds = 30",
    ]
    assert config_changes({"a": {"b": 1}}, {"a": {"b": 2}}) == ["~ a.b: 1 -> 2"]


def test_the_pin_of_this_checkout_can_be_found_and_an_installed_copy_is_refused(
    tmp_path: Path,
) -> None:
    assert PinFile.of_checkout().read().current == PINNED
    stray = tmp_path / "site-packages" / "serverless_openclaw" / "core" / "pins.py"
    stray.parent.mkdir(parents=True)
    stray.write_text("")
    assert checkout_root(stray) is None


def test_versions_install_side_by_side(tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.write_text("")
    for version in (PINNED, NEW):
        folder = tmp_path / f"openclaw-{version}"
        entry = folder / "node_modules" / "openclaw" / "openclaw.mjs"
        entry.parent.mkdir(parents=True)
        entry.write_text("")
        (folder / "installed.json").write_text(f'{{"version": "{version}", "node": "{node}"}}')
    assert installer.locate(tmp_path) == installer.locate(tmp_path, version=PINNED)
    found = installer.locate(tmp_path, version=NEW)
    assert found is not None and found.version == NEW
    assert found.entry.is_relative_to(tmp_path / f"openclaw-{NEW}")


def test_the_command_refuses_a_range_and_changes_nothing() -> None:
    before = Path(real_pins.__file__).read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "openclaw", "upgrade", "latest"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not an exact version" in result.stderr
    assert Path(real_pins.__file__).read_bytes() == before
