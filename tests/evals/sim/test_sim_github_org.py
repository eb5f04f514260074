"""Simulated GitHub beyond a service's own repository: an organisation's repositories, a repository
whose history the scenario does not show, and workflows whose dispatch takes typed inputs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from evals.sim import World, create_app
from evals.sim.scenario import parse_scenario
from evals.sim.timeutil import SimClock
from tools.github.wire import read_workflow_file

ANCHOR = datetime(2027, 4, 8, 11, 0, tzinfo=UTC)
FLAG_SHA = "5" * 40


def scenario() -> dict[str, Any]:
    return {
        "version": 2,
        "name": "org",
        "description": "A service, a flags repository the catalog does not list, and a runbook workflow.",
        "topology": {
            "services": [
                {"name": "api", "image": "api:1", "repo": "acme/api", "baseline": {"request_rate": 10}},
            ]
        },
        "changes": [
            {
                "id": "flag-flip",
                "type": "feature_flag",
                "service": "api",
                "at": "-30m",
                "description": "rollout new-pricing to 100%",
                "author": "kim",
                "commit": {
                    "sha": FLAG_SHA,
                    "message": "new-pricing: 100%",
                    "repo": "acme/flags",
                    "files": [{"filename": "flags/new-pricing.yaml", "patch": "-percentage: 10\n+percentage: 100"}],
                },
            }
        ],
        "faults": [
            {
                "id": "pricing",
                "type": "feature_flag",
                "target": "api",
                "starts_at": "-29m",
                "effects": {"error_ratio": 0.3},
            }
        ],
        "alerts": [{"name": "ApiErrors", "fault": "pricing", "labels": {"service": "api"}}],
        "action_effects": [
            {
                "action": "github.workflow_dispatch",
                "match": {"repo": "acme/runbooks", "inputs.percentage": "0"},
                "effect": "fixes:pricing",
            },
            {"action": "github.workflow_dispatch", "match": {"repo": "acme/runbooks"}, "effect": "none"},
        ],
        "integrations": {
            "github": {
                "repos": [
                    {"name": "acme/runbooks", "description": "Operational workflows", "topics": ["ops"]},
                    {"name": "acme/infra", "description": "Terraform for the platform", "language": "HCL"},
                ],
                "workflows": [
                    {
                        "repo": "acme/runbooks",
                        "name": "set-flag",
                        "inputs": {
                            "flag": {"required": True, "type": "choice", "options": ["new-pricing", "dark-mode"]},
                            "percentage": {"required": True},
                            "dry_run": {"type": "boolean", "default": "false"},
                        },
                    }
                ],
            }
        },
        "expected": {
            "incident": True,
            "severity": "SEV2",
            "root_cause": {"entity": "api", "category": "feature_flag", "change_id": "flag-flip"},
            "acceptable_remediations": [
                {"tool": "github.workflow_dispatch", "args": {"repo": "acme/runbooks", "inputs.percentage": "0"}}
            ],
            "requires_approval": ["github.workflow_dispatch"],
        },
    }


@pytest.fixture
def world() -> World:
    return World(
        parse_scenario(scenario(), origin="org"), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2))
    )


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as http:
        yield http


async def test_the_organisation_lists_every_repository(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/orgs/acme/repos", params={"sort": "full_name"})
    assert response.status_code == 200
    repos = response.json()
    assert [r["full_name"] for r in repos] == ["acme/api", "acme/flags", "acme/infra", "acme/runbooks"]
    runbooks = repos[3]
    assert runbooks["description"] == "Operational workflows" and runbooks["topics"] == ["ops"]
    assert runbooks["owner"]["login"] == "acme" and runbooks["default_branch"] == "main"
    pushed = {r["name"]: r["pushed_at"] for r in repos}
    assert pushed["flags"] == "2027-04-08T10:20:00Z"  # the flag commit, ten minutes before the change
    paged = await client.get("/github/orgs/acme/repos", params={"per_page": 2})
    assert len(paged.json()) == 2 and 'rel="next"' in paged.headers["link"]
    assert (await client.get("/github/orgs/nobody/repos")).status_code == 404


async def test_a_change_in_a_repository_the_catalog_does_not_list_is_served(client: httpx.AsyncClient) -> None:
    commits = (await client.get("/github/repos/acme/flags/commits")).json()
    assert [c["sha"] for c in commits] == [FLAG_SHA]
    one = (await client.get(f"/github/repos/acme/flags/commits/{FLAG_SHA}")).json()
    assert one["files"][0]["filename"] == "flags/new-pricing.yaml"


async def test_a_repository_without_visible_history_can_be_dispatched_on_main(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/github/repos/acme/runbooks/actions/workflows/set-flag.yml/dispatches",
        json={"ref": "main", "inputs": {"flag": "new-pricing", "percentage": "0"}},
    )
    assert response.status_code == 204, response.text
    [applied] = world.applied_actions
    # Defaults fill in what the dispatch left out, as the run's inputs context shows them.
    assert applied.args["inputs"] == {"flag": "new-pricing", "percentage": "0", "dry_run": "false"}
    assert applied.effect == "fixes:pricing"
    assert world.active_faults() == []
    bad_ref = await client.post(
        "/github/repos/acme/runbooks/actions/workflows/set-flag.yml/dispatches",
        json={"ref": "release-9", "inputs": {"flag": "new-pricing", "percentage": "0"}},
    )
    assert bad_ref.status_code == 422 and bad_ref.json()["message"] == "No ref found for: release-9"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"flag": "new-pricing"}, "Required input 'percentage' not provided"),
        ({"flag": "new-pricing", "percentage": "0", "force": "yes"}, 'Unexpected inputs provided: ["force"]'),
        (
            {"flag": "blue", "percentage": "0"},
            "Provided value 'blue' for input 'flag' not in the list of allowed values",
        ),
        ({"flag": "new-pricing", "percentage": "0", "dry_run": "maybe"}, "is not a boolean"),
    ],
)
async def test_dispatch_inputs_are_validated_like_github(
    client: httpx.AsyncClient, world: World, inputs: dict[str, str], message: str
) -> None:
    response = await client.post(
        "/github/repos/acme/runbooks/actions/workflows/set-flag.yml/dispatches", json={"ref": "main", "inputs": inputs}
    )
    assert response.status_code == 422
    assert message in response.json()["message"]
    assert world.applied_actions == []


async def test_a_dispatch_with_other_inputs_changes_nothing(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/github/repos/acme/runbooks/actions/workflows/set-flag.yml/dispatches",
        json={"ref": "main", "inputs": {"flag": "new-pricing", "percentage": "50"}},
    )
    assert response.status_code == 204
    assert world.applied_actions[0].effect == "none" and world.active_faults() == ["pricing"]


async def test_a_workflow_file_is_served_with_its_dispatch_inputs(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/repos/acme/runbooks/contents/.github/workflows/set-flag.yml")
    assert response.status_code == 200
    definition = read_workflow_file("acme/runbooks", ".github/workflows/set-flag.yml", response.json())
    assert definition.dispatchable and [i.name for i in definition.required] == ["flag", "percentage"]
    flag = next(i for i in definition.inputs if i.name == "flag")
    assert flag.type == "choice" and flag.options == ["new-pricing", "dark-mode"]
    assert (await client.get("/github/repos/acme/runbooks/contents/README.md")).status_code == 404


@pytest.mark.parametrize(
    ("query", "inside", "outside"),
    [
        # A date alone is the whole day, as GitHub reads it: a run late on the last day is inside.
        ("2027-04-01..2027-04-07", "2027-04-07T23:59:00Z", "2027-04-08T00:00:01Z"),
        ("<=2027-04-07", "2027-04-07T23:59:00Z", "2027-04-08T00:00:01Z"),
        ("<2027-04-07", "2027-04-06T23:59:00Z", "2027-04-07T00:00:01Z"),
        (">2027-04-07", "2027-04-08T00:00:01Z", "2027-04-07T23:59:00Z"),
        (">=2027-04-07", "2027-04-07T00:00:01Z", "2027-04-06T23:59:00Z"),
        ("2027-04-07", "2027-04-07T12:00:00Z", "2027-04-08T00:00:01Z"),
    ],
)
def test_created_dates_are_whole_days(query: str, inside: str, outside: str) -> None:
    from evals.sim.repos import _created_range
    from evals.sim.timeutil import parse_rfc3339

    low, high = _created_range(query)
    assert low <= parse_rfc3339(inside).timestamp() <= high
    assert not low <= parse_rfc3339(outside).timestamp() <= high
