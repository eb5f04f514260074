"""The OpenAPI 3.1 document of the intake server (``GET /openapi.json``), written by hand so it
says what the receivers really do: which formats, which answers, what a 400 carries."""

from __future__ import annotations

from typing import Any

FORMATS = {
    "alertmanager": "Prometheus Alertmanager webhook, payload version 4.",
    "grafana": "Grafana Alerting webhook contact point, version 1 (HMAC signature optional).",
    "pagerduty": "PagerDuty Events API v2 event (trigger, acknowledge, resolve).",
    "datadog": "Datadog webhook: the recommended custom payload, or Datadog's default payload.",
    "cloudwatch": "Amazon SNS HTTP(S) delivery of a CloudWatch alarm: Notification, SubscriptionConfirmation, UnsubscribeConfirmation.",
    "opsgenie": "Opsgenie outgoing webhook (Create, Close; other actions change no state).",
    "generic": 'The canonical alert as JSON: one object, a list, or {"alerts": [...]}.',
}

_ERROR = {
    "type": "object",
    "required": ["status", "error", "message"],
    "properties": {
        "status": {"const": "error"},
        "error": {
            "type": "string",
            "description": "invalid_payload, unauthenticated, unknown_source, too_large, inbox_unavailable",
        },
        "message": {"type": "string", "description": "Starts with the field at fault, e.g. 'alerts[0].startsAt: ...'."},
        "field": {"type": "string"},
        "dead_letter_id": {
            "type": ["integer", "null"],
            "description": "Where the rejected body was kept (firstline intake dead-letters).",
        },
    },
}


def openapi_document(enabled: list[str]) -> dict[str, Any]:
    json_error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    receive = {
        "summary": "Receive alerts from one source",
        "description": (
            "Authenticates (per source: bearer, basic or HMAC), validates and stores the delivery durably, then answers; "
            "correlation runs asynchronously. The body is parsed as JSON whatever the Content-Type. Formats: "
            + " ".join(f"**{name}**: {text}" for name, text in FORMATS.items())
        ),
        "parameters": [
            {"name": "source", "in": "path", "required": True, "schema": {"type": "string", "enum": enabled}}
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": ["object", "array"]}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "202": {
                "description": "Stored; it will be correlated.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "string"},
                                "inbox_id": {"type": "integer"},
                                "alerts": {"type": "integer"},
                                "note": {"type": "string"},
                                "dedup_key": {"type": "string", "description": "pagerduty only"},
                            },
                        }
                    }
                },
            },
            "400": {
                "description": "Malformed payload; the message names the field; kept as a dead letter.",
                **json_error,
            },
            "401": {"description": "Missing or wrong credentials or signature.", **json_error},
            "404": {"description": "Unknown or disabled source.", **json_error},
            "413": {"description": "Body over intake.max_body_kb.", **json_error},
            "503": {"description": "The inbox could not store the delivery; retry.", **json_error},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "firstline intake",
            "version": "1",
            "description": "Alert receivers: a storm of alerts becomes a handful of incidents, each investigated once.",
        },
        "paths": {
            "/v1/alerts/{source}": {
                "post": receive,
                "put": {**receive, "summary": "Receive alerts (PUT, as Grafana can send)"},
            },
            "/v1/incidents": {
                "get": {
                    "summary": "Correlated incidents, newest first",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["open", "resolved", "merged"]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        },
                    ],
                    "responses": {
                        "200": {"description": '{"incidents": [...]}'},
                        "400": {"description": "Bad query.", **json_error},
                    },
                }
            },
            "/v1/incidents/{incident_id}": {
                "get": {
                    "summary": "One incident with its investigations (workflow runs)",
                    "parameters": [
                        {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "The incident."},
                        "404": {"description": "No such incident.", **json_error},
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and backlog",
                    "responses": {
                        "200": {"description": "Worker running; inbox depth, dead letters, open incidents."},
                        "503": {"description": "The worker has stopped."},
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
        },
        "components": {"schemas": {"Error": _ERROR}},
    }
