"""GitHub, Statuspage, Slack, PagerDuty and the simulator's own endpoints, as served."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from evals.sim import World
from evals.sim.timeutil import SimClock

REPO_PATH = "/github/repos/acme/checkout"


# -------------------------------------------------------------------------------------------- GitHub


async def test_deployments_newest_first_with_statuses(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{REPO_PATH}/deployments", params={"environment": "production"})
    assert response.headers["x-github-api-version-selected"] == "2022-11-28"
    deployments = response.json()
    assert [d["ref"] for d in deployments] == ["v2.14.0", "v2.13.2"]
    latest = deployments[0]
    assert latest["sha"] == "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    assert latest["description"].startswith("checkout v2.14.0: order history refactor; migration 0042 renames")
    assert latest["creator"]["login"] == "jdoe" and latest["environment"] == "production"
    assert latest["statuses_url"] == f"http://sim{REPO_PATH}/deployments/{latest['id']}/statuses"
    statuses = (await client.get(latest["statuses_url"].removeprefix("http://sim"))).json()
    assert [s["state"] for s in statuses] == ["success", "in_progress", "queued"]
    assert statuses[0]["created_at"] == "2026-11-20T16:52:00Z"  # the deploy finished at -2h50m


async def test_commits_and_a_single_commit(client: httpx.AsyncClient) -> None:
    commits = (await client.get(f"{REPO_PATH}/commits", params={"since": "2026-11-20T00:00:00Z"})).json()
    assert [c["sha"][:7] for c in commits] == ["a1b2c3d", "9f8e7d6"]
    assert commits[0]["parents"][0]["sha"] == commits[1]["sha"]
    assert commits[1]["commit"]["message"] == "db: migration 0042 rename orders.customer_id to buyer_id (#1870)"
    assert commits[1]["commit"]["author"]["date"] == "2026-11-20T16:22:00Z"
    single = (await client.get(f"{REPO_PATH}/commits/9f8e7d6")).json()
    [migration] = single["files"]
    assert (
        migration["status"] == "added"
        and "ALTER TABLE orders RENAME COLUMN customer_id TO buyer_id" in migration["patch"]
    )
    assert single["stats"]["additions"] == 7
    by_path = (await client.get(f"{REPO_PATH}/commits", params={"path": "migrations"})).json()
    assert [c["sha"][:7] for c in by_path] == ["9f8e7d6"]


async def test_compare_tags_and_shas(client: httpx.AsyncClient) -> None:
    compare = (await client.get(f"{REPO_PATH}/compare/v2.13.2...v2.14.0")).json()
    assert (compare["status"], compare["ahead_by"], compare["behind_by"], compare["total_commits"]) == (
        "ahead",
        2,
        0,
        2,
    )
    assert [f["filename"] for f in compare["files"]] == [
        "migrations/0042_rename_orders_customer_id.sql",
        "app/orders/history.py",
    ]
    assert compare["base_commit"]["sha"].startswith("5e1f0c7")
    behind = (await client.get(f"{REPO_PATH}/compare/a1b2c3d...5e1f0c7")).json()
    assert (behind["status"], behind["behind_by"], behind["commits"]) == ("behind", 2, [])
    identical = (await client.get(f"{REPO_PATH}/compare/main...v2.14.0")).json()
    assert identical["status"] == "identical"


@pytest.mark.parametrize(
    "path",
    [
        "/github/repos/acme/nope/deployments",
        f"{REPO_PATH}/compare/v0.0.1...v2.14.0",
        f"{REPO_PATH}/commits/deadbeef",
        "/github/user",
    ],
)
async def test_github_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }


async def test_workflow_runs_show_the_migration(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{REPO_PATH}/actions/runs", params={"created": ">=2026-11-20T19:00:00Z"})).json()
    assert body["total_count"] == 1
    [run] = body["workflow_runs"]
    assert (run["name"], run["status"], run["conclusion"], run["event"]) == (
        "db-migrate",
        "completed",
        "success",
        "workflow_dispatch",
    )
    assert (run["run_started_at"], run["updated_at"]) == ("2026-11-20T19:34:00Z", "2026-11-20T19:36:00Z")
    assert run["head_sha"].startswith("9f8e7d6") and run["head_commit"]["message"].startswith("db: migration 0042")
    assert (await client.get(f"{REPO_PATH}/actions/runs", params={"status": "failure"})).json()["total_count"] == 0


async def test_workflow_dispatch_is_recorded_and_runs(client: httpx.AsyncClient, world: World, clock: SimClock) -> None:
    workflows = (await client.get(f"{REPO_PATH}/actions/workflows")).json()
    assert {w["path"] for w in workflows["workflows"]} == {
        ".github/workflows/db-migrate.yml",
        ".github/workflows/deploy.yml",
    }
    response = await client.post(
        f"{REPO_PATH}/actions/workflows/deploy.yml/dispatches", json={"ref": "main", "inputs": {"version": "v2.13.2"}}
    )
    assert response.status_code == 204 and response.content == b""
    [applied] = world.applied_actions
    assert applied.action == "github.workflow_dispatch"
    assert applied.args == {
        "repo": "acme/checkout",
        "workflow": "deploy.yml",
        "ref": "main",
        "inputs": {"version": "v2.13.2"},
    }
    run = (await client.get(f"{REPO_PATH}/actions/workflows/deploy.yml/runs")).json()["workflow_runs"][0]
    assert run["status"] == "queued" and run["event"] == "workflow_dispatch"
    clock.advance(90)
    run = (await client.get(f"{REPO_PATH}/actions/runs/{run['id']}")).json()
    assert (run["status"], run["conclusion"]) == ("completed", "success")


async def test_workflow_dispatch_errors(client: httpx.AsyncClient, world: World) -> None:
    missing_ref = await client.post(f"{REPO_PATH}/actions/workflows/deploy.yml/dispatches", json={})
    assert missing_ref.status_code == 422 and '"ref" wasn\'t supplied' in missing_ref.json()["message"]
    unknown = await client.post(f"{REPO_PATH}/actions/workflows/nope.yml/dispatches", json={"ref": "main"})
    assert unknown.status_code == 404
    assert world.applied_actions == []


async def test_pagination_link_header(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{REPO_PATH}/deployments", params={"per_page": "1"})
    assert len(first.json()) == 1
    assert 'rel="next"' in first.headers["link"] and "page=2" in first.headers["link"]
    second = await client.get(f"{REPO_PATH}/deployments", params={"per_page": "1", "page": "2"})
    assert second.json()[0]["ref"] == "v2.13.2" and 'rel="prev"' in second.headers["link"]


# ---------------------------------------------------------------------------------------- Statuspage


async def test_statuspage_incident_lifecycle(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/statuspage/pages/page-acme/incidents",
        json={
            "incident": {
                "name": "Checkout errors",
                "status": "investigating",
                "body": "We are investigating.",
                "components": {"cmp-checkout": "partial_outage"},
                "component_ids": ["cmp-checkout"],
            }
        },
    )
    assert created.status_code == 201
    incident = created.json()
    assert (incident["status"], incident["impact"], incident["page_id"]) == ("investigating", "major", "page-acme")
    assert incident["components"][0]["status"] == "partial_outage"
    assert incident["incident_updates"][0]["affected_components"][0]["new_status"] == "partial_outage"
    path = f"/statuspage/pages/page-acme/incidents/{incident['id']}"
    updated = (
        await client.patch(
            path,
            json={
                "incident": {
                    "status": "resolved",
                    "body": "We rolled back checkout.",
                    "components": {"cmp-checkout": "operational"},
                }
            },
        )
    ).json()
    assert updated["status"] == "resolved" and updated["resolved_at"] is not None
    assert [u["body"] for u in updated["incident_updates"]] == ["We rolled back checkout.", "We are investigating."]
    assert (await client.get(path)).json()["incident_updates"] == updated["incident_updates"]
    listed = (await client.get("/statuspage/pages/page-acme/incidents")).json()
    assert [i["id"] for i in listed] == [incident["id"]]
    assert (await client.get("/statuspage/pages/page-acme/incidents/unresolved")).json() == []
    components = (await client.get("/statuspage/pages/page-acme/components")).json()
    assert components[0]["id"] == "cmp-checkout" and components[0]["status"] == "operational"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/statuspage/pages/page-other/incidents", None, 404, "Could not find page"),
        ("GET", "/statuspage/pages/page-acme/incidents/nope", None, 404, "Could not find incident"),
        (
            "POST",
            "/statuspage/pages/page-acme/incidents",
            {"incident": {"name": "x", "status": "broken"}},
            422,
            "Status 'broken'",
        ),
        (
            "POST",
            "/statuspage/pages/page-acme/incidents",
            {"incident": {"name": "x", "components": {"cmp-nope": "major_outage"}}},
            422,
            "cmp-nope",
        ),
    ],
)
async def test_statuspage_errors(
    client: httpx.AsyncClient, method: str, path: str, body: object, status: int, error: str
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == status and error in response.json()["error"]


# --------------------------------------------------------------------------------------------- Slack


async def test_slack_post_and_update(client: httpx.AsyncClient, world: World) -> None:
    posted = (
        await client.post("/slack/chat.postMessage", json={"channel": "C0INC", "text": "Investigating checkout 5xx"})
    ).json()
    assert posted["ok"] is True and posted["channel"] == "C0INC"
    assert posted["message"]["text"] == "Investigating checkout 5xx" and posted["message"]["ts"] == posted["ts"]
    threaded = (
        await client.post(
            "/slack/chat.postMessage", json={"channel": "#incidents", "text": "detail", "thread_ts": posted["ts"]}
        )
    ).json()
    assert threaded["channel"] == "C0INC" and float(threaded["ts"]) > float(posted["ts"])
    updated = (
        await client.post(
            "/slack/chat.update", json={"channel": "C0INC", "ts": posted["ts"], "text": "Checkout rolled back"}
        )
    ).json()
    assert updated == {
        "ok": True,
        "channel": "C0INC",
        "ts": posted["ts"],
        "text": "Checkout rolled back",
        "message": updated["message"],
    }
    assert [m["text"] for m in world.snapshot()["slack"]["messages"]] == ["Checkout rolled back", "detail"]
    history = (await client.get("/slack/conversations.history", params={"channel": "C0INC"})).json()
    assert [m["text"] for m in history["messages"]] == ["detail", "Checkout rolled back"]


async def test_slack_form_body_and_errors(client: httpx.AsyncClient) -> None:
    form = (
        await client.post(
            "/slack/chat.postMessage", data={"channel": "C0INC", "text": "hi", "blocks": '[{"type":"divider"}]'}
        )
    ).json()
    assert form["ok"] is True and form["message"]["blocks"] == [{"type": "divider"}]
    for body, error in (
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0INC"}, "no_text"),
        ({"channel": "C0INC", "text": "x", "thread_ts": "1.0"}, "thread_not_found"),
    ):
        response = await client.post("/slack/chat.postMessage", json=body)
        assert response.status_code == 200 and response.json() == {"ok": False, "error": error}
    missing = (await client.post("/slack/chat.update", json={"channel": "C0INC", "ts": "1.0", "text": "x"})).json()
    assert missing == {"ok": False, "error": "message_not_found"}
    assert (await client.post("/slack/users.list")).json() == {"ok": False, "error": "unknown_method"}


# ----------------------------------------------------------------------------------------- PagerDuty


async def test_pagerduty_incident_from_the_alert(client: httpx.AsyncClient, world: World) -> None:
    body = (
        await client.get(
            "/pagerduty/incidents",
            params=[("statuses[]", "triggered"), ("service_ids[]", "PCHKOUT"), ("total", "true")],
        )
    ).json()
    assert (body["limit"], body["offset"], body["more"], body["total"]) == (25, 0, False, 1)
    [incident] = body["incidents"]
    assert incident["title"] == "checkout 5xx ratio above 5%" and incident["urgency"] == "high"
    assert incident["service"]["id"] == "PCHKOUT" and incident["assignments"][0]["assignee"]["summary"] == "Dana Reyes"
    assert incident["created_at"] == "2026-11-20T19:42:00Z"
    assert incident["incident_key"] == world.alertmanager_payload("CheckoutHighErrorRate")["alerts"][0]["fingerprint"]

    note = await client.post(
        f"/pagerduty/incidents/{incident['id']}/notes",
        json={"note": {"content": "Rolled back checkout to v2.13.2"}},
        headers={"From": "dana.reyes@acme.test"},
    )
    assert note.status_code == 201 and note.json()["note"]["user"]["summary"] == "Dana Reyes"
    notes = (await client.get(f"/pagerduty/incidents/{incident['id']}/notes")).json()["notes"]
    assert [n["content"] for n in notes] == ["Rolled back checkout to v2.13.2"]
    acked = (
        await client.put(
            f"/pagerduty/incidents/{incident['id']}",
            json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
        )
    ).json()
    assert acked["incident"]["status"] == "acknowledged"


async def test_pagerduty_oncalls_and_errors(client: httpx.AsyncClient) -> None:
    oncalls = (await client.get("/pagerduty/oncalls", params=[("escalation_policy_ids[]", "PEPPAY1")])).json()
    [oncall] = oncalls["oncalls"]
    assert (
        oncall["user"]["summary"] == "Dana Reyes"
        and oncall["escalation_level"] == 1
        and oncall["schedule"]["id"] == "PSCHPAY"
    )
    missing = await client.get("/pagerduty/incidents/QNOPE")
    assert missing.status_code == 404 and missing.json() == {"error": {"message": "Not Found", "code": 2100}}
    bad = await client.post("/pagerduty/incidents/QNOPE/notes", json={})
    assert bad.status_code == 404


async def test_pagerduty_events_trigger_opens_one_incident_and_resolve_closes_it(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.pagerduty.routing_key("PINVENT")
    assert len(key) == 32
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "firstline/inc-1",
        "payload": {
            "summary": "inventory failing",
            "source": "inventory.production",
            "severity": "critical",
            "custom_details": {"diagnosis": "bad_deploy"},
        },
        "links": [{"href": "https://firstline.test/incidents/inc-1", "text": "incident"}],
    }
    first = await client.post("/pagerduty-events/v2/enqueue", json=event)
    again = await client.post("/pagerduty-events/v2/enqueue", json=event)
    assert first.status_code == again.status_code == 202
    assert first.json() == {"status": "success", "message": "Event processed", "dedup_key": "firstline/inc-1"}
    opened = (
        await client.get("/pagerduty/incidents", params=[("service_ids[]", "PINVENT"), ("statuses[]", "triggered")])
    ).json()["incidents"]
    # The repeated trigger folded into the open incident: one page, assigned to the policy's level 1.
    assert [(i["title"], i["incident_key"]) for i in opened] == [("inventory failing", "firstline/inc-1")]
    assert opened[0]["escalation_policy"]["id"] == "PEPFUL1" and opened[0]["assignments"]
    resolve = {"routing_key": key, "event_action": "resolve", "dedup_key": "firstline/inc-1"}
    assert (await client.post("/pagerduty-events/v2/enqueue", json=resolve)).status_code == 202
    closed = (await client.get(f"/pagerduty/incidents/{opened[0]['id']}")).json()["incident"]
    assert closed["status"] == "resolved"
    assert [e["event_action"] for e in world.snapshot()["pagerduty"]["events"]] == ["trigger", "trigger", "resolve"]
    assert all("routing_key" not in e for e in world.snapshot()["pagerduty"]["events"])


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (
            {
                "routing_key": "nope",
                "event_action": "trigger",
                "payload": {"summary": "x", "source": "y", "severity": "critical"},
            },
            "'routing_key' is invalid",
        ),
        ({"event_action": "page"}, "'event_action' is invalid"),
        (
            {"event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "fatal"}},
            "'payload.severity' is invalid",
        ),
        ({"event_action": "trigger", "payload": {"source": "y", "severity": "info"}}, "'payload.summary' is missing"),
        ({"event_action": "resolve"}, "'dedup_key' is required"),
    ],
)
async def test_pagerduty_events_invalid_events(
    client: httpx.AsyncClient, world: World, event: dict[str, Any], error: str
) -> None:
    body = {"routing_key": world.pagerduty.routing_key("PCHKOUT"), **event}
    answer = await client.post("/pagerduty-events/v2/enqueue", json=body)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event" and any(error in e for e in answer.json()["errors"])


# ------------------------------------------------------------------------------------------ control


async def test_sim_state_clock_and_alert(client: httpx.AsyncClient, world: World) -> None:
    state = (await client.get("/_sim/state")).json()
    assert state["active_faults"] == ["orders-column-renamed"] and state["applied_actions"] == []
    clock = (await client.post("/_sim/clock", json={"advance": "10m"})).json()
    assert clock["seconds_since_anchor"] == 720
    assert (await client.post("/_sim/clock", json={"advance": "soon"})).status_code == 400
    payload = (await client.get("/_sim/alerts/CheckoutHighErrorRate")).json()
    assert payload["externalURL"] == "http://sim/alertmanager"
    assert payload["alerts"][0]["generatorURL"].startswith("http://sim/prometheus/graph?g0.expr=")
    assert (await client.get("/_sim/alerts/Nope")).status_code == 404
