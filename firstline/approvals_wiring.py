"""Wiring of the approvals layer: configuration and a `Responder` in, the service, watcher and console out.

Secrets come from the environment here and only here: the Slack signing secret (``approvals.slack.
signing_secret_env``) and the CLI's token (``approvals.token_env``). A missing signing secret with
Slack enabled stops the start, naming the setting and the variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from agents.runner import Responder
from approvals.db import open_approvals_db
from approvals.identity import User, UserStore
from approvals.policy import ApproverPolicy
from approvals.records import ApprovalRecords
from approvals.service import ApprovalService
from approvals.settings import ApprovalSettings
from approvals.watch import ApprovalWatcher
from approvals.web.app import ConsoleApp
from approvals.web.auth import Authenticator
from firstline.config import FirstlineConfig, StorageSettings

log = structlog.get_logger("firstline.approvals")
WATCH_SECONDS = 5.0


class IdentityError(RuntimeError):
    """The command line cannot tell who is deciding; the message says how to fix it."""


@dataclass
class ApprovalsRuntime:
    service: ApprovalService
    watcher: ApprovalWatcher
    users: UserStore

    def console(self, environ: Mapping[str, str] = os.environ) -> ConsoleApp:
        settings = self.service.settings
        secret: bytes | None = None
        if settings.slack.enabled:
            value = environ.get(settings.slack.signing_secret_env, "")
            if not value:
                raise ValueError(
                    f"approvals.slack.signing_secret_env: environment variable {settings.slack.signing_secret_env} "
                    "is not set (the Slack app's signing secret, Basic Information)"
                )
            secret = value.encode()
        auth = Authenticator(self.users, settings, self.service.clock)
        return ConsoleApp(self.service, auth, slack_secret=secret, slack_reply=self.watcher.reply_in_thread)

    async def watch(self, every: float = WATCH_SECONDS) -> None:
        """Run the watcher until cancelled; one failing pass is logged and the next one runs.

        With several workers, a pass runs on one worker at a time (the others skip it): reminders,
        escalations and Slack updates are sent once.
        """
        locks = self.service.responder.locks
        while True:
            try:
                async with locks.try_hold("firstline-approvals-watcher") as mine:
                    if mine:
                        await self.watcher.tick()
            except (OSError, RuntimeError, ValueError) as exc:
                log.error("approval_watch_failed", error=str(exc))
            await asyncio.sleep(every)


def open_users(settings: ApprovalSettings, storage: StorageSettings | None = None) -> UserStore:
    """The user store in ``approvals.database``, or in the shared Postgres database when ``storage.url`` is set."""
    return UserStore(open_approvals_db(storage.where(settings.database) if storage else settings.database))


@asynccontextmanager
async def open_approvals(config: FirstlineConfig, responder: Responder) -> AsyncIterator[ApprovalsRuntime]:
    settings = config.approvals
    conn = open_approvals_db(config.storage.where(settings.database))
    try:
        service = ApprovalService(
            responder=responder,
            records=ApprovalRecords(conn),
            policy=ApproverPolicy(settings.rules, settings.two_person),
            settings=settings,
        )
        watcher = ApprovalWatcher(service)
        service.listeners.append(watcher.update_message)
        yield ApprovalsRuntime(service, watcher, UserStore(conn))
        await service.drain()
    finally:
        conn.close()


@asynccontextmanager
async def watching(runtime: ApprovalsRuntime) -> AsyncIterator[None]:
    task = asyncio.create_task(runtime.watch(), name="approvals-watch")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def cli_identity(settings: ApprovalSettings, users: UserStore, by: str | None, environ: Mapping[str, str]) -> User:
    """Who runs ``firstline approve|reject``: tried in the order of ``approvals.cli_identity``.

    ``token``: a personal token in ``approvals.token_env``; ``os_user``: this login, mapped in
    ``approvals.os_users``; ``by``: the ``--by NAME`` flag, believed as given (sandboxes and demos).
    """
    tried = []
    for method in settings.cli_identity:
        if method == "token":
            token = environ.get(settings.token_env, "")
            if token:
                user = users.user_for_token(token)
                if user is None:
                    raise IdentityError(
                        f"the token in {settings.token_env} is not valid (revoked, or for another database)"
                    )
                return user
            tried.append(f"no token in {settings.token_env} (create one: firstline users token NAME)")
        elif method == "os_user":
            login = getpass.getuser()
            name = settings.os_users.get(login)
            if name:
                user = users.get(name)
                if user is None:
                    raise IdentityError(f"approvals.os_users maps {login} to {name}, who is not a firstline user")
                return user
            tried.append(f"OS user {login} is not in approvals.os_users")
        elif method == "by":
            if by:
                known = users.get(by.strip().lower())
                return known or User(name=by.strip(), display_name="(unverified --by)")
            tried.append("no --by NAME")
    if by and "by" not in settings.cli_identity:
        tried.append("--by is not accepted (approvals.cli_identity does not list by)")
    raise IdentityError("cannot tell who is deciding: " + "; ".join(tried))
