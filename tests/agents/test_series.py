import math
from datetime import UTC, datetime

import pytest

from agents.series import first_series, latest_value
from tools.base import ResultShapeError, ToolResult
from tools.prometheus import QueryResult, Series


def _result(series: list[Series]) -> ToolResult:
    return ToolResult.with_payload(
        QueryResult(resultType="matrix", series=series), tool="prom.query_range", status="ok", query="q"
    )


def test_first_series_skips_nan_samples_and_gives_aware_times() -> None:
    samples = [(1795300000.0, 0.1), (1795300060.0, math.nan), (1795300120.0, 0.3)]
    series = Series.model_validate({"metric": {}, "values": samples})
    times, values = first_series(_result([series]))
    assert values == [0.1, 0.3]
    assert times == [datetime.fromtimestamp(1795300000, UTC), datetime.fromtimestamp(1795300120, UTC)]
    assert all(t.tzinfo is UTC for t in times)
    assert latest_value(_result([series])) == 0.3


def test_a_result_read_back_from_json_gives_the_same_series() -> None:
    """A result from the ledger or a run record has no payload object: it is validated from data."""
    series = Series.model_validate({"metric": {"service": "api"}, "values": [(1795300000.0, 0.25)]})
    restored = ToolResult.model_validate(_result([series]).model_dump())
    assert first_series(restored) == ([datetime.fromtimestamp(1795300000, UTC)], [0.25])


def test_no_series_and_errors_are_empty() -> None:
    assert first_series(_result([])) == ([], [])
    error = ToolResult(tool="prom.query_range", status="error", query="q", summary="HTTP 503")
    assert first_series(error) == ([], [])
    assert latest_value(_result([Series.model_validate({"metric": {}, "values": [(1.0, math.nan)]})])) is None


def test_data_of_another_shape_is_a_clear_error_naming_the_call() -> None:
    odd = ToolResult(tool="prom.query_range", status="ok", query="q", data={"rows": []})
    with pytest.raises(ResultShapeError, match=r"prom\.query_range: the result's data is not a QueryResult"):
        first_series(odd)
