"""The local identity provider: users, password hashes, sessions and Cognito-shaped tokens in
the embedded database (the `UserDirectory` port, and what `local/cognito_idp.py` serves).

Why not moto's Cognito: it never checks SRP proofs, so any password signed in. Here:
- passwords are hashed with Argon2id (argon2-cffi); an unknown user costs the same hash check
  as a known one, and both answer `Unauthorized` with the same words (no user enumeration);
- failed attempts are counted per user and per source address in a sliding window; past the
  limit every attempt is refused with `QuotaExceeded` until the window moves on;
- a user added with a temporary password is FORCE_CHANGE_PASSWORD: signing in answers with a
  NEW_PASSWORD_REQUIRED challenge (a single-use session, 3 minutes), as Cognito does;
- ID and access tokens are RS256 JWTs with Cognito's claims (`token_use`, `aud` for ID tokens,
  `client_id` for access tokens, `cognito:username`), signed with a key kept in the database
  and published as a JWKS, so `adapters/jwks.py::TokenVerifier` checks them unchanged;
- refresh tokens are opaque, stored as hashes, revoked one by one (RevokeToken) or all at once
  (global sign-out).

Everything lives in tables prefixed `idp_` of one SQLite file (WAL, synchronous=FULL): the dev
stack and `serverless-openclaw user ...` open it at the same time.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from serverless_openclaw.core.errors import (
    Conflict,
    InvalidPassword,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    Unauthorized,
)
from serverless_openclaw.ports.identity import UserInfo

TOKEN_LIFETIME_S: Final = 3600
REFRESH_LIFETIME_S: Final = 30 * 24 * 3600
CHALLENGE_LIFETIME_S: Final = 180
MIN_PASSWORD_CHARS: Final = 12
WRONG_CREDENTIALS: Final = "Incorrect username or password."
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS idp_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idp_users (
    username TEXT PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    email TEXT,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    signed_out_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS idp_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idp_refresh_by_user ON idp_refresh_tokens (username);
CREATE TABLE IF NOT EXISTS idp_challenges (
    session_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idp_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idp_failures_by_key ON idp_failures (key, at);
"""


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins allowed per user and per source address within `window_s`."""

    per_user: int = 5
    per_source: int = 20
    window_s: float = 900.0


@dataclass(frozen=True)
class Tokens:
    """A successful sign-in: Cognito's `AuthenticationResult`."""

    id_token: str
    access_token: str
    refresh_token: str | None
    expires_in: int = TOKEN_LIFETIME_S

    def as_cognito(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "IdToken": self.id_token,
            "AccessToken": self.access_token,
            "ExpiresIn": self.expires_in,
            "TokenType": "Bearer",
        }
        if self.refresh_token is not None:
            result["RefreshToken"] = self.refresh_token
        return result


@dataclass(frozen=True)
class NewPasswordRequired:
    """The first sign-in with a temporary password: choose a new one with `session`."""

    session: str
    username: str
    attributes: dict[str, str]


SignInResult = Tokens | NewPasswordRequired


def generate_password(length: int = 16) -> str:
    """A temporary password the policy accepts (letters of both cases and digits)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if _policy_problem(password) is None:
            return password


def _policy_problem(password: str) -> str | None:
    """Why the pool's password policy refuses `password` (as the deployed pool's), or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Password must have at least {MIN_PASSWORD_CHARS} characters."
    if not re.search(r"[A-Z]", password):
        return "Password must have uppercase characters."
    if not re.search(r"[a-z]", password):
        return "Password must have lowercase characters."
    if not re.search(r"[0-9]", password):
        return "Password must have numeric characters."
    return None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _normal(username: str) -> str:
    """People sign in with their email; Cognito's email usernames are case-insensitive."""
    return username.strip().lower()


