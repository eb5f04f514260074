"""The console and the approvals API (Starlette + Jinja2, server-rendered, no build step).

    GET  /                          incidents: status, severity, service, age, what each waits for (live)
    GET  /incidents/{id}            summary, diagnosis with every evidence item and its query, ruled out,
                                    timeline, communications, the pending action card with its buttons
    POST /incidents/{id}/actions/{action}   approve | reject | edit (then approve), from the card's form
    GET|POST /login, POST /logout   local users (argon2); a trusted proxy's users are signed in already
    GET  /v1/approvals              pending approvals with their cards (bearer token or session)
    GET  /v1/approvals/{id}/{action}            one card
    POST /v1/approvals/{id}/{action}            {"decision": "approve"|"reject", "comment", "args"}
    GET  /v1/workflow/incidents/{id}            the incident record as the workflow has it now
    POST /v1/slack/interactions     Slack's block_actions (signed; see approvals.slack)

Pages refresh their live parts by polling a fragment every few seconds (no reload, no script
bundle). A refused decision answers 403 naming the rule; unauthenticated pages redirect to the
login, unauthenticated API calls get 401; a cookie-authenticated change from another site gets 403.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from agents.runner import IncidentNotFound
from approvals.records import Channel
from approvals.service import ApprovalService, NotPending, VoteResult
from approvals.slack import SlackRequestError, parse_interaction, verify_signature
from approvals.web.auth import SESSION_COOKIE, Authenticator, CrossSiteRefused, Identity
from approvals.web.throttle import LoginThrottle

log = structlog.get_logger("firstline.console")
TEMPLATES = Path(__file__).parent / "templates"
LOGIN_COOKIE = "firstline_login"
POLL_SECONDS = 3

STATUS_CODES: dict[str, int] = {
    "approved": 200,
    "rejected": 200,
    "waiting": 202,
    "refused": 403,
    "invalid": 422,
    "already_decided": 409,
    "expired": 410,
}


def _age(since: str | None, now: datetime) -> str:
    if not since:
        return ""
    seconds = max(0, int((now - datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


@dataclass
class ConsoleApp:
    """The console's routes around one `ApprovalService`; ``slack_secret`` is None when Slack is off."""

    service: ApprovalService
    auth: Authenticator
    slack_secret: bytes | None = None
    slack_reply: Callable[[str, str, str], Coroutine[Any, Any, None]] | None = None
    wall_clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(clock=self.wall_clock)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)

    # -- helpers -------------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(
            self.env.get_template(name).render(poll_seconds=POLL_SECONDS, **context), status_code=status
        )

    def _with_session(self, response: Response, identity: Identity) -> Response:
        if identity.new_session_id:
            self._set_session_cookie(response, identity.new_session_id)
        return response

    def _set_session_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=int(self.auth.settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=self.auth.settings.secure_cookies,
            path="/",
        )

    def _page_identity(self, request: Request) -> Identity | Response:
        identity = self.auth.identify(request)
        if identity is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return identity

    def _api_identity(self, request: Request) -> Identity | Response:
        identity = self.auth.identify(request)
        if identity is None:
            return JSONResponse(
                {
                    "status": "error",
                    "error": "unauthenticated",
                    "message": "sign in, or send Authorization: Bearer TOKEN",
                },
                status_code=401,
            )
        return identity

    def incident_rows(self) -> list[dict[str, Any]]:
        index = self.service.responder.index
        now = self.service.clock()
        waiting = {p["incident"]: p for p in self.service.pending()}
        rows = []
        for row in index.rows():
            record = index.get(row["id"]) or {}
            started = (record.get("alert") or {}).get("started_at")
            pending = waiting.get(row["id"])
            rows.append(
                {
                    **row,
                    "age": _age(started, now),
                    "waits_for": f"approval: {pending['title']}" if pending else "",
                }
            )
        return rows

    async def incident_context(self, incident_id: str) -> dict[str, Any]:
        outcome, request = await self.service.waiting(incident_id)
        card = self.service.card(outcome.state, request) if request is not None else None
        record = outcome.state.record()
        return {"record": record, "card": card, "now": self.service.clock()}

    async def _decide(
        self,
        incident_id: str,
        action_id: str,
        identity: Identity,
        decision: Literal["approved", "rejected"],
        channel: Channel,
        comment: str,
        args: dict[str, Any] | None,
    ) -> VoteResult:
        result = await self.service.vote(
            incident_id, action_id, identity.user, decision, channel=channel, comment=comment, edited_args=args
        )
        if result.decided:
            self.service.apply_soon(incident_id, action_id)
        return result

    # -- pages ---------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render("login.html", login_csrf=token, next=request.query_params.get("next", "/"), error="")
        response.set_cookie(LOGIN_COOKIE, token, max_age=600, httponly=True, samesite="strict", path="/login")
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        submitted = str(form.get("csrf", ""))
        origin = request.headers.get("origin")
        same_origin = not origin or origin == f"{request.url.scheme}://{request.url.netloc}"
        target = str(form.get("next", "/"))
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # never redirect off-site after a login
        if not cookie or not secrets.compare_digest(cookie, submitted) or not same_origin:
            return self.render("login.html", 403, login_csrf=cookie, next=target, error="the form expired; try again")
        username = str(form.get("username", "")).strip().lower()
        client = request.client.host if request.client else None
        keys = self.throttle.keys(username, client)
        wait = self.throttle.retry_after(keys)
        if wait:
            log.info("console_login_throttled", client=client, retry_after=wait)
            refused = self.render(
                "login.html", 429, login_csrf=cookie, next=target,
                error=f"too many failed sign-ins; try again in {wait} seconds",
            )  # fmt: skip
            refused.headers["Retry-After"] = str(wait)
            return refused
        user = self.auth.users.check_password(username, str(form.get("password", "")))
        if user is None:
            self.throttle.failed(keys)
            log.info("console_login_failed", client=client)
            return self.render("login.html", 401, login_csrf=cookie, next=target, error="wrong user name or password")
        self.throttle.succeeded(username)
        session_id, _ = self.auth.users.open_session(
            user, at=self.service.clock(), hours=self.auth.settings.session_hours
        )
        response = RedirectResponse(target, status_code=303)
        self._set_session_cookie(response, session_id)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        log.info("console_login", user=user.name)
        return response

    async def logout(self, request: Request) -> Response:
        identity = self.auth.identify(request)
        if identity is not None and identity.via != "token":
            form = await request.form()
            try:
                self.auth.check_same_site(request, identity, str(form.get("csrf", "")))
            except CrossSiteRefused as exc:
                return HTMLResponse(str(exc), status_code=403)
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                self.auth.users.close_session(cookie)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def incidents_page(self, request: Request) -> Response:
        identity = self._page_identity(request)
        if isinstance(identity, Response):
            return identity
        fragment = request.query_params.get("fragment") == "1"
        name = "_incidents.html" if fragment else "incidents.html"
        return self._with_session(self.render(name, identity=identity, rows=self.incident_rows()), identity)

    async def incident_page(self, request: Request, *, notice: VoteResult | None = None) -> Response:
        identity = self._page_identity(request)
        if isinstance(identity, Response):
            return identity
        incident_id = request.path_params["incident_id"]
        try:
            context = await self.incident_context(incident_id)
        except IncidentNotFound:
            return self.render("not_found.html", 404, identity=identity, incident_id=incident_id)
        fragment = request.query_params.get("fragment") == "1"
        name = "_incident.html" if fragment else "incident.html"
        status = STATUS_CODES.get(notice.status, 200) if notice else 200
        return self._with_session(self.render(name, status, identity=identity, notice=notice, **context), identity)

    async def decide_form(self, request: Request) -> Response:
        identity = self._page_identity(request)
        if isinstance(identity, Response):
            return identity
        form = await request.form()
        try:
            self.auth.check_same_site(request, identity, str(form.get("csrf", "")))
        except CrossSiteRefused as exc:
            log.warning("console_cross_site_refused", reason=str(exc))
            return HTMLResponse(str(exc), status_code=403)
        incident_id, action_id = request.path_params["incident_id"], request.path_params["action_id"]
        verb = str(form.get("decision", ""))
        args: dict[str, Any] | None = None
        if verb == "edit":
            raw = str(form.get("args", ""))
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError as exc:
                notice = VoteResult("invalid", f"args: not JSON ({exc.msg} at character {exc.pos})")
                return await self.incident_page(request, notice=notice)
            if not isinstance(parsed, dict):
                return await self.incident_page(request, notice=VoteResult("invalid", "args: expected a JSON object"))
            args = parsed
        if verb not in ("approve", "reject", "edit"):
            return await self.incident_page(
                request, notice=VoteResult("invalid", f"decision: {verb!r} is not one of approve, reject, edit")
            )
        decision: Literal["approved", "rejected"] = "rejected" if verb == "reject" else "approved"
        try:
            result = await self._decide(
                incident_id, action_id, identity, decision, "web", str(form.get("comment", "")), args
            )
        except (NotPending, IncidentNotFound) as exc:
            result = VoteResult("already_decided", str(exc))
        return await self.incident_page(request, notice=result)

    # -- API -----------------------------------------------------------------------------------

    async def api_pending(self, request: Request) -> Response:
        identity = self._api_identity(request)
        if isinstance(identity, Response):
            return identity
        cards = []
        for pending in self.service.pending():
            outcome, waiting = await self.service.waiting(pending["incident"])
            if waiting is not None and waiting.action_id == pending["id"]:
                cards.append(self.service.card(outcome.state, waiting).model_dump(mode="json"))
        return JSONResponse({"approvals": cards})

    async def api_card(self, request: Request) -> Response:
        identity = self._api_identity(request)
        if isinstance(identity, Response):
            return identity
        incident_id, action_id = request.path_params["incident_id"], request.path_params["action_id"]
        try:
            outcome, waiting = await self.service.waiting(incident_id)
        except IncidentNotFound as exc:
            return JSONResponse({"status": "error", "error": "not_found", "message": str(exc)}, status_code=404)
        if waiting is None or waiting.action_id != action_id:
            return JSONResponse(
                {"status": "error", "error": "not_pending", "message": f"{incident_id} is not waiting on {action_id}"},
                status_code=404,
            )
        return JSONResponse(self.service.card(outcome.state, waiting).model_dump(mode="json"))

    async def api_decide(self, request: Request) -> Response:
        identity = self._api_identity(request)
        if isinstance(identity, Response):
            return identity
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if identity.via != "token":
            try:
                self.auth.check_same_site(request, identity, request.headers.get("x-csrf-token"))
            except CrossSiteRefused as exc:
                return JSONResponse({"status": "error", "error": "cross_site", "message": str(exc)}, status_code=403)
        if not isinstance(body, dict) or body.get("decision") not in ("approve", "reject"):
            return JSONResponse(
                {
                    "status": "error",
                    "error": "invalid",
                    "message": 'decision: expected "approve" or "reject"',
                    "field": "decision",
                },
                status_code=422,
            )
        args = body.get("args")
        if args is not None and not isinstance(args, dict):
            return JSONResponse(
                {"status": "error", "error": "invalid", "message": "args: expected an object", "field": "args"},
                status_code=422,
            )
        decision: Literal["approved", "rejected"] = "approved" if body["decision"] == "approve" else "rejected"
        incident_id, action_id = request.path_params["incident_id"], request.path_params["action_id"]
        try:
            result = await self._decide(
                incident_id, action_id, identity, decision, "api", str(body.get("comment", "")), args
            )
        except (NotPending, IncidentNotFound) as exc:
            return JSONResponse({"status": "error", "error": "not_pending", "message": str(exc)}, status_code=404)
        return JSONResponse(
            {"status": result.status, "message": result.message, "rule": result.rule, "decided_by": result.decided_by},
            status_code=STATUS_CODES[result.status],
        )

    async def api_workflow_incident(self, request: Request) -> Response:
        identity = self._api_identity(request)
        if isinstance(identity, Response):
            return identity
        record = self.service.responder.index.get(request.path_params["incident_id"])
        if record is None:
            return JSONResponse(
                {"status": "error", "error": "not_found", "message": "no such incident"}, status_code=404
            )
        return JSONResponse(record)

    async def slack_interactions(self, request: Request) -> Response:
        if self.slack_secret is None:
            return JSONResponse(
                {"status": "error", "error": "not_enabled", "message": "approvals.slack is off"}, status_code=404
            )
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        records = self.service.records
        try:
            signature = verify_signature(
                self.slack_secret,
                headers,
                body,
                now=self.wall_clock(),
                max_age=self.auth.settings.slack.max_age_seconds,
            )
            if not records.first_sight(
                signature, now=self.wall_clock(), window_seconds=self.auth.settings.slack.max_age_seconds
            ):
                raise SlackRequestError("this signed request was seen before: replay refused")
            click = parse_interaction(body)
        except SlackRequestError as exc:
            log.warning("slack_request_refused", reason=str(exc))
            return JSONResponse({"status": "error", "error": "refused", "message": str(exc)}, status_code=exc.status)
        user = self.auth.users.by_slack_id(click.slack_user)
        if user is None:
            records.audit(
                at=self.service.clock(),
                incident_id=click.incident_id,
                action_id=click.action_id,
                event="refused",
                actor=f"slack:{click.slack_user}",
                channel="slack",
                rule="identity",
                reason="this Slack user is not mapped to a firstline user",
            )
            text = (
                f"<@{click.slack_user}> is not a firstline user (firstline users add NAME --slack {click.slack_user})"
            )
            self._notify_soon(click.incident_id, click.action_id, text)
            return JSONResponse({"status": "refused", "message": text})
        try:
            result = await self.service.vote(
                click.incident_id,
                click.action_id,
                user,
                click.decision,
                channel="slack",
                expected_args_hash=click.args_hash or None,
            )
            if result.decided:
                self.service.apply_soon(click.incident_id, click.action_id)
        except (NotPending, IncidentNotFound) as exc:
            result = VoteResult("already_decided", str(exc))
        if not result.decided:
            self._notify_soon(click.incident_id, click.action_id, f"<@{click.slack_user}>: {result.message}")
        # Slack wants its answer within 3 seconds: the workflow resumes in the background (apply_soon).
        return JSONResponse({"status": result.status, "message": result.message})

    def _notify_soon(self, incident_id: str, action_id: str, text: str) -> None:
        """Answer a click that decided nothing in the request's thread (the buttons stay for others)."""
        if self.slack_reply is not None:
            self.service.spawn(self.slack_reply(incident_id, action_id, text))

    def routes(self) -> list[Route]:
        return [
            Route("/", self.incidents_page, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/incidents/{incident_id}", self.incident_page, methods=["GET"]),
            Route("/incidents/{incident_id}/actions/{action_id}", self.decide_form, methods=["POST"]),
            Route("/v1/approvals", self.api_pending, methods=["GET"]),
            Route("/v1/approvals/{incident_id}/{action_id}", self.api_card, methods=["GET"]),
            Route("/v1/approvals/{incident_id}/{action_id}", self.api_decide, methods=["POST"]),
            Route("/v1/workflow/incidents/{incident_id}", self.api_workflow_incident, methods=["GET"]),
            Route("/v1/slack/interactions", self.slack_interactions, methods=["POST"]),
        ]
