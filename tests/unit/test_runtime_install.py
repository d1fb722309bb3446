"""Runtime provisioning decisions that can be shown without downloading anything."""

from __future__ import annotations

import pytest

from serverless_openclaw.core.errors import RuntimeInstallError
from serverless_openclaw.runtime import installer as runtime


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("v24.21.0", True),
        ("v24.16.0", True),
        ("v24.15.9", False),
        ("v20.20.2", False),
        ("v25.1.0", False),
        ("v26.0.0", False),
        ("v26.1.0", True),
        ("v27.0.1", True),
    ],
)
def test_node_versions_follow_openclaws_engines(text: str, ok: bool) -> None:
    version = runtime.parse_node_version(text)
    assert version is not None
    assert runtime.node_is_supported(version) is ok


def test_missing_npm_gives_a_clear_instruction(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    with pytest.raises(RuntimeInstallError, match="npm was not found"):
        runtime.install(tmp_path / "prefix")


def test_locate_ignores_an_unfinished_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"openclaw-{runtime.OPENCLAW_VERSION}" / "node_modules" / "openclaw"
    target.mkdir(parents=True)
    (target / "openclaw.mjs").write_text("")
    assert runtime.locate(tmp_path) is None, "no installed.json: npm did not finish"