class EmbeddedIdentity:
    """Users and sign-in of the local stack. Thread-safe; several processes may open the same
    file. `issuer_base` (the local Cognito endpoint's URL) is needed only to issue tokens."""

    def __init__(
        self,
        db_path: Path,
        *,
        issuer_base: str | None = None,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
        limits: SignInLimits | None = None,
    ) -> None:
        self.db_path = db_path
        self._issuer_base = issuer_base.rstrip("/") if issuer_base else None
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._limits = limits or SignInLimits()
        self._local = threading.local()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._schema()
        self.pool_id = self._meta("pool_id", lambda: f"local_{secrets.token_hex(6)}")
        self.client_id = self._meta("client_id", lambda: secrets.token_hex(13))
        self._key = serialization.load_pem_private_key(
            self._meta("signing_key", self._new_key).encode(), None
        )
        self.kid = self._meta("kid", lambda: secrets.token_hex(8))
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    # --- storage ---------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (taken at once: no lock upgrade deadlocks)."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _schema(self) -> None:
        db = self._connection()
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)

    def _meta(self, name: str, make: Callable[[], str]) -> str:
        with self._write() as db:
            row = db.execute("SELECT value FROM idp_meta WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return str(row[0])
            value = make()
            db.execute("INSERT INTO idp_meta (name, value) VALUES (?, ?)", (name, value))
            return value

    @staticmethod
    def _new_key() -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- the user directory (UserDirectory port) -------------------------------------------
    def add(
        self, email: str, *, temporary_password: str | None = None, send_invite: bool = True
    ) -> UserInfo:
        """A FORCE_CHANGE_PASSWORD user (nothing is e-mailed locally: hand the temporary
        password over; `send_invite` is accepted for the port's sake and ignored)."""
        username = _normal(email)
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", username):
            raise InvalidRequest(f"{email!r} is not an e-mail address")
        password = temporary_password or generate_password()
        if (problem := _policy_problem(password)) is not None:
            raise InvalidPassword(problem)
        hashed = self._hasher.hash(password)
        now = self._clock()
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO idp_users (username, sub, email, password_hash, status,"
                    " created_at) VALUES (?, ?, ?, ?, 'FORCE_CHANGE_PASSWORD', ?)",
                    (username, str(uuid.uuid4()), username, hashed, now),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"user {username} already exists") from exc
        return self.get(username)

    def set_password(self, username: str, password: str, *, permanent: bool = True) -> None:
        """AdminSetUserPassword: permanent = CONFIRMED, else FORCE_CHANGE_PASSWORD again."""
        if (problem := _policy_problem(password)) is not None:
            raise InvalidPassword(problem)
        hashed = self._hasher.hash(password)
        status = "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD"
        with self._write() as db:
            changed = db.execute(
                "UPDATE idp_users SET password_hash = ?, status = ? WHERE username = ?",
                (hashed, status, _normal(username)),
            ).rowcount
        if not changed:
            raise NotFound(f"user {username} not found")

    def remove(self, username: str) -> None:
        name = _normal(username)
        with self._write() as db:
            if not db.execute("DELETE FROM idp_users WHERE username = ?", (name,)).rowcount:
                raise NotFound(f"user {username} not found")
            db.execute("DELETE FROM idp_refresh_tokens WHERE username = ?", (name,))
            db.execute("DELETE FROM idp_challenges WHERE username = ?", (name,))

    def get(self, username: str) -> UserInfo:
        row = (
            self._connection()
            .execute(
                "SELECT username, email, status, enabled, created_at, sub FROM idp_users"
                " WHERE username = ?",
                (_normal(username),),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(f"user {username} not found")
        return self._info(row)

    def list(self) -> list[UserInfo]:
        rows = (
            self._connection()
            .execute(
                "SELECT username, email, status, enabled, created_at, sub FROM idp_users"
                " ORDER BY username"
            )
            .fetchall()
        )
        return [self._info(row) for row in rows]

    def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token; access tokens issued before now stop working for the
        identity provider's own calls (as Cognito's AdminUserGlobalSignOut)."""
        name = _normal(username)
        with self._write() as db:
            if not db.execute(
                "UPDATE idp_users SET signed_out_at = ? WHERE username = ?", (self._clock(), name)
            ).rowcount:
                raise NotFound(f"user {username} not found")
            db.execute("DELETE FROM idp_refresh_tokens WHERE username = ?", (name,))

    @staticmethod
    def _info(row: tuple[Any, ...]) -> UserInfo:
        username, email, status, enabled, created_at, sub = row
        return UserInfo(
            username=username,
            email=email,
            status=status,
            enabled=bool(enabled),
            created_at=datetime.fromtimestamp(created_at, UTC),
            sub=sub,
        )

    # --- sign-in ---------------------------------------------------------------------------
    def password_auth(self, username: str, password: str, *, source: str) -> SignInResult:
        """USER_PASSWORD_AUTH. `Unauthorized` for a wrong user or password (same words),
        `QuotaExceeded` past the failed-attempt limits (checked before the password)."""
        name = _normal(username)
        self._check_limits(name, source)
        row = (
            self._connection()
            .execute(
                "SELECT password_hash, status, enabled FROM idp_users WHERE username = ?",
                (name,),
            )
            .fetchone()
        )
        if not self._password_matches(row[0] if row else None, password) or not row[2]:
            self._record_failure(name, source)
            raise Unauthorized(WRONG_CREDENTIALS)
        self._clear_failures(name)
        if row[1] == "FORCE_CHANGE_PASSWORD":
            return self._challenge(name)
        return self._issue(name, with_refresh=True)

    def new_password(self, session: str, username: str, new_password: str) -> Tokens:
        """RespondToAuthChallenge(NEW_PASSWORD_REQUIRED): the session is single use."""
        name = _normal(username)
        if (problem := _policy_problem(new_password)) is not None:
            raise InvalidPassword(problem)
        hashed = self._hasher.hash(new_password)
        with self._write() as db:
            row = db.execute(
                "SELECT username, expires_at FROM idp_challenges WHERE session_hash = ?",
                (_digest(session),),
            ).fetchone()
            db.execute("DELETE FROM idp_challenges WHERE session_hash = ?", (_digest(session),))
            if row is None or row[0] != name or row[1] < self._clock():
                raise Unauthorized("Invalid session for the user, session is expired.")
            db.execute(
                "UPDATE idp_users SET password_hash = ?, status = 'CONFIRMED' WHERE username = ?",
                (hashed, name),
            )
        return self._issue(name, with_refresh=True)

    def refresh(self, refresh_token: str) -> Tokens:
        """REFRESH_TOKEN_AUTH: new ID and access tokens; the refresh token stays the same."""
        row = (
            self._connection()
            .execute(
                "SELECT username, expires_at FROM idp_refresh_tokens WHERE token_hash = ?",
                (_digest(refresh_token),),
            )
            .fetchone()
        )
        if row is None or row[1] < self._clock():
            raise Unauthorized("Invalid Refresh Token")
        return self._issue(row[0], with_refresh=False)

    def revoke(self, refresh_token: str) -> None:
        """RevokeToken: this refresh token only (signing out of one browser)."""
        with self._write() as db:
            db.execute(
                "DELETE FROM idp_refresh_tokens WHERE token_hash = ?", (_digest(refresh_token),)
            )

    def global_sign_out(self, access_token: str) -> None:
        """GlobalSignOut with the user's own access token."""
        self.sign_out_everywhere(self.access_claims(access_token)["username"])

    def access_claims(self, access_token: str) -> dict[str, Any]:
        """The claims of a valid access token of this pool that no sign-out has revoked."""
        try:
            claims: dict[str, Any] = jwt.decode(
                access_token,
                self._key.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                issuer=self.issuer,
                # Time is checked below, against this provider's clock.
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid Access Token") from exc
        if claims.get("token_use") != "access" or float(claims.get("exp", 0)) < self._clock():
            raise Unauthorized("Invalid Access Token")
        row = (
            self._connection()
            .execute(
                "SELECT signed_out_at FROM idp_users WHERE username = ?",
                (claims.get("username"),),
            )
            .fetchone()
        )
        if row is None or float(claims.get("iat", 0)) < row[0]:
            raise Unauthorized("Access Token has been revoked")
        return claims

    def _password_matches(self, hashed: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(hashed or self._dummy_hash, password) and hashed is not None
        except (VerificationError, InvalidHashError):
            return False

    def _challenge(self, username: str) -> NewPasswordRequired:
        session = secrets.token_urlsafe(48)
        with self._write() as db:
            db.execute(
                "INSERT INTO idp_challenges (session_hash, username, expires_at) VALUES (?, ?, ?)",
                (_digest(session), username, self._clock() + CHALLENGE_LIFETIME_S),
            )
        return NewPasswordRequired(
            session=session,
            username=username,
            attributes={"email": username, "email_verified": "true"},
        )

    # --- failed attempts -------------------------------------------------------------------
    def _check_limits(self, username: str, source: str) -> None:
        since = self._clock() - self._limits.window_s
        db = self._connection()
        for key, limit in ((f"user:{username}", self._limits.per_user),
                           (f"source:{source}", self._limits.per_source)):  # fmt: skip
            count = db.execute(
                "SELECT COUNT(*) FROM idp_failures WHERE key = ? AND at > ?", (key, since)
            ).fetchone()[0]
            if count >= limit:
                raise QuotaExceeded(
                    "Password attempts exceeded", retry_after_s=self._limits.window_s
                )

    def _record_failure(self, username: str, source: str) -> None:
        now = self._clock()
        with self._write() as db:
            db.execute("DELETE FROM idp_failures WHERE at < ?", (now - self._limits.window_s,))
            db.executemany(
                "INSERT INTO idp_failures (key, at) VALUES (?, ?)",
                [(f"user:{username}", now), (f"source:{source}", now)],
            )

    def _clear_failures(self, username: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM idp_failures WHERE key = ?", (f"user:{username}",))

    # --- tokens ----------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        if self._issuer_base is None:
            raise RuntimeError("this identity provider was opened without an issuer URL")
        return f"{self._issuer_base}/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        """The public signing key, as Cognito publishes it."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))  # type: ignore[arg-type]
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def _issue(self, username: str, *, with_refresh: bool) -> Tokens:
        row = (
            self._connection()
            .execute("SELECT sub, email FROM idp_users WHERE username = ?", (username,))
            .fetchone()
        )
        if row is None:
            raise Unauthorized(WRONG_CREDENTIALS)
        sub, email = row
        now = int(self._clock())
        common = {
            "sub": sub,
            "iss": self.issuer,
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
            "auth_time": now,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
        }
        id_claims = {
            **common,
            "aud": self.client_id,
            "token_use": "id",
            "cognito:username": username,
            "email": email,
            "email_verified": True,
            "jti": str(uuid.uuid4()),
        }
        access_claims = {
            **common,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "username": username,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid}
        refresh: str | None = None
        if with_refresh:
            refresh = secrets.token_urlsafe(64)
            with self._write() as db:
                db.execute(
                    "INSERT INTO idp_refresh_tokens (token_hash, username, expires_at)"
                    " VALUES (?, ?, ?)",
                    (_digest(refresh), username, now + REFRESH_LIFETIME_S),
                )
        return Tokens(
            id_token=jwt.encode(id_claims, self._key, algorithm="RS256", headers=headers),  # type: ignore[arg-type]
            access_token=jwt.encode(access_claims, self._key, algorithm="RS256", headers=headers),  # type: ignore[arg-type]
            refresh_token=refresh,
        )
