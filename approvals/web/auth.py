"""Who is asking: a bearer token, a trusted proxy's header, or a session cookie; and CSRF for the forms.

- ``Authorization: Bearer fl_...``: a personal API token (the REST API and scripts). No cookie is
  involved, so no CSRF check is needed.
- A trusted proxy (``approvals.trusted_proxy``): its user header is believed only when the request
  comes from one of its configured addresses; anywhere else the header is ignored. The proxy's user
  gets a session like a password login, so the forms carry the same CSRF token.
- A session cookie (``firstline_session``: HttpOnly, SameSite=Lax, Secure behind HTTPS).

A state-changing request on a session must carry the session's CSRF token (form field ``csrf`` or
header ``X-CSRF-Token``) and, when the browser sends ``Origin``, come from this site's own origin.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from starlette.requests import Request

from approvals.identity import Session, User, UserStore
from approvals.settings import ApprovalSettings

SESSION_COOKIE = "firstline_session"


@dataclass(frozen=True)
class Identity:
    user: User
    via: Literal["token", "proxy", "session"]
    session: Session | None = None
    new_session_id: str | None = None  # a proxy login opened a session: set its cookie on the answer


class CrossSiteRefused(Exception):
    """A state-changing request without this session's CSRF token, or from another site (HTTP 403)."""


@dataclass
class Authenticator:
    users: UserStore
    settings: ApprovalSettings
    clock: Callable[[], datetime]

    def _from_proxy(self, request: Request) -> User | None:
        proxy = self.settings.trusted_proxy
        if proxy is None or request.client is None:
            return None
        name = request.headers.get(proxy.header, "").strip()
        if not name:
            return None
        try:
            address = ipaddress.ip_address(request.client.host)
        except ValueError:
            return None
        if not any(address in ipaddress.ip_network(net, strict=False) for net in proxy.sources):
            return None  # the header from anyone but the proxy is just a header
        return self.users.get(name.lower())

    def identify(self, request: Request) -> Identity | None:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            user = self.users.user_for_token(credentials, at=self.clock())
            return Identity(user, "token") if user else None
        now = self.clock()
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.users.session(cookie, at=now) if cookie else None
        proxied = self._from_proxy(request)
        if proxied is not None:
            if session is not None and session.user.name == proxied.name:
                return Identity(proxied, "proxy", session)
            session_id, opened = self.users.open_session(proxied, at=now, hours=self.settings.session_hours)
            return Identity(proxied, "proxy", opened, new_session_id=session_id)
        if session is not None:
            return Identity(session.user, "session", session)
        return None

    @staticmethod
    def check_same_site(request: Request, identity: Identity, submitted: str | None) -> None:
        """Refuse a cookie-authenticated change without the session's CSRF token or from another origin."""
        if identity.via == "token":
            return
        origin = request.headers.get("origin")
        if origin and origin != "null":
            expected = f"{request.url.scheme}://{request.url.netloc}"
            if origin.rstrip("/") != expected:
                raise CrossSiteRefused(f"cross-site request from {origin} refused")
        elif origin == "null":
            raise CrossSiteRefused("cross-site request from an opaque origin refused")
        assert identity.session is not None
        if not submitted or not hmac.compare_digest(submitted.encode(), identity.session.csrf.encode()):
            raise CrossSiteRefused("missing or wrong CSRF token: reload the page and try again")
