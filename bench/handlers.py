"""handlers: the Lambda entry points' cold init and warm invocation.

Cold init = importing the handler module in a fresh interpreter, which is what the Lambda
runtime does before the first event (clients are built lazily, on the first invocation).
Beside each handler, in the same run and the same way, the third-party modules that handler
loads are imported alone: the same set of library code (boto3, botocore, pydantic, powertools,
PyJWT, cryptography, ...) without ours. handler / libraries is what our own code adds.
Runs interleave handler and library imports so that the machine's noise hits both alike.

Warm invocation = `handler(event, context)` in this process against a real moto server over
HTTP, after one first invocation has built the clients; events have API Gateway's shapes.
Wake-ups go to the local ECS emulator running the product's no-op stand-in task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.loopback import free_port

from .context import Context
from .stats import Figure, median, ratio

HANDLERS = (
    "serverless_openclaw.gateway.ws_connect",
    "serverless_openclaw.gateway.ws_message",
    "serverless_openclaw.gateway.ws_disconnect",
    "serverless_openclaw.gateway.http_api",
    "serverless_openclaw.gateway.telegram_webhook",
    "serverless_openclaw.gateway.watchdog",
)

AGENT = "serverless_openclaw.agent.supervisor"
"""Not a handler: the agent task's entry point, whose import is part of every cold start."""

LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "serverless-openclaw",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessOpenClaw",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

_TIME_IMPORT = """
import importlib, sys, time
started = time.perf_counter()
importlib.import_module(sys.argv[1])
print((time.perf_counter() - started) * 1000)
"""

_TIME_LIBRARIES = """
import importlib, json, sys, time
names = json.loads(sys.argv[1])
started = time.perf_counter()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print((time.perf_counter() - started) * 1000)
"""

_THIRD_PARTY = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
names = [
    name for name, module in list(sys.modules.items())
    if module is not None and "site-packages" in (getattr(module, "__file__", None) or "")
    and not name.startswith("serverless_openclaw")
]
print(json.dumps(names))
"""


def _python(code: str, *args: str) -> str:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), **LAMBDA_ENV}
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return result.stdout.strip().splitlines()[-1]


def third_party_modules(module: str) -> list[str]:
    """Every third-party module that importing `module` loads, in load order."""
    names: list[str] = json.loads(_python(_THIRD_PARTY, module))
    return names


def import_ms(module: str) -> float:
    return float(_python(_TIME_IMPORT, module))


def libraries_ms(names: list[str]) -> float:
    return float(_python(_TIME_LIBRARIES, json.dumps(names)))


def short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def measure_imports(runs: int, log: Callable[[str], None]) -> dict[str, Figure]:
    modules = (*HANDLERS, AGENT)
    deps = {h: third_party_modules(h) for h in modules}
    sets = {h: tuple(deps[h]) for h in modules}
    unique = sorted(set(sets.values()), key=len)
    for h in modules:  # compile .pyc files once, unmeasured
        import_ms(h)
    for names in unique:
        libraries_ms(list(names))
    handler_samples: dict[str, list[float]] = defaultdict(list)
    library_samples: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for n in range(runs):
        log(f"handlers: import run {n + 1}/{runs}")
        for h in modules:
            handler_samples[h].append(import_ms(h))
        for names in unique:
            library_samples[names].append(libraries_ms(list(names)))
    figures: dict[str, Figure] = {
        "agent_import_ms": Figure.of(
            handler_samples[AGENT], note="the agent task's supervisor module (cold start)"
        ),
        "agent_deps_import_ms": Figure.of(
            library_samples[sets[AGENT]],
            note=f"the {len(deps[AGENT])} third-party modules it loads, alone",
        ),
    }
    per_handler = {h: Figure.of(handler_samples[h]) for h in HANDLERS}
    per_libraries = {h: Figure.of(library_samples[sets[h]]) for h in HANDLERS}
    for h in HANDLERS:
        figures[f"handler_import_{short(h)}_ms"] = Figure.of(
            handler_samples[h], note=f"{len(deps[h])} third-party modules"
        )
    slowest = max(HANDLERS, key=lambda h: per_handler[h].median)
    figures["handler_import_ms_max"] = Figure.of(
        handler_samples[slowest], note=f"slowest handler: {short(slowest)}"
    )
    figures["deps_import_ms"] = Figure.of(
        library_samples[sets[slowest]],
        note=f"the {len(deps[slowest])} third-party modules {short(slowest)} loads, alone",
    )
    figures["handler_import_ratio"] = ratio(
        per_handler[slowest], per_libraries[slowest], f"{short(slowest)} / its libraries"
    )
    worst = max(HANDLERS, key=lambda h: per_handler[h].median / per_libraries[h].median)
    figures["handler_import_ratio_worst"] = ratio(
        per_handler[worst], per_libraries[worst], f"highest ratio: {short(worst)}"
    )
    return figures


# --- warm invocations -----------------------------------------------------------------------
@dataclass
class _Moto:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def moto_server(log_path: Path) -> Iterator[_Moto]:
    port = free_port()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start; see {log_path}") from None
                time.sleep(0.1)
        yield _Moto(url, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _ws_context(route: str, event_type: str, connection_id: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex[:14] + "=",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": now,
        "requestTimeEpoch": now,
        "identity": {"userAgent": "bench", "sourceIp": "192.0.2.10"},
        "requestId": uuid.uuid4().hex[:14] + "=",
        "domainName": "abcd123456.execute-api.us-east-1.amazonaws.com",
        "connectionId": connection_id,
        "apiId": "abcd123456",
    }


def connect_event(connection_id: str, token: str) -> dict[str, Any]:
    headers = {"Host": "abcd123456.execute-api.us-east-1.amazonaws.com"}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {"token": token},
        "multiValueQueryStringParameters": {"token": [token]},
        "requestContext": _ws_context("$connect", "CONNECT", connection_id),
        "isBase64Encoded": False,
    }


def message_event(connection_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestContext": {
            **_ws_context("$default", "MESSAGE", connection_id),
            "messageId": uuid.uuid4().hex[:14] + "=",
        },
        "body": json.dumps(frame),
        "isBase64Encoded": False,
    }


def disconnect_event(connection_id: str) -> dict[str, Any]:
    return {
        "headers": {"Host": "abcd123456.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            **_ws_context("$disconnect", "DISCONNECT", connection_id),
            "disconnectStatusCode": 1001,
            "disconnectReason": "Going away",
        },
        "isBase64Encoded": False,
    }


def http_event(
    method: str, path: str, query: str, token: str, claims: dict[str, Any]
) -> dict[str, Any]:
    """An HTTP API v2 event as API Gateway passes it on: the handler checks the bearer token
    itself (the JWT authorizer's claims are not trusted alone)."""
    return {
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "authorization": f"Bearer {token}",
            "host": "efgh654321.execute-api.aws",
        },
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if p) or None,
        "pathParameters": {"proxy": path.removeprefix("/api/")},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "efgh654321",
            "authorizer": {
                "jwt": {
                    "claims": {k: v if isinstance(v, str) else str(v) for k, v in claims.items()},
                    "scopes": None,
                }
            },
            "domainName": "efgh654321.execute-api.aws",
            "domainPrefix": "efgh654321",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "bench",
            },
            "requestId": uuid.uuid4().hex[:14] + "=",
            "routeKey": "ANY /api/{proxy+}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": uuid.uuid4().hex,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench-watchdog"],
        "detail": {},
    }


