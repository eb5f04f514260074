"""The approvals API's part of the OpenAPI document (``GET /openapi.json`` of ``firstline serve``)."""

from __future__ import annotations

from typing import Any

from approvals.service import ActionCard

_AUTH = (
    "Authenticated by a personal API token (`Authorization: Bearer fl_...`, from `firstline users token`) or a "
    "console session; a session's changes also need its CSRF token in `X-CSRF-Token`. 401 without credentials."
)
_PARAMS = [
    {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "action_id", "in": "path", "required": True, "schema": {"type": "string"}},
]
_RESULT = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"enum": ["approved", "rejected", "waiting", "refused", "invalid", "already_decided", "expired"]},
        "message": {"type": "string", "description": "What happened; a refusal names the rule that refused it."},
        "rule": {"type": "string", "description": "The approvals.rules entry that governed the decision."},
        "decided_by": {"type": "string"},
    },
}


def json_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def approvals_paths() -> dict[str, Any]:
    card = ActionCard.model_json_schema()
    return {
        "/v1/approvals": {
            "get": {
                "summary": "Actions waiting for a human decision, each with its action card",
                "description": _AUTH,
                "responses": {
                    "200": {
                        "description": "Pending approvals.",
                        **json_of({"type": "object", "properties": {"approvals": {"type": "array", "items": card}}}),
                    },
                    "401": {"description": "Not authenticated."},
                },
            }
        },
        "/v1/approvals/{incident_id}/{action_id}": {
            "get": {
                "summary": "One pending action's card: what changes from what to what, why, risk, undo, the rule",
                "description": _AUTH,
                "parameters": _PARAMS,
                "responses": {
                    "200": {"description": "The card.", **json_of(card)},
                    "404": {"description": "Not pending."},
                },
            },
            "post": {
                "summary": "Approve or reject (optionally with edited arguments, validated against the call's input schema)",
                "description": _AUTH
                + " The first decision anywhere (console, API, Slack, CLI) wins; the workflow resumes in the background.",
                "parameters": _PARAMS,
                "requestBody": {
                    "required": True,
                    **json_of(
                        {
                            "type": "object",
                            "required": ["decision"],
                            "properties": {
                                "decision": {"enum": ["approve", "reject"]},
                                "comment": {"type": "string"},
                                "args": {"type": "object", "description": "Edited arguments (recorded as an edit)."},
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {"description": "Decided; the incident resumes.", **json_of(_RESULT)},
                    "202": {"description": "Vote recorded; more approvers needed.", **json_of(_RESULT)},
                    "403": {"description": "Refused by a rule (named), or a cross-site request.", **json_of(_RESULT)},
                    "404": {"description": "Not pending."},
                    "409": {"description": "Already decided.", **json_of(_RESULT)},
                    "410": {"description": "Expired: it will never run.", **json_of(_RESULT)},
                    "422": {"description": "Invalid decision or arguments (the field is named).", **json_of(_RESULT)},
                },
            },
        },
        "/v1/workflow/incidents/{incident_id}": {
            "get": {
                "summary": "The incident record as the workflow has it now (status, actions, timeline)",
                "description": _AUTH,
                "parameters": [_PARAMS[0]],
                "responses": {
                    "200": {"description": "The incident record."},
                    "404": {"description": "No such incident."},
                },
            }
        },
        "/v1/slack/interactions": {
            "post": {
                "summary": "Slack block_actions (form field payload), signed with the app's signing secret",
                "description": "v0 HMAC of v0:{X-Slack-Request-Timestamp}:{body}; older than 5 minutes, mis-signed or "
                "replayed requests get 401. The click is decided like any other vote; chat.update shows the outcome.",
                "responses": {"200": {"description": "Acknowledged."}, "401": {"description": "Not signed by Slack."}},
            }
        },
    }
