"""moto's server, as strict as DynamoDB about concurrent writes.

moto serves each request on a thread of its own and its DynamoDB backend checks a condition
and then writes without a lock: two conditional writes that race both succeed (two
concurrent wakes both won Idle -> Starting in the contract suite). DynamoDB serialises the
writes to an item, and the single-task guarantee (decision D7) rests on that. This module
wraps moto's WSGI application so that DynamoDB requests run one at a time — whole requests,
transactions included — while every other service keeps moto's concurrency (an SQS long
poll must not hold DynamoDB up).

With IAM enforced (`/moto-api/reset-auth`), moto authenticates every request but the few
Cognito operations it knows to be public; AWS serves more of them without credentials (the
browser's sign-in: a new password at first sign-in, sign-out, token revocation), so those
are added to moto's list here (`PUBLIC_COGNITO_OPERATIONS`).

Used by the tests' `moto_server` fixture (`python -m serverless_openclaw.local.moto_server
-p PORT`) and the dev stack's aws backend (`ThreadedServer`, local/moto_state.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, Final

from werkzeug.serving import BaseWSGIServer, make_server

from .serve import bind

DYNAMODB_TARGET: Final = "DynamoDB_20120810."
"""`X-Amz-Target` of every DynamoDB API call (JSON protocol)."""

PUBLIC_COGNITO_OPERATIONS: Final = tuple(
    f"AWSCognitoIdentityProviderService.{operation}"
    for operation in (
        "RespondToAuthChallenge",
        "GlobalSignOut",
        "RevokeToken",
        "ChangePassword",
        "ConfirmForgotPassword",
        "GetTokensFromRefreshToken",
        "AssociateSoftwareToken",
        "VerifySoftwareToken",
        "SetUserMFAPreference",
    )
)
"""Operations of Cognito's user pools API that AWS authorizes by the user's token (or a
session), never by SigV4 — what the web app calls."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def is_dynamodb(environ: dict[str, Any]) -> bool:
    """A DynamoDB API call: by its target, or by the service its signature names."""
    if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DYNAMODB_TARGET):
        return True
    return "/dynamodb/aws4_request" in str(environ.get("HTTP_AUTHORIZATION", ""))


class SerialDynamoDB:
    """WSGI middleware: one DynamoDB request at a time (its whole answer is produced under
    the lock); other requests pass straight through."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.serialised = 0
        """How many DynamoDB requests went through the lock (tests check it is in use)."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not is_dynamodb(environ):
            return self._app(environ, start_response)
        with self._lock:
            self.serialised += 1
            answer = self._app(environ, start_response)
            try:
                body = b"".join(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        return [body]


def allow_public_cognito_operations() -> None:
    """Add what AWS serves without credentials to moto's list (see the module doc)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    public = ActionAuthenticatorMixin.PUBLIC_OPERATIONS
    public.extend(op for op in PUBLIC_COGNITO_OPERATIONS if op not in public)


def create_app() -> SerialDynamoDB:
    """moto's whole application (every service, `/moto-api`), DynamoDB serialised."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    allow_public_cognito_operations()
    return SerialDynamoDB(DomainDispatcherApplication(create_backend_app))


class ThreadedServer:
    """The wrapped moto in a thread of this process (what moto's `ThreadedMotoServer` does,
    with `create_app()`), on `sock` when the caller bound its port already (see
    `EmbeddedMoto.bind`): werkzeug would otherwise bind it only now, and on a taken port print
    to stderr and exit the whole process."""

    def __init__(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        self.host = host
        self.port = port
        self._socket = sock
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        sock = self._socket or bind(self.host, self.port, "moto")
        self._socket = None
        with sock:  # werkzeug serves on a duplicate of it
            self._server = make_server(
                self.host,
                self.port,
                create_app(),
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=sock.fileno(),
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


def main(argv: list[str] | None = None) -> None:
    """`python -m serverless_openclaw.local.moto_server -H 127.0.0.1 -p 5000`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own server does
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    server = make_server(
        args.host, args.port, create_app(), threaded=True, request_handler=MotoRequestHandler
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
