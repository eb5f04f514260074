"""CloudWatch alarms delivered by SNS over HTTPS.

SNS posts with ``Content-Type: text/plain``; the body is JSON whatever the header says. ``Type``
(or the ``x-amz-sns-message-type`` header) is one of:

- ``SubscriptionConfirmation``: nothing is delivered until it is confirmed. The receiver queues a
  confirmation (a GET of ``SubscribeURL``, accepted only on ``https://sns.<region>.amazonaws.com``).
- ``Notification``: ``Message`` is the alarm, JSON in a string, decoded a second time.
  ``NewStateValue`` ALARM fires, OK resolves, INSUFFICIENT_DATA changes nothing.
- ``UnsubscribeConfirmation``: recorded, nothing else.

Raw message delivery (the alarm JSON without the SNS envelope) is accepted too. The dedup key is the
alarm's ARN. CloudWatch has no severity; it comes from ``default_severity`` of the source settings.
The service is read from the metric's dimensions (ServiceName, FunctionName, DBInstanceIdentifier...;
``app/<name>/<id>`` load balancers give ``<name>``), else the alarm name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from intake.events import (
    AlertEvent,
    AlertPayloadError,
    EventStatus,
    Normalized,
    SubscriptionRequest,
    as_object,
    optional_str,
    parse_time,
    require_str,
)
from intake.settings import IntakeSource

_SERVICE_DIMENSIONS = (
    "ServiceName",
    "FunctionName",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "ClusterName",
    "QueueName",
    "TableName",
    "CacheClusterId",
    "LoadBalancer",
    "TargetGroup",
    "AutoScalingGroupName",
    "InstanceId",
)
_STATES: dict[str, EventStatus] = {"ALARM": "firing", "OK": "resolved", "INSUFFICIENT_DATA": "ack"}
SNS_URL = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def _service(dimensions: list[dict[str, Any]], alarm_name: str) -> str:
    by_name = {str(d.get("name")): str(d.get("value")) for d in dimensions if isinstance(d, dict)}
    for key in _SERVICE_DIMENSIONS:
        value = by_name.get(key)
        if value:
            parts = value.split("/")
            if key in ("LoadBalancer", "TargetGroup") and len(parts) >= 2:
                return parts[1]
            return value
    return alarm_name


def _alarm_event(
    alarm: dict[str, Any], where: str, received_at: float, settings: IntakeSource, subject: str | None
) -> AlertEvent:
    name = require_str(alarm, "AlarmName", f"{where}.AlarmName")
    state = alarm.get("NewStateValue")
    if not isinstance(state, str) or state not in _STATES:
        raise AlertPayloadError(f"{where}.NewStateValue: expected ALARM, OK or INSUFFICIENT_DATA, got {state!r}")
    trigger = alarm.get("Trigger") or {}
    if not isinstance(trigger, dict):
        raise AlertPayloadError(f"{where}.Trigger: expected an object")
    dimensions = trigger.get("Dimensions") or []
    if not isinstance(dimensions, list):
        raise AlertPayloadError(f"{where}.Trigger.Dimensions: expected a list")
    arn = optional_str(alarm, "AlarmArn", f"{where}.AlarmArn")
    account = optional_str(alarm, "AWSAccountId", f"{where}.AWSAccountId") or ""
    labels = {
        "alarm_name": name,
        "account": account,
        "region": optional_str(alarm, "Region", f"{where}.Region") or "",
        "metric": str(trigger.get("MetricName") or ""),
        "namespace": str(trigger.get("Namespace") or ""),
    }
    labels.update({f"dim_{d.get('name')}": str(d.get("value")) for d in dimensions if isinstance(d, dict)})
    reason = optional_str(alarm, "NewStateReason", f"{where}.NewStateReason") or ""
    return AlertEvent(
        source="cloudwatch",
        key=f"cloudwatch:{arn or account + ':' + name}",
        status=_STATES[state],
        name=name,
        title=subject or name,
        severity=settings.default_severity,
        service=_service(dimensions, name),
        environment=settings.default_environment,
        received_at=received_at,
        labels={k: v for k, v in labels.items() if v},
        annotations={"reason": reason} if reason else {},
        started_at=parse_time(alarm.get("StateChangeTime"), f"{where}.StateChangeTime"),
        description=optional_str(alarm, "AlarmDescription", f"{where}.AlarmDescription") or reason,
    )


def normalize_cloudwatch(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    body = as_object(payload, "payload")
    if "AlarmName" in body and "Type" not in body:  # raw message delivery
        return Normalized(events=[_alarm_event(body, "payload", received_at, settings, None)])
    kind = body.get("Type") or headers.get("x-amz-sns-message-type")
    if kind == "SubscriptionConfirmation":
        url = require_str(body, "SubscribeURL", "SubscribeURL")
        if not SNS_URL.match(url):
            raise AlertPayloadError(f"SubscribeURL: not an https://sns.<region>.amazonaws.com URL: {url[:200]!r}")
        request = SubscriptionRequest(
            topic_arn=require_str(body, "TopicArn", "TopicArn"),
            subscribe_url=url,
            message_id=str(body.get("MessageId") or ""),
        )
        return Normalized(events=[], subscription=request, note="SNS subscription confirmation queued")
    if kind == "UnsubscribeConfirmation":
        return Normalized(events=[], note=f"SNS unsubscribed from {body.get('TopicArn')}")
    if kind != "Notification":
        raise AlertPayloadError(
            f"Type: expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation, got {kind!r}"
        )
    message = require_str(body, "Message", "Message")
    try:
        alarm = json.loads(message)
    except json.JSONDecodeError as exc:
        raise AlertPayloadError(f"Message: not JSON (expected a CloudWatch alarm encoded as a string): {exc}") from exc
    alarm = as_object(alarm, "Message")
    subject = optional_str(body, "Subject", "Subject")
    return Normalized(events=[_alarm_event(alarm, "Message", received_at, settings, subject)])
