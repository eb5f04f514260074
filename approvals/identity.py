"""Who someone is: local users with argon2-hashed passwords, personal API tokens, web sessions.

- Passwords are hashed with argon2id (argon2-cffi's defaults); only the hash is stored.
- A token is ``fl_<id>_<secret>``: the id finds the row, the secret's SHA-256 is stored and compared in
  constant time. Tokens are 256-bit random strings, so a fast hash is enough (argon2 is for the low
  entropy of passwords); the token itself is shown once, when it is created.
- A session is a random id in an HttpOnly cookie; the database keeps its SHA-256, the user, a CSRF
  token for the session's forms, and when it expires.

Nothing here logs a password, a token or a session id; errors name the user, never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from storage.sql import SqlConnection, integrity_errors

USER_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class IdentityError(ValueError):
    """A user or token operation is not possible; the message says why (never the secret)."""


@dataclass(frozen=True)
class User:
    """A signed-in person: their name, groups (for approval rules), handles (on-call matching) and Slack id."""

    name: str
    display_name: str = ""
    groups: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    slack_id: str | None = None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


@dataclass
class UserStore:
    """Users, tokens and sessions in the approvals database."""

    conn: SqlConnection
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        password: str | None,
        at: datetime,
        display_name: str = "",
        groups: list[str] | None = None,
        handles: list[str] | None = None,
        slack_id: str | None = None,
    ) -> User:
        """Create a user (a password is optional: a token-only or proxy-only user has none)."""
        if not re.match(USER_NAME_PATTERN, name):
            raise IdentityError(f"user name {name!r}: use lowercase letters, digits, '.', '_' or '-' (max 64)")
        if password is not None and len(password) < 8:
            raise IdentityError("the password is too short: use at least 8 characters")
        password_hash = self.hasher.hash(password) if password is not None else None
        try:
            with self._lock:
                self.conn.execute(
                    "INSERT INTO users (name, display_name, password_hash, groups_json, handles_json, slack_id, "
                    "created_at) VALUES (?,?,?,?,?,?,?)",
                    (
                        name,
                        display_name,
                        password_hash,
                        json.dumps(sorted(set(groups or []))),
                        json.dumps(sorted(set(handles or []))),
                        slack_id,
                        at.isoformat(),
                    ),
                )
        except integrity_errors() as exc:
            what = "Slack id" if "slack_id" in str(exc) else "name"
            raise IdentityError(f"a user with that {what} exists already ({name}, {slack_id or '-'})") from exc
        user = self.get(name)
        assert user is not None
        return user

    def set_password(self, name: str, password: str) -> None:
        if len(password) < 8:
            raise IdentityError("the password is too short: use at least 8 characters")
        with self._lock:
            cursor = self.conn.execute(
                "UPDATE users SET password_hash=? WHERE name=?", (self.hasher.hash(password), name)
            )
        if cursor.rowcount != 1:
            raise IdentityError(f"no user {name!r}")

    def get(self, name: str) -> User | None:
        row = self.conn.execute(
            "SELECT name, display_name, groups_json, handles_json, slack_id FROM users WHERE name=?", (name,)
        ).fetchone()
        return _user(row) if row else None

    def by_slack_id(self, slack_id: str) -> User | None:
        row = self.conn.execute(
            "SELECT name, display_name, groups_json, handles_json, slack_id FROM users WHERE slack_id=?", (slack_id,)
        ).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        rows = self.conn.execute(
            "SELECT name, display_name, groups_json, handles_json, slack_id FROM users ORDER BY name"
        ).fetchall()
        return [_user(r) for r in rows]

    def check_password(self, name: str, password: str) -> User | None:
        """The user, when the password is theirs; None otherwise (unknown user, no password, mismatch)."""
        row = self.conn.execute("SELECT password_hash FROM users WHERE name=?", (name,)).fetchone()
        if row is None or row[0] is None:
            # Hash anyway, so an unknown name takes as long as a wrong password.
            self.hasher.hash(password)
            return None
        try:
            self.hasher.verify(row[0], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(row[0]):
            self.set_password(name, password)
        return self.get(name)

    # -- tokens --------------------------------------------------------------------------------

    def create_token(self, name: str, *, at: datetime, label: str = "") -> str:
        """A new personal API token for ``name``. Returned once; only its hash is kept."""
        if self.get(name) is None:
            raise IdentityError(f"no user {name!r}; add it first with `firstline users add {name}`")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._lock:
            self.conn.execute(
                "INSERT INTO tokens (id, user_name, secret_hash, label, created_at) VALUES (?,?,?,?,?)",
                (token_id, name, _sha256(secret), label, at.isoformat()),
            )
        return f"fl_{token_id}_{secret}"

    def user_for_token(self, token: str, *, at: datetime | None = None) -> User | None:
        prefix, _, rest = token.strip().partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != "fl" or not token_id or not secret:
            return None
        row = self.conn.execute("SELECT user_name, secret_hash FROM tokens WHERE id=?", (token_id,)).fetchone()
        if row is None or not hmac.compare_digest(row[1], _sha256(secret)):
            return None
        if at is not None:
            with self._lock:
                self.conn.execute("UPDATE tokens SET last_used=? WHERE id=?", (at.isoformat(), token_id))
        return self.get(row[0])

    def tokens(self, name: str) -> list[dict[str, str | None]]:
        rows = self.conn.execute(
            "SELECT id, label, created_at, last_used FROM tokens WHERE user_name=? ORDER BY created_at", (name,)
        ).fetchall()
        return [{"id": r[0], "label": r[1], "created_at": r[2], "last_used": r[3]} for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        with self._lock:
            return self.conn.execute("DELETE FROM tokens WHERE id=?", (token_id,)).rowcount == 1

    # -- sessions ------------------------------------------------------------------------------

    def open_session(self, user: User, *, at: datetime, hours: float) -> tuple[str, Session]:
        """A new session for ``user``: the cookie value (shown to the browser only) and the session."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = at + timedelta(hours=hours)
        with self._lock:
            self.conn.execute("DELETE FROM sessions WHERE expires_at < ?", (at.isoformat(),))
            self.conn.execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_at, expires_at) VALUES (?,?,?,?,?)",
                (_sha256(session_id), user.name, csrf, at.isoformat(), expires.isoformat()),
            )
        return session_id, Session(user=user, csrf=csrf, expires_at=expires)

    def session(self, session_id: str, *, at: datetime) -> Session | None:
        row = self.conn.execute(
            "SELECT user_name, csrf, expires_at FROM sessions WHERE id_hash=?", (_sha256(session_id),)
        ).fetchone()
        if row is None or datetime.fromisoformat(row[2]) <= at:
            return None
        user = self.get(row[0])
        return None if user is None else Session(user=user, csrf=row[1], expires_at=datetime.fromisoformat(row[2]))

    def close_session(self, session_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM sessions WHERE id_hash=?", (_sha256(session_id),))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: tuple[str, str, str, str, str | None]) -> User:
    return User(
        name=row[0],
        display_name=row[1],
        groups=tuple(json.loads(row[2])),
        handles=tuple(json.loads(row[3])),
        slack_id=row[4],
    )
