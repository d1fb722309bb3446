"""A refused config costs one start, not a validate before every start: the gateway process
explains an exit 78 with the validator's issues. OpenClaw is a two-line shell script here
(the real one: tests/openclaw/test_coldstart_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

from serverless_openclaw.agent.openclaw.config import EXIT_CONFIG_INVALID, ConfigInvalid
from serverless_openclaw.agent.openclaw.gateway_process import GatewayProcess
from serverless_openclaw.core.errors import GatewayError, OpenClawError
from serverless_openclaw.runtime.installer import OpenClawRuntime

ISSUES = [{"path": "gateway", "message": 'Unrecognized key: "listenEverywhere"'}]


def fake_openclaw(
    tmp_path: Path, *, gateway_exit: int, report: dict[str, object]
) -> OpenClawRuntime:
    """`openclaw gateway ...` exits with `gateway_exit`; `openclaw config validate --json`
    prints `report` and counts its calls in validate.calls."""
    script = tmp_path / "openclaw.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = gateway ]; then echo "config refused" >&2; exit {gateway_exit}; fi\n'
        f'echo x >> "{tmp_path}/validate.calls"\n'
        f"echo '{json.dumps(report)}'\n"
    )
    return OpenClawRuntime(prefix=tmp_path, node=Path("/bin/sh"), entry=script, version="test")


def process(runtime: OpenClawRuntime, tmp_path: Path) -> GatewayProcess:
    state = tmp_path / "state"
    state.mkdir()
    return GatewayProcess(runtime, state, 1, {"PATH": "/usr/bin:/bin"}, tmp_path / "gateway.out")


async def refusal(gateway: GatewayProcess) -> OpenClawError:
    """Start it and return why it never became ready (stopped either way)."""
    await gateway.start()
    try:
        await gateway.wait_ready(timeout=30, interval=0.01)
    except OpenClawError as exc:
        return exc
    finally:
        await gateway.stop()
    raise AssertionError("the fake gateway cannot become ready")


async def test_exit_78_is_explained_with_the_validators_issues(tmp_path: Path) -> None:
    runtime = fake_openclaw(
        tmp_path, gateway_exit=EXIT_CONFIG_INVALID, report={"valid": False, "issues": ISSUES}
    )
    gateway = process(runtime, tmp_path)
    error = await refusal(gateway)
    assert isinstance(error, ConfigInvalid)
    assert "listenEverywhere" in str(error)
    assert error.issues == ISSUES
    assert (tmp_path / "validate.calls").read_text().count("x") == 1


async def test_any_other_exit_is_not_a_config_problem_and_nothing_is_validated(
    tmp_path: Path,
) -> None:
    runtime = fake_openclaw(tmp_path, gateway_exit=1, report={"valid": False, "issues": ISSUES})
    gateway = process(runtime, tmp_path)
    error = await refusal(gateway)
    assert isinstance(error, GatewayError) and not isinstance(error, ConfigInvalid)
    assert error.code == "GATEWAY_EXITED"
    assert "config refused" in str(error), "the gateway's own words are shown"
    assert not (tmp_path / "validate.calls").exists()


async def test_exit_78_with_a_config_the_validator_accepts_stays_a_gateway_error(
    tmp_path: Path,
) -> None:
    runtime = fake_openclaw(
        tmp_path, gateway_exit=EXIT_CONFIG_INVALID, report={"valid": True, "issues": []}
    )
    gateway = process(runtime, tmp_path)
    error = await refusal(gateway)
    assert isinstance(error, GatewayError) and error.code == "GATEWAY_EXITED"
