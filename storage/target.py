"""The Postgres database to use, and the redaction of its secret.

The URL names the server, user and database, never the password: that comes from the environment
variable named by ``password_env`` at connect time, and every error that could carry it is redacted
(`redact`) before it is raised or logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StorageError(RuntimeError):
    """The database cannot be used: unreachable, refused, or not migrated. The message is redacted."""


class PostgresTarget(BaseModel):
    """A Postgres database: ``url`` (postgresql://USER@HOST:PORT/DB, no password) and the password's variable."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    password_env: str | None = Field(default=None, description="Environment variable holding the password.")

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql:// (SQLite is the default: leave storage.url unset)")
        if parts.password is not None or "password=" in parts.query:
            # The value is not echoed: it is the secret.
            raise ValueError("must not contain the password; name its environment variable in storage.password_env")
        return url

    def password(self) -> str | None:
        """The password from the environment; `StorageError` naming the variable when it is unset."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise StorageError(f"storage.password_env: {self.password_env} is not set (the database password)")
        return value

    def describe(self) -> str:
        """The URL without user info beyond the user name: safe for logs."""
        parts = urlsplit(self.url)
        user = f"{parts.username}@" if parts.username else ""
        host = parts.hostname or "(local socket)"
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql://{user}{host}{port}{parts.path}"


# Where one store lives: a SQLite file (the default) or the shared Postgres database.
Location = Path | PostgresTarget


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced (errors from the driver may quote it)."""
    if not secret:
        return text
    return text.replace(secret, "********")
