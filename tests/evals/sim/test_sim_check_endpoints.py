"""The cheap read-only endpoints `firstline tools check` calls: Kubernetes /version, GitHub
/rate_limit, PagerDuty /abilities, answered in each API's real shape."""

from __future__ import annotations

import httpx


async def test_kubernetes_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/kubernetes/version")
    assert response.status_code == 200
    body = response.json()
    assert body["major"] == "1" and body["gitVersion"].startswith("v1.")


async def test_github_rate_limit_costs_nothing_and_has_core_limits(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/rate_limit")
    assert response.status_code == 200
    core = response.json()["resources"]["core"]
    assert core["limit"] == 5000 and core["remaining"] == 4999 and core["reset"] > 0
    assert response.headers["x-github-api-version-selected"] == "2022-11-28"


async def test_pagerduty_abilities(client: httpx.AsyncClient) -> None:
    response = await client.get("/pagerduty/abilities")
    assert response.status_code == 200
    assert "teams" in response.json()["abilities"]
