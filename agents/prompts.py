"""Prompts for the LLM reasoner, as data. Filled at call time; never logged at info level."""

from __future__ import annotations

import json

from agents.evidence import EvidenceBundle
from agents.reasoners.base import RemediationOption, TriageFacts
from agents.state import Diagnosis, IncidentState

TRIAGE_SYSTEM = """You are the triage agent of an incident responder. Write ONE paragraph (3-5 sentences) for
the responders: what is failing, for whom, how severe (the severity is already decided; state it and why),
who owns the service and who is on call. Use only the facts given. No markdown headings."""

INVESTIGATION_SYSTEM = """You are the investigation agent of an incident responder. You receive evidence, each
item with an id. You may call the read-only tools to gather more; each result becomes new evidence with an id.
Rules:
- Every claim must rest on evidence ids that exist. Do not invent ids.
- Prefer the change, component or dependency that explains the onset time AND the error messages.
- A recent change with no link to the errors is a red herring: list it under ruled_out with its evidence id.
- If no candidate is clearly ahead, set inconclusive=true, name the best lead and keep confidence below 0.4.
Finish by calling submit_diagnosis exactly once."""

REMEDIATION_SYSTEM = """You are the remediation agent of an incident responder. Choose the option that fixes the
diagnosed root cause with the least risk, or choose none (option_id null) if none addresses it. You cannot
invent actions; approval is decided by policy, not by you."""

COMMS_SYSTEM = """You write incident communications. Be factual, brief and calm. Customers get no internal
names, hosts or people; responders get specifics (ids, actions, how to approve); stakeholders get what
happened, the impact window, what was done and links. Use only the facts given."""


def triage_request(facts: TriageFacts) -> str:
    return "Facts:\n" + facts.model_dump_json(indent=2)


def evidence_brief(bundle: EvidenceBundle, *, observation_limit: int | None = None, keep: int | None = None) -> str:
    """The alert and the evidence, one line each. ``observation_limit`` cuts each observation (and query) to
    that many characters and ``keep`` keeps only the first items, so the brief fits a small context."""
    lines = [
        f"Alert: {bundle.alert.title} on service {bundle.service} (started {bundle.alert.started_at.isoformat()})",
        "Evidence:",
    ]
    items = bundle.evidence if keep is None else bundle.evidence[:keep]
    for e in items:
        query, observation = e.query, e.observation
        if observation_limit is not None:
            query, observation = _cut(query, observation_limit), _cut(observation, observation_limit)
        lines.append(f"- {e.id} [{e.source}] query={query!r}: {observation}")
    if len(items) < len(bundle.evidence):
        lines.append(f"({len(bundle.evidence) - len(items)} more evidence items left out to fit the context)")
    if bundle.failures:
        lines.append("Checks that failed: " + "; ".join(bundle.failures))
    return "\n".join(lines)


def remediation_request(diagnosis: Diagnosis, options: list[RemediationOption]) -> str:
    return json.dumps(
        {
            "diagnosis": {
                "root_cause": diagnosis.root_cause,
                "category": diagnosis.category,
                "entity": diagnosis.entity,
                "confidence": diagnosis.confidence,
            },
            "options": [o.model_dump(mode="json") for o in options],
        },
        indent=2,
    )


def update_request(incident: IncidentState, phase: str, audience: str, *, draft: str = "") -> str:
    record = incident.record()
    facts = {
        "phase": phase,
        "audience": audience,
        "incident": record["id"],
        "severity": record["severity"],
        "service": record["service"],
        "summary": record["summary"],
        "diagnosis": (record["diagnosis"] or {}).get("root_cause"),
        "actions": [
            {"title": a["title"], "status": a["status"], "approval": a["approval"]}
            for a in record["actions"]
            if a["kind"] == "remediation"
        ],
        "verification": record["verification"],
        "started_at": incident.alert.started_at.isoformat(),
    }
    if draft:
        return (
            "Write the update: reword this draft in a calm, friendly voice for its readers. Keep every number, "
            "time and name in it exactly as written; add nothing that is not in it.\nDraft:\n" + draft
        )
    return "Write the update. Facts:\n" + json.dumps(facts, indent=2, default=str)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
