"""JWT verification against a JWKS (the `TokenVerifier` port): Cognito's on AWS, the embedded
identity provider's locally (it issues tokens of the same shape). Used by the WebSocket
`$connect` and by the HTTP API's Lambda, which verifies the bearer token itself (API
Gateway's JWT authorizer would answer 401 with a body of its own, not the documented one).

One token type is accepted: the Cognito **ID token** (`token_use` = `id`, the app client in
`aud`), the one the web app holds and docs/api.md names. An access token of the same user is
refused: accepting both would make two credentials with different lifetimes and revocation
rules open the same doors. Checks: RS256 signature against the user pool's JWKS (keys cached;
an unknown `kid` refetches), expiry, issuer, audience, `token_use`. The token itself is never
logged or put into an error message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

import jwt
from jwt import PyJWKClient

from serverless_openclaw.core.errors import Unauthorized
from serverless_openclaw.ports.identity import Caller

ALGORITHMS: Final = ["RS256"]
MAX_TOKEN_CHARS: Final = 8192


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        jwks_url: str | None = None,
        jwks_client: PyJWKClient | None = None,
        leeway_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        jwks_timeout_s: float = 5.0,
        jwks_lifespan_s: float = 3600.0,
    ) -> None:
        if not issuer or not client_id:
            raise ValueError("issuer and client_id are required to verify tokens")
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._jwks = jwks_client or PyJWKClient(
            jwks_url or f"{self.issuer}/.well-known/jwks.json",
            cache_keys=True,
            lifespan=int(jwks_lifespan_s),
            timeout=int(max(1, jwks_timeout_s)),
        )
        self._leeway = leeway_s
        self._clock = clock
        self._lock = threading.Lock()

    def _signing_key(self, token: str) -> Any:
        try:
            with self._lock:
                return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthorized("cannot fetch the signing keys") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("unknown signing key") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc

    def verify(self, token: str | None) -> Caller:
        """The caller's identity, or `Unauthorized` saying (vaguely) why not."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("missing token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("unexpected signing algorithm")
        key = self._signing_key(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iss", "sub", "token_use"],
                    "verify_aud": False,  # checked below, per token kind
                    "verify_exp": False,  # checked below, against our clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("wrong issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("bad signature") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> Caller:
        now = self._clock()
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or now > exp + self._leeway:
            raise Unauthorized("token expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and now + self._leeway < nbf:
            raise Unauthorized("token not yet valid")
        use = claims.get("token_use")
        if use != "id":
            raise Unauthorized("an ID token is required")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise Unauthorized("token is for another app")
        username = claims.get("cognito:username")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("token has no subject")
        return Caller(
            user_id=sub,
            username=username if isinstance(username, str) else None,
            token_use="id",  # noqa: S106 - a claim value, not a password
            expires_at=float(exp),
        )
