"""tools.wire: the one reader of upstream timestamps and the unix-seconds result field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from tools.wire import UnixTime, parse_rfc3339


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T10:05:00Z", datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),
        ("2026-11-20T11:05:00+01:00", datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),
        ("2026-11-20T10:05:00.123456789Z", datetime(2026, 11, 20, 10, 5, 0, 123456, tzinfo=UTC)),  # Go's RFC3339Nano
        ("2026-11-20T10:05:00", datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),  # no offset: UTC
        (datetime(2026, 11, 20, 11, 5, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339_gives_aware_utc(value: Any, expected: datetime) -> None:
    parsed = parse_rfc3339(value)
    assert parsed == expected and parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, "", "yesterday", 1795168800, {"odd": True}])
def test_parse_rfc3339_reads_anything_else_as_unknown(value: Any) -> None:
    assert parse_rfc3339(value) is None


class Sample(BaseModel):
    at: UnixTime


def test_unix_time_is_a_datetime_in_code_and_unix_seconds_in_json() -> None:
    sample = Sample.model_validate({"at": 1795168800.5})
    assert sample.at == datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)
    assert sample.model_dump(mode="json") == {"at": 1795168800.5}
    assert Sample.model_validate(sample.model_dump(mode="json")) == sample