@dataclass
class ApiCalls:
    """AWS calls each handler makes and how long each took (botocore's own events)."""

    current: str = ""
    times: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def watch(self, *clients: Any) -> None:
        for client in clients:
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.get("bench_started")
        if started is not None and self.current:
            name = f"{model.service_model.service_name}.{model.name}"
            self.times[self.current][name].append((time.perf_counter() - started) * 1000)

    def summary(self, invocations: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for handler, operations in self.times.items():
            per_op = {
                op: {
                    "calls_per_invocation": round(len(values) / max(1, invocations), 2),
                    "median_ms": round(median(values), 2),
                }
                for op, values in operations.items()
            }
            total = sum(v["calls_per_invocation"] * v["median_ms"] for v in per_op.values())
            result[handler] = {"operations": per_op, "api_ms_per_invocation": round(total, 1)}
        return result


def measure_warm(
    invocations: int,
    work: Path,
    log: Callable[[str], None],
    notes: dict[str, Any] | None = None,
) -> dict[str, Figure]:
    import jwt

    from serverless_openclaw import wiring
    from serverless_openclaw.adapters.aws.clients import AwsClients
    from serverless_openclaw.adapters.aws.ports import AwsPorts
    from serverless_openclaw.adapters.aws.provision import provision
    from serverless_openclaw.local import cognito
    from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
    from serverless_openclaw.local.lambda_runtime import LambdaContext

    work.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    ecs_handle = None
    try:
        with moto_server(work / "moto.log") as moto:
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            os.environ.update(
                {
                    **LAMBDA_ENV,
                    "AWS_ENDPOINT_URL": moto.url,
                    "SOC_PREFIX": prefix,
                    "SOC_STATE_BUCKET": f"{prefix}-state",
                    "SOC_MESSAGES_PER_MINUTE": "1000000",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                }
            )
            os.environ.pop("AWS_SESSION_TOKEN", None)
            # The handlers only now: powertools reads its settings when the modules load.
            from serverless_openclaw.gateway import (
                http_api,
                watchdog,
                ws_connect,
                ws_disconnect,
                ws_message,
            )

            clients = AwsClients("us-east-1")
            provision(clients, prefix=prefix, state_bucket=f"{prefix}-state")
            idp = clients.cognito_idp()
            pool, client_id = cognito.create_pool(idp, prefix)
            password = cognito.generate_password()
            cognito.add_user(idp, pool, "bench@example.com", password)
            token = cognito.sign_in(idp, client_id, "bench@example.com", password)["IdToken"]
            claims = jwt.decode(token, options={"verify_signature": False})
            ecs = EcsEmulator(
                default=TaskDefinition(
                    command=[sys.executable, "-m", "serverless_openclaw.local.noop_agent"]
                ),
                log_dir=work / "tasks",
                stop_timeout_s=5,
            )
            ecs_handle = serve_in_thread(ecs.app)
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL_ECS": ecs_handle.url,
                    "SOC_USER_POOL_ID": pool,
                    "SOC_USER_POOL_CLIENT_ID": client_id,
                    "SOC_JWKS_URL": f"{moto.url}/{pool}/.well-known/jwks.json",
                    "SOC_ECS_CLUSTER": "bench",
                    "SOC_TASK_DEFINITION": "soc-agent",
                    "SOC_SUBNETS": '["subnet-bench"]',
                    "SOC_SECURITY_GROUPS": '["sg-bench"]',
                }
            )
            wiring.reset()

            def ctx(name: str) -> LambdaContext:
                return LambdaContext(function_name=name)

            calls: dict[str, Callable[[str], dict[str, Any]]] = {
                "ws_connect": lambda c: ws_connect.handler(connect_event(c, token), ctx("c")),
                "ws_message_send": lambda c: ws_message.handler(
                    message_event(
                        c,
                        {"action": "send", "id": uuid.uuid4().hex, "text": "bench message"},
                    ),
                    ctx("m"),
                ),
                "ws_message_ping": lambda c: ws_message.handler(
                    message_event(c, {"action": "ping"}), ctx("m")
                ),
                "http_api_agent": lambda c: http_api.handler(
                    http_event("GET", "/api/agent", "", token, claims), ctx("h")
                ),
                "http_api_messages": lambda c: http_api.handler(
                    http_event(
                        "GET", "/api/conversations/main/messages", "limit=20", token, claims
                    ),
                    ctx("h"),
                ),
                "ws_disconnect": lambda c: ws_disconnect.handler(disconnect_event(c), ctx("d")),
                "watchdog": lambda c: watchdog.handler(scheduled_event(), ctx("w")),
            }
            samples: dict[str, list[float]] = defaultdict(list)
            first: dict[str, float] = {}
            api = ApiCalls()
            for n in range(invocations + 1):
                if n == 1:  # the clients exist once every handler ran
                    wired = wiring.current().ports
                    assert isinstance(wired, AwsPorts)
                    clients_ = wired.clients
                    api.watch(clients_.dynamodb(), clients_.sqs(), clients_.ecs())
                if n % 20 == 0:
                    log(f"handlers: warm invocations {n}/{invocations}")
                connection = uuid.uuid4().hex[:14] + "="
                for name, call in calls.items():
                    api.current = name
                    started = time.perf_counter()
                    answer = call(connection)
                    elapsed = (time.perf_counter() - started) * 1000
                    status = int(answer.get("statusCode", 200))
                    if status >= 400:
                        raise RuntimeError(f"{name} answered {status}: {answer}")
                    if n == 0:
                        first[name] = elapsed
                    else:
                        samples[name].append(elapsed)
            ecs.close(5)
    finally:
        if ecs_handle is not None:
            ecs_handle.stop()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
    figures = {
        f"handler_warm_{name}_ms": Figure.of(values, note=f"first call {first[name]:.0f} ms")
        for name, values in samples.items()
    }
    calls_note = api.summary(invocations)
    if notes is not None:
        notes["handler_api_calls"] = calls_note
    send = samples["ws_message_send"]
    figures["handler_warm_ms_p50"] = Figure.of(
        send, note="ws_message `send` (the chat hot path); headline = median"
    )
    return figures


async def run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    figures = await asyncio.to_thread(measure_imports, o.import_runs, ctx.log)
    # The handlers log (and powertools would print metrics) to stdout: keep it for results.
    with contextlib.redirect_stdout(sys.stderr):
        figures.update(
            await asyncio.to_thread(
                measure_warm, o.warm_invocations, ctx.dir / "handlers", ctx.log, ctx.notes
            )
        )
    return figures
