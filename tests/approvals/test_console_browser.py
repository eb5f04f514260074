"""The console in a real browser: Debian's Chromium driven by Playwright (no browser is downloaded).

Signs in, opens the waiting incident, reads the action's from/to, approves, and watches the incident
resolve with the action verified; a user without the right is refused with the rule named. Takes a
screenshot of the incident page; with FIRSTLINE_UPDATE_SCREENSHOT=1 it becomes docs/console.png (the
README's), so an ordinary run never changes the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from tests.approvals.conftest import PASSWORD, REPO, Waiting

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed (CI installs Debian's chromium with apt)"
    ),
]


@contextlib.asynccontextmanager
async def serving(waiting: Waiting):  # type: ignore[no-untyped-def]  # test helper
    app = Starlette(routes=waiting.approvals.console().routes())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def sign_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def test_sign_in_read_the_change_approve_and_watch_it_resolve(waiting: Waiting, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with serving(waiting) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # A user without the right: refused, the rule named, nothing recorded.
            eve = await browser.new_page()
            await sign_in(eve, base, "eve")
            await eve.click(f"a[href='/incidents/{waiting.incident}']")
            await eve.click("button[value=approve]")
            notice = await eve.text_content("#notice")
            assert notice and "refused" in notice and "production-changes" in notice
            assert waiting.responder.ctx.ledger.get_decision(waiting.incident, waiting.action) is None

            page = await browser.new_page(viewport={"width": 1100, "height": 1500})
            await sign_in(page, base, "alice")
            await page.click(f"a[href='/incidents/{waiting.incident}']")
            card = page.locator("#action-card")
            revision = card.locator(".change", has_text="revision")
            before, after = await revision.locator(".from").text_content(), await revision.locator(".to").text_content()
            dep = waiting.first.state.deployment
            assert dep is not None
            assert (before, after) == (str(dep.current_revision), str(waiting.first.waiting_for.args["to_revision"]))  # type: ignore[union-attr]
            shot = tmp_path / "console.png"
            await page.screenshot(path=str(shot), full_page=False)
            await page.click("#action-card button[value=approve]")
            # The page follows the workflow live (polling) until the action is verified.
            await page.wait_for_selector(f"[data-action-status='{waiting.action}'].verified", timeout=30_000)
            status = await page.text_content("#incident-status")
            assert status == "resolved"
        finally:
            await browser.close()
    await waiting.approvals.service.drain()
    assert len(waiting.undos()) == 1
    assert shot.stat().st_size > 10_000
    if os.environ.get("FIRSTLINE_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, REPO / "docs" / "console.png")
