"""Per-source authentication: bearer token, basic auth, or an HMAC-SHA256 signature of the raw body.

Secrets are read from the environment once, when the server starts; a missing variable stops the
start with the setting and the variable named. Comparisons are constant-time. Failures raise
`AuthError` with a message that says what was missing or wrong, never what was expected.

Grafana's HMAC (``hmacConfig``): the header carries the lowercase hex HMAC-SHA256 of the body, or of
``"<unix seconds>:<body>"`` when a timestamp header is configured; with a timestamp, deliveries
older or newer than ``max_skew_seconds`` are refused, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from intake.settings import IntakeAuth, IntakeSettings


class AuthError(Exception):
    """The request is not authenticated (HTTP 401)."""


class AuthSetupError(ValueError):
    """A secret the configuration names is not set; the message names the setting and the variable."""


@dataclass(frozen=True)
class SourceAuth:
    settings: IntakeAuth
    secret: bytes = b""

    @property
    def needs_body(self) -> bool:
        return self.settings.kind == "hmac"

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Bearer and basic: decided from the headers alone, before the body is read."""
        kind = self.settings.kind
        if kind in ("none", "hmac"):
            return
        header = headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if kind == "bearer":
            if scheme.lower() != "bearer" or not credentials:
                raise AuthError("missing bearer token (Authorization: Bearer ...)")
            if not hmac.compare_digest(credentials.strip().encode(), self.secret):
                raise AuthError("bearer token does not match")
            return
        if scheme.lower() != "basic" or not credentials:
            raise AuthError("missing basic credentials (Authorization: Basic ...)")
        try:
            # A non-ASCII header (latin-1 from the wire) is a ValueError, not a binascii.Error.
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError) as exc:
            raise AuthError("basic credentials are not valid base64 of user:password") from exc
        expected_user = (self.settings.username or "").encode()
        if not (
            hmac.compare_digest(user.encode(), expected_user) & hmac.compare_digest(password.encode(), self.secret)
        ):
            raise AuthError("basic credentials do not match")

    def check_body(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """HMAC: the signature over the raw body (and timestamp), checked once the body is read."""
        if self.settings.kind != "hmac":
            return
        header_name = self.settings.signature_header.lower()
        signature = headers.get(header_name, "").strip()
        if not signature:
            raise AuthError(f"missing signature header {self.settings.signature_header}")
        signature = signature.removeprefix("sha256=").lower()
        if not (signature.isascii() and len(signature) == 64 and all(c in "0123456789abcdef" for c in signature)):
            raise AuthError(f"signature in {self.settings.signature_header} is not a hex SHA-256 digest")
        mac = hmac.new(self.secret, digestmod=hashlib.sha256)
        if self.settings.timestamp_header:
            stamp = headers.get(self.settings.timestamp_header.lower(), "").strip()
            if not stamp:
                raise AuthError(f"missing timestamp header {self.settings.timestamp_header}")
            # Unix seconds have 10 digits for centuries; a longer number is not a time (and 400 digits would
            # overflow the float arithmetic below).
            if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
                raise AuthError(f"timestamp header {self.settings.timestamp_header} is not Unix seconds")
            sent = int(stamp)
            if abs(now - sent) > self.settings.max_skew_seconds:
                raise AuthError(
                    f"timestamp is {now - sent:+.0f}s from now (more than {self.settings.max_skew_seconds}s): replayed or clock skew"
                )
            mac.update(stamp.encode() + b":")
        mac.update(body)
        if not hmac.compare_digest(mac.hexdigest(), signature):
            raise AuthError(f"signature in {self.settings.signature_header} does not match the body")


def build_authenticators(settings: IntakeSettings, environ: Mapping[str, str]) -> dict[str, SourceAuth]:
    """One `SourceAuth` per enabled source, secrets resolved from ``environ``."""
    result: dict[str, SourceAuth] = {}
    for name, source in settings.sources.items():
        if not source.enabled:
            continue
        auth = source.auth
        variable = {"bearer": auth.token_env, "basic": auth.password_env, "hmac": auth.secret_env}.get(auth.kind)
        secret = b""
        if variable:
            value = environ.get(variable, "")
            if not value:
                field = {"bearer": "token_env", "basic": "password_env", "hmac": "secret_env"}[auth.kind]
                raise AuthSetupError(f"intake.sources.{name}.auth.{field}: environment variable {variable} is not set")
            secret = value.encode()
        result[name] = SourceAuth(auth, secret)
    return result
