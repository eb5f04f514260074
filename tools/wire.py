"""Helpers the integration adapters share: UTC times, timestamp formats, JSON bodies, error texts.

`parse_rfc3339` is the one reader of upstream timestamps: the adapters turn every wire time into an
aware UTC datetime with it, so nothing downstream parses time strings again.

Every adapter reads a success body through `decode_json` and checks its shape; anything unexpected is
reported with `malformed`, an `UpstreamError` that names the request and carries a redacted body
excerpt, so a backend answering nonsense never crashes a call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, ValidationInfo

from tools.base import UpstreamError
from tools.http import BODY_EXCERPT_CHARS, HttpCaller

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """Read a naive datetime as UTC and convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A datetime input field, normalised to UTC (a value without an offset is taken as UTC)."""


def parse_rfc3339(value: Any) -> datetime | None:
    """An upstream timestamp (``2026-11-20T10:05:00Z``, with any offset or fraction) as aware UTC.

    None for anything else: a missing, empty, non-string or unparsable field is "unknown time", never a
    crash (a backend's odd field must not fail the whole read). A value without an offset is UTC.
    """
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        # From Python 3.11 this reads "Z" and Go's nanosecond fractions (cut to microseconds).
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def from_unix_seconds(value: float) -> datetime:
    """Unix seconds (Prometheus sample times) as an aware UTC datetime, to the microsecond."""
    return datetime.fromtimestamp(value, UTC)


def _unix_seconds_to_datetime(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_unix_seconds(float(value))
    return value


UnixTime = Annotated[
    datetime,
    BeforeValidator(_unix_seconds_to_datetime),
    AfterValidator(as_utc),
    PlainSerializer(lambda value: as_utc(value).timestamp(), return_type=float, when_used="json"),
]
"""A result field that is unix seconds on the wire and in ``data`` (Prometheus sample times), an aware
UTC datetime in the typed payload."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """``2026-11-20T10:05:00Z`` (fractional seconds only when present)."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def end_after_start(end: datetime, info: ValidationInfo) -> datetime:
    """A time window's ``end`` validator: it must come after ``start`` (use as
    ``field_validator("end")(end_after_start)``)."""
    start = info.data.get("start")
    if start is not None and end <= start:
        raise ValueError(f"end ({rfc3339(end)}) must be after start ({rfc3339(start)})")
    return end


def format_number(value: float) -> str:
    """A number without a useless fraction: 60.0 -> ``60``, 0.25 -> ``0.25``, 1795300000.5 -> same."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def unix_seconds(value: datetime) -> str:
    """Unix seconds with millisecond precision, as Prometheus accepts them."""
    return format_number(as_utc(value).timestamp())


def unix_nanos(value: datetime) -> int:
    """Nanoseconds since the epoch, computed in integers (a float would lose the last digits)."""
    return ((as_utc(value) - _EPOCH) // timedelta(microseconds=1)) * 1000


def from_unix_nanos(value: str | int) -> datetime:
    """Parse a nanosecond epoch (Loki sends it as a string). Precision below a microsecond is dropped."""
    seconds, rest = divmod(int(value), 1_000_000_000)
    return _EPOCH + timedelta(seconds=seconds, microseconds=rest // 1000)


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def first_line(text: str, limit: int = 200) -> str:
    return clip(text.strip().splitlines()[0] if text.strip() else "", limit)


def request_params(response: httpx.Response) -> dict[str, Any]:
    """The query parameters the response answered, for error reports."""
    merged: dict[str, list[str]] = {}
    for key, value in response.request.url.params.multi_items():
        merged.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in merged.items()}


def malformed(http: HttpCaller, response: httpx.Response, path: str, problem: str) -> UpstreamError:
    """An `UpstreamError` for a success status whose body cannot be used."""
    excerpt = http.redact(response.text[:BODY_EXCERPT_CHARS])
    method = response.request.method
    return UpstreamError(
        f"{method} {path} returned HTTP {response.status_code} but {problem}: {excerpt or '(empty body)'}",
        method=method,
        path=path,
        params=request_params(response),
        status_code=response.status_code,
        body_excerpt=excerpt,
    )


def decode_json(http: HttpCaller, response: httpx.Response, path: str) -> Any:
    """The JSON body of a response, or `malformed` when it is not JSON."""
    try:
        return json.loads(response.content)
    except ValueError:
        raise malformed(http, response, path, "the body is not JSON") from None


def expect_dict(http: HttpCaller, response: httpx.Response, path: str, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(http, response, path, f"{what} is not a JSON object")
    return value


def expect_list(http: HttpCaller, response: httpx.Response, path: str, value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise malformed(http, response, path, f"{what} is not a JSON array")
    return value


def opt_str(value: Any) -> str | None:
    """``value`` when it is a string, else None: upstream fields are copied only with the type they claim."""
    return value if isinstance(value, str) else None


def opt_int(value: Any) -> int | None:
    """``value`` when it is an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty list (for optional upstream arrays)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (for optional upstream objects)."""
    return value if isinstance(value, dict) else {}


def json_field(response: httpx.Response, *keys: str) -> Any:
    """The first of ``keys`` present in a JSON object body, or None (never raises)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in keys:
        if body.get(key) not in (None, ""):
            return body[key]
    return None


def plain_text(response: httpx.Response, limit: int = BODY_EXCERPT_CHARS) -> str | None:
    """A trimmed plain-text error body, or None when it is empty."""
    text = response.text.strip()
    return clip(text, limit) if text else None


def is_none(value: Any) -> bool:
    """``Field(exclude_if=is_none)``: a result key that the JSON leaves out when it has no value, as
    the wire format does (an optional key, not a key holding null)."""
    return value is None


def is_empty(value: Any) -> bool:
    """``Field(exclude_if=is_empty)``: a list key left out of the JSON when it is empty."""
    return not value
