"""Hostile input, generated: every receiver and every auth scheme answers 2xx or 4xx, never 5xx.

Property-based (hypothesis): payloads are the real fixtures of each source with values swapped for
arbitrary JSON (wrong types, deep nesting, huge numbers, non-ASCII), keys dropped, or replaced by
arbitrary bytes; headers carry arbitrary credentials, signatures and timestamps. For every case:

- the answer is 2xx or 4xx (a sender retries a 5xx forever);
- a 400 names the field at fault and is kept as a dead letter;
- a 202 is in the inbox, and the worker processes it without dying (a failure there is a dead letter).

Bounded to about a minute in all (``FUZZ_EXAMPLES`` per source); the examples tried are printed with
``-s`` (``pytest tests/intake/test_intake_fuzz.py -s``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_helpers import SHOP, T0, Clock, RecordingStarter, Running, fixture, fixture_bytes
from intake_helpers import settings as intake_settings

from intake.http.auth import build_authenticators
from intake.http.server import build_app
from intake.service import IntakeService
from intake.settings import IntakeSettings
from intake.topology import Topology

T = TypeVar("T")

SOURCES = {
    "alertmanager": ["firing", "resolved", "database"],
    "grafana": ["firing", "resolved"],
    "pagerduty": ["trigger", "acknowledge", "resolve"],
    "datadog": ["triggered", "recovered", "default_payload"],
    "cloudwatch": ["alarm", "ok"],
    "opsgenie": ["create", "acknowledge", "close"],
    "generic": ["firing", "resolved"],
}
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    # One service per test on purpose: deliveries accumulate in its inbox, as they would in production.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF), max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


def replaced(document: Any, path: tuple[Any, ...], new: Any, *, drop: bool) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = new
    return copy


@st.composite
def hostile_bodies(draw: st.DrawFn, source: str) -> bytes:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "nested", "bytes", "value"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "nested":
        depth = draw(st.sampled_from([100, 1_000, 10_000, 100_000]))
        inner = deeply_nested(depth)
        wrap = draw(st.booleans())
        return (f'{{"alerts": {inner}}}' if wrap else inner).encode()
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    document = fixture(source, draw(st.sampled_from(SOURCES[source])))
    # SNS carries the CloudWatch alarm as a JSON string in Message: mutate inside it too.
    inner = _embedded_json(document)
    if inner is not None and draw(st.booleans()):
        document["Message"] = json.dumps(_mutated(draw, inner))
        return json.dumps(document).encode()
    return json.dumps(_mutated(draw, document)).encode()


def _embedded_json(document: Any) -> Any:
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        try:
            return json.loads(document["Message"])
        except json.JSONDecodeError:
            return None
    return None


def _mutated(draw: st.DrawFn, document: Any) -> Any:
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(document)))
        # Mostly a wrong type where a value was (a list or object for a string...), sometimes anything.
        new = draw(
            st.lists(json_scalars, max_size=3)
            | st.dictionaries(st.text(max_size=5), json_scalars, max_size=2)
            | json_values
            | st.just(json.loads(deeply_nested(50)))
        )
        document = replaced(document, path, new, drop=draw(st.integers(0, 4)) == 0)
    return document


TRIED: dict[str, int] = {}


class Harness:
    """A started intake service on its own event loop, so hypothesis (which runs examples synchronously)
    can drive it one request at a time."""

    def __init__(self, tmp_path: Path, intake: IntakeSettings, environ: dict[str, str]) -> None:
        self.loop = asyncio.new_event_loop()
        clock = Clock()
        service = IntakeService(
            intake,
            Topology(SHOP, intake.grouping.max_hops),
            starter=RecordingStarter(),
            clock=clock,
            db_path=tmp_path / "intake.sqlite",
        )
        app = build_app(service, build_authenticators(intake, environ), manage_service=False)
        self.run(service.start())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test")
        self.intake = Running(service, client, clock, RecordingStarter())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.intake.client.aclose())
        self.run(self.intake.service.stop())
        self.loop.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Any]:
    made: list[Harness] = []

    def make(intake: IntakeSettings | None = None, environ: dict[str, str] | None = None) -> Harness:
        folder = tmp_path / str(len(made))
        folder.mkdir()
        made.append(Harness(folder, intake or intake_settings(), environ or {}))
        return made[-1]

    yield make
    for h in made:
        h.close()


async def _check_one(intake: Any, source: str, body: bytes, headers: dict[str, str]) -> None:
    TRIED[source] = TRIED.get(source, 0) + 1
    response = await intake.client.post(f"/v1/alerts/{source}", content=body, headers=headers)
    assert response.status_code < 500, f"{source}: {response.status_code} {response.text[:300]} for {body[:200]!r}"
    assert response.status_code in (202, 400, 401, 413), response.status_code
    answer = response.json()
    if response.status_code == 400:
        assert answer.get("field"), answer
        if "unexpected shape" in answer["message"] and os.environ.get("FUZZ_SHOW_UNEXPECTED"):
            print("UNEXPECTED", source, answer["message"][:200])
        letter = await intake.service._db(intake.service.dead.get, answer["dead_letter_id"])
        assert letter is not None and letter["field"] == answer["field"]
    if response.status_code == 202:
        await intake.settle()  # the worker must survive whatever was accepted
        health = await intake.service.health()
        assert health["worker"] == "running", health
        assert health["inbox_pending"] == 0, health  # processed (or dead-lettered), never stuck or lost


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_hostile_bodies_get_a_4xx_never_a_5xx(harness: Any, source: str) -> None:
    h = harness()

    @FUZZ
    @given(body=hostile_bodies(source))
    def one(body: bytes) -> None:
        h.run(_check_one(h.intake, source, body, {"content-type": "application/json"}))

    one()
    print(f"\n{source}: {TRIED.get(source, 0)} hostile bodies tried")


header_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFF), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=10**400).map(str),
)


def test_hostile_credentials_get_401_and_are_counted(harness: Any) -> None:
    h = harness(
        intake_settings(
            sources={
                "alertmanager": {"auth": {"kind": "bearer", "token_env": "AM_TOKEN"}},
                "datadog": {"auth": {"kind": "basic", "username": "datadog", "password_env": "DD_PASSWORD"}},
                "grafana": {
                    "auth": {
                        "kind": "hmac",
                        "secret_env": "GRAFANA_SECRET",
                        "timestamp_header": "X-Grafana-Alerting-Timestamp",
                    }
                },
            }
        ),
        environ={"AM_TOKEN": "t0ken", "DD_PASSWORD": "pw", "GRAFANA_SECRET": "s3cr3t"},
    )
    intake = h.intake
    intake.clock.now = T0

    @FUZZ
    @given(
        source=st.sampled_from(["alertmanager", "datadog", "grafana"]),
        scheme=st.sampled_from(["Bearer", "Basic", "bearer", "", "Digest"]),
        credentials=header_text,
        basic_raw=st.binary(max_size=30),
        signature=header_text,
        stamp=header_text,
    )
    def one(source: str, scheme: str, credentials: str, basic_raw: bytes, signature: str, stamp: str) -> None:
        if scheme == "Basic" and not credentials:
            credentials = base64.b64encode(basic_raw).decode()
        headers = {
            "authorization": f"{scheme} {credentials}".encode("latin-1", "replace").decode("latin-1"),
            "x-grafana-alerting-signature": signature.encode("latin-1", "replace").decode("latin-1"),
            "x-grafana-alerting-timestamp": stamp.encode("latin-1", "replace").decode("latin-1"),
        }
        before = intake.service.rejected_unauthenticated
        response = h.run(
            intake.client.post(
                f"/v1/alerts/{source}",
                content=fixture_bytes(source, "firing" if source != "datadog" else "triggered"),
                headers={
                    k: v.encode("latin-1") for k, v in headers.items()
                },  # raw bytes, as a hostile sender would send
            )
        )
        assert response.status_code == 401, f"{source}: {response.status_code} {response.text[:200]} for {headers}"
        assert intake.service.rejected_unauthenticated == before + 1

    one()
