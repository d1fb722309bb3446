"""Record the AWS calls components make (for the IAM conformance check).

An `AwsClients` observer writes one JSON line per call: the call (only the parameters that
name resources), the role that makes it on AWS (found from the handler module on the call's
stack: `gateway.watchdog` -> `watchdog`, the other handlers -> `handlers`; calls made by the
test itself, i.e. setup as the administrator, have none) and the deployment prefix in use.
What is kept of a call is `adapters/aws/call_log.essentials` (what the dev stack's recorder
keeps too).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Final

from serverless_openclaw.adapters.aws.call_log import essentials
from serverless_openclaw.adapters.aws.clients import AwsCall

CALL_LOG_ENV: Final = "SOC_TEST_AWS_CALL_LOG"
RECORDED_SUITES: Final = ("tests/control_plane",)
"""The suites the conformance test runs again with this recorder on, in a pytest of its own."""
RECORDING_TEST: Final = (
    "tests/iam/test_conformance.py::"
    "test_every_recorded_call_of_the_control_plane_is_allowed_by_its_role"
)
"""That test. A run that collects it leaves RECORDED_SUITES to it (tests/conftest.py)."""
HANDLER_ROLES: Final = {
    "ws_connect": "handlers",
    "ws_message": "handlers",
    "ws_disconnect": "handlers",
    "http_api": "handlers",
    "telegram_webhook": "handlers",
    "watchdog": "watchdog",
}


def role_on_stack() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("serverless_openclaw.gateway."):
            role = HANDLER_ROLES.get(module.rsplit(".", 1)[1])
            if role:
                return role
        frame = frame.f_back  # type: ignore[assignment]
    return None


class CallLog:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def __call__(self, call: AwsCall) -> None:
        line = json.dumps(
            {
                "role": role_on_stack(),
                "prefix": os.environ.get("SOC_PREFIX", ""),
                "service": call.service,
                "operation": call.operation,
                "region": call.region,
                "params": essentials(call),
            },
            default=str,
        )
        with self._lock, open(self._path, "a") as out:
            out.write(line + "\n")


def observers_from_env() -> list[CallLog]:
    """The recorder when the conformance run asked for one."""
    path = os.environ.get(CALL_LOG_ENV)
    return [CallLog(Path(path))] if path else []


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
