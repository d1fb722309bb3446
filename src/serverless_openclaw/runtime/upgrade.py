"""Move the OpenClaw pin without fear: `serverless-openclaw openclaw upgrade VERSION`.

OpenClaw ships fixes weekly, and releases have broken pairing scopes, config keys and the
gateway protocol. So an upgrade is a sequence of checks, and the pin moves only when all of
them pass:

1. install VERSION beside the pinned one (its own folder in the runtime cache);
2. validate every config our supervisor generates with VERSION's own `config validate`
   (the gateway refuses to start on an unknown key);
3. show what changed in our generated config: what each version's `doctor --fix` makes of it
   (the migrations the new gateway would apply at start), pinned vs candidate;
4. run the OpenClaw contract tests (tests/openclaw/, marker `openclaw`) against VERSION;
5. rewrite `core/pins.py`: VERSION becomes the pin, the old pin the rollback target.

`rollback` swaps back to the previous pin after validating our config with it. The checks
themselves are an `UpgradeChecks` (runtime/upgrade_checks.py runs the real ones); this module
decides, and never touches the pin unless every check passed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from serverless_openclaw.core.errors import OpenClawError, UpgradeRefused
from serverless_openclaw.runtime.installer import OpenClawRuntime

Progress = Callable[[str], None]

VERSION: Final = re.compile(r"^\d{1,6}\.\d{1,4}\.\d{1,6}(?:-[0-9A-Za-z.-]{1,40})?$")
"""An exact npm version (a pin is never a range or a dist-tag)."""
_CURRENT: Final = re.compile(r'^OPENCLAW_VERSION: Final = "([^"]+)"$', re.M)
_PREVIOUS: Final = re.compile(
    r'^OPENCLAW_PREVIOUS_VERSION: Final\[str \| None\] = (None|"[^"]+")$', re.M
)
VOLATILE_KEYS: Final = ("wizard", "meta")
"""Top-level keys `doctor` stamps with times and its own version: not a change of ours."""


def _quiet(_: str) -> None:
    return None


# --- the pin ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    current: str
    previous: str | None


class PinFile:
    """`core/pins.py`, read and rewritten in place (only its two OpenClaw lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of_checkout(cls) -> PinFile:
        """The pins of the checkout this package runs from; refused for an installed copy,
        whose edit no commit, image or colleague would ever see."""
        from serverless_openclaw.core import pins

        path = Path(pins.__file__).resolve()
        root = checkout_root(path)
        if root is None:
            raise UpgradeRefused(
                f"{path} is not in a checkout of serverless-openclaw (no pyproject.toml and "
                "tests/openclaw beside src/): upgrade from a clone, where the new pin is "
                "committed and `deploy` builds the image from it"
            )
        if not os.access(path, os.W_OK):
            raise UpgradeRefused(f"{path} is not writable")
        return cls(path)

    def read(self) -> Pin:
        text = self.path.read_text()
        current, previous = _CURRENT.search(text), _PREVIOUS.search(text)
        if current is None or previous is None:
            raise UpgradeRefused(
                f'{self.path} does not have the pin lines `OPENCLAW_VERSION: Final = "..."` '
                "and `OPENCLAW_PREVIOUS_VERSION: Final[str | None] = ...`"
            )
        raw = previous.group(1)
        return Pin(current.group(1), None if raw == "None" else raw.strip('"'))

    def write(self, pin: Pin) -> None:
        """Both lines at once, through a temporary file (never a half-written module)."""
        text = self.path.read_text()
        previous = "None" if pin.previous is None else f'"{pin.previous}"'
        text = _CURRENT.sub(f'OPENCLAW_VERSION: Final = "{pin.current}"', text, count=1)
        text = _PREVIOUS.sub(
            f"OPENCLAW_PREVIOUS_VERSION: Final[str | None] = {previous}", text, count=1
        )
        tmp = self.path.with_suffix(".py.tmp")
        tmp.write_text(text)
        tmp.replace(self.path)


def checkout_root(pins_path: Path) -> Path | None:
    """`<root>/src/serverless_openclaw/core/pins.py` -> `<root>` when it is a checkout."""
    root = pins_path.parents[3] if len(pins_path.parents) > 3 else None
    if root is None or not (root / "pyproject.toml").exists():
        return None
    return root if (root / "tests" / "openclaw").is_dir() else None


# --- the checks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    ok: bool
    summary: str
    details: str = ""
    """The tail of the tool's output, for a failure."""


class UpgradeChecks(Protocol):
    def install(self, version: str) -> OpenClawRuntime:
        """Install (or find) `version` beside the others; `RuntimeInstallError` if npm fails."""
        ...

    def validate_configs(self, runtime: OpenClawRuntime) -> CheckResult:
        """Every config our supervisor writes, validated by `runtime`'s own CLI."""
        ...

    def normalized_config(self, runtime: OpenClawRuntime) -> dict[str, Any]:
        """What `runtime`'s `doctor --fix` makes of our generated config (on a copy)."""
        ...

    def contract_tests(self, version: str) -> CheckResult:
        """The OpenClaw contract tests against `version`."""
        ...


@dataclass
class UpgradeReport:
    target: str
    pinned_before: str
    steps: list[tuple[str, CheckResult]] = field(default_factory=list)
    config_changes: list[str] = field(default_factory=list)
    moved: bool = False
    """True when `core/pins.py` now pins `target`."""

    @property
    def failed(self) -> tuple[str, CheckResult] | None:
        return next(((name, r) for name, r in self.steps if not r.ok), None)


def _step(report: UpgradeReport, name: str, run: Callable[[], CheckResult]) -> bool:
    try:
        result = run()
    except OpenClawError as exc:
        result = CheckResult(False, str(exc))
    report.steps.append((name, result))
    return result.ok


def run_upgrade(
    version: str,
    *,
    pins: PinFile,
    checks: UpgradeChecks,
    progress: Progress = _quiet,
    move_pin: bool = True,
) -> UpgradeReport:
    """Check `version` and, when every check passed (and `move_pin`), pin it. The pin is
    unchanged after any failure; the report says which step failed and why."""
    if not VERSION.match(version):
        raise UpgradeRefused(f"{version!r} is not an exact version such as 2026.9.6")
    pin = pins.read()
    if version == pin.current:
        raise UpgradeRefused(f"OpenClaw {version} is already the pinned version")
    report = UpgradeReport(target=version, pinned_before=pin.current)

    progress(f"installing OpenClaw {version} beside {pin.current}")
    installed: dict[str, OpenClawRuntime] = {}

    def install() -> CheckResult:
        installed["new"] = checks.install(version)
        installed["old"] = checks.install(pin.current)
        return CheckResult(True, f"{installed['new'].entry.parent.parent.parent}")

    if not _step(report, "install", install):
        return report
    progress("validating our generated config with it")
    if not _step(report, "config validation", lambda: checks.validate_configs(installed["new"])):
        return report
    progress("comparing what each version's doctor makes of our config")

    def compare() -> CheckResult:
        before = checks.normalized_config(installed["old"])
        after = checks.normalized_config(installed["new"])
        report.config_changes = config_changes(before, after)
        count = len(report.config_changes)
        return CheckResult(True, f"{count} change(s)" if count else "no change")

    if not _step(report, "config changes", compare):
        return report
    progress(f"running the OpenClaw contract tests against {version} (a few minutes)")
    if not _step(report, "contract tests", lambda: checks.contract_tests(version)):
        return report
    if move_pin:
        pins.write(Pin(current=version, previous=pin.current))
        report.moved = True
    return report


def run_rollback(
    *, pins: PinFile, checks: UpgradeChecks, progress: Progress = _quiet
) -> UpgradeReport:
    """Pin the previous version again (it passed the contract tests when it was pinned);
    our current config is validated with it first."""
    pin = pins.read()
    if pin.previous is None:
        raise UpgradeRefused("there is no previous version to roll back to")
    report = UpgradeReport(target=pin.previous, pinned_before=pin.current)
    progress(f"installing OpenClaw {pin.previous}")
    installed: dict[str, OpenClawRuntime] = {}

    def install() -> CheckResult:
        installed["old"] = checks.install(pin.previous or "")
        return CheckResult(True, str(installed["old"].entry.parent.parent.parent))

    if not _step(report, "install", install):
        return report
    progress("validating our generated config with it")
    if not _step(report, "config validation", lambda: checks.validate_configs(installed["old"])):
        return report
    pins.write(Pin(current=pin.previous, previous=pin.current))
    report.moved = True
    return report


# --- what changed ----------------------------------------------------------------------------
def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{path}.{key}" if path else str(key))
    else:
        yield path, value


def config_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ignore: tuple[str, ...] = VOLATILE_KEYS
) -> list[str]:
    """Leaf-by-leaf differences, as `+ path = value`, `- path = value`, `~ path: a -> b`."""
    old = {k: v for k, v in _flatten(before) if k.split(".")[0] not in ignore}
    new = {k: v for k, v in _flatten(after) if k.split(".")[0] not in ignore}
    lines = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"- {path} = {json.dumps(old[path])}")
        elif path not in old:
            lines.append(f"+ {path} = {json.dumps(new[path])}")
        elif old[path] != new[path]:
            lines.append(f"~ {path}: {json.dumps(old[path])} -> {json.dumps(new[path])}")
    return lines
