"""The agent image's Dockerfile, checked statically (no Docker engine here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from serverless_openclaw.core.pins import OPENCLAW_VERSION

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "container" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), rest.strip()))
    return found


def last(keyword: str) -> str:
    values = [rest for kw, rest in instructions() if kw == keyword]
    assert values, f"no {keyword}"
    return values[-1]


def test_arm64_python312_slim_base_for_every_stage() -> None:
    froms = [rest for kw, rest in instructions() if kw == "FROM"]
    assert len(froms) == 2
    assert all(f.startswith("--platform=linux/arm64") for f in froms)
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in DOCKERFILE.read_text()


def test_installs_the_pinned_openclaw_with_the_project_installer() -> None:
    runs = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    assert "-m serverless_openclaw.runtime.installer install --prefix /opt/openclaw" in runs
    # One place pins the version (core/pins.py); the Dockerfile must not pin another.
    assert "openclaw@" not in DOCKERFILE.read_text()
    assert OPENCLAW_VERSION not in DOCKERFILE.read_text()
    assert "COPY --from=build /opt/openclaw /opt/openclaw" in DOCKERFILE.read_text()


def test_starts_as_root_only_to_drop_with_init_as_pid1() -> None:
    # The supervisor starts OpenClaw as `openclaw` and drops itself to `agent`
    # (agent/privileges.py); an image-level USER would make that impossible.
    assert not any(kw == "USER" for kw, _ in instructions())
    runs = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    assert "useradd --system --uid 10001 --gid agent" in runs
    assert "useradd --system --uid 10002 --gid openclaw --no-create-home" in runs
    assert "chmod 0711 /home/agent" in runs, "OpenClaw may cross the work dir, not list it"
    entrypoint = json.loads(last("ENTRYPOINT"))
    assert entrypoint[0].endswith("tini") and entrypoint[1] == "--"
    assert json.loads(last("CMD")) == ["python", "-m", "serverless_openclaw.agent"]
    assert last("STOPSIGNAL") == "SIGTERM"


def test_healthcheck_probes_health_on_loopback() -> None:
    health = last("HEALTHCHECK")
    assert "http://127.0.0.1:8080/health" in health
    assert "--start-period=" in health
    assert not any(kw == "EXPOSE" for kw, _ in instructions())


def test_no_secret_in_the_image() -> None:
    text = DOCKERFILE.read_text()
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "AWS_SECRET",
                 "MODEL_API_KEY", "PASSWORD"):  # fmt: skip
        assert name not in text.upper()
    for kw, rest in instructions():
        if kw in {"ENV", "ARG"}:
            assert not re.search(r"(KEY|TOKEN|SECRET)\w*=", rest), rest


def test_build_context_sends_only_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[[line.strip() for line in ignore].index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [
        rest.split()[0] for kw, rest in instructions() if kw == "COPY" and "--from" not in rest
    ]
    for source in copies:
        assert source.rstrip("/") in allowed or source == ".", source
    assert {"src", "pyproject.toml"} <= allowed


def _run_index(fragment: str) -> int:
    found = [i for i, (kw, rest) in enumerate(instructions()) if kw == "RUN" and fragment in rest]
    assert len(found) == 1, fragment
    return found[0]


def test_the_runtime_is_pruned_as_far_as_the_agent_config_allows() -> None:
    """Tier 2 drops the control UI: only safe because the agent's config turns it off."""
    from serverless_openclaw.agent.openclaw.config import LEAN_START

    install = instructions()[_run_index("runtime.installer install")][1]
    assert "--prune 2" in install
    assert LEAN_START["gateway.controlUi.enabled"] is False


def test_the_compile_cache_is_prefilled_on_the_final_path_by_the_gateway_user() -> None:
    steps = instructions()
    warm = _run_index("serverless_openclaw.agent.prewarm compile-cache")
    copy = next(i for i, (kw, rest) in enumerate(steps) if kw == "COPY" and "/opt/openclaw" in rest)
    final_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    # In the final stage, after the runtime is in place (OpenClaw keys the cache by its
    # package.json's mtime); the image has no USER (it starts as root only to drop).
    assert final_from < copy < warm
    script = steps[warm][1]
    # Node keys the cache by uid: it is filled by the user that runs the gateway (OpenClaw's
    # own, agent/privileges.py)...
    assert "--reuid=openclaw" in script
    assert "--runtime-dir /opt/openclaw" in script
    # ...and then handed to root, so OpenClaw can read it and never change it.
    assert "chown -R root:root" in script.split("compile-cache --runtime-dir")[1]


def test_the_image_venv_carries_no_pip() -> None:
    """Every cold start pulls the image; the agent never installs anything."""
    venv = instructions()[_run_index("python -m venv /opt/venv")][1]
    assert "pip uninstall --yes pip" in venv
