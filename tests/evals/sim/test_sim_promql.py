"""The PromQL subset: parser errors, each construct's semantics, and Prometheus' numeric edge cases."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from evals.sim.promql import (
    FloatArray,
    MatrixSelector,
    PromQLEngine,
    PromQLExecutionError,
    PromQLParseError,
    VectorSelector,
    bucket_quantile,
    format_value,
    parse,
)

T0 = 1_800_000_000.0


class FakeSource:
    """Series given as label sets and (times, values), sampled every 15 s from T0 - 1h."""

    def __init__(self, series: list[tuple[dict[str, str], FloatArray, FloatArray]]) -> None:
        self._series = series

    def label_sets(self) -> Sequence[Mapping[str, str]]:
        return [labels for labels, _, _ in self._series]

    def samples(self, index: int, start: float, end: float) -> tuple[FloatArray, FloatArray]:
        _, times, values = self._series[index]
        mask = (times >= start) & (times <= end)
        return times[mask], values[mask]


def counter(
    rate: float, *, start: float = T0 - 3600, end: float = T0, base: float = 1000.0
) -> tuple[FloatArray, FloatArray]:
    times = np.arange(start, end + 1, 15.0)
    return times, base + rate * (times - start)


def gauge(value: float, *, start: float = T0 - 3600, end: float = T0) -> tuple[FloatArray, FloatArray]:
    times = np.arange(start, end + 1, 15.0)
    return times, np.full(len(times), value)


def requests(service: str, code: str, rate: float) -> tuple[dict[str, str], FloatArray, FloatArray]:
    times, values = counter(rate)
    return {"__name__": "http_requests_total", "service": service, "code": code}, times, values


@pytest.fixture
def engine() -> PromQLEngine:
    series = [
        requests("checkout", "200", 9.0),
        requests("checkout", "500", 1.0),
        requests("inventory", "200", 4.0),
        ({"__name__": "up", "service": "checkout"}, *gauge(1.0)),
        ({"__name__": "up", "service": "inventory"}, *gauge(0.0)),
        ({"__name__": "pg_connections_in_use", "service": "db"}, *gauge(50.0)),
        ({"__name__": "pg_connections_max", "service": "db"}, *gauge(200.0)),
    ]
    for le, fraction in (("0.1", 0.5), ("0.5", 0.9), ("1", 0.99), ("+Inf", 1.0)):
        series.append(({"__name__": "latency_bucket", "service": "checkout", "le": le}, *counter(10.0 * fraction)))
    return PromQLEngine(FakeSource(series))


def instant(engine: PromQLEngine, query: str, at: float = T0) -> dict[tuple[tuple[str, str], ...], float]:
    data = engine.instant(query, at)
    assert data["resultType"] == "vector", data
    return {tuple(sorted(item["metric"].items())): float(item["value"][1]) for item in data["result"]}


def scalar(engine: PromQLEngine, query: str) -> float:
    data = engine.instant(query, T0)
    assert data["resultType"] == "scalar"
    return float(data["result"][1])


# -- parser


def test_parses_selector_with_every_matcher_kind() -> None:
    node = parse('http_requests_total{service="checkout", code=~"5..", method!="GET", path!~"/health.*"}')
    assert isinstance(node, VectorSelector)
    assert node.name == "http_requests_total"
    assert [(m.name, m.op) for m in node.matchers[1:]] == [
        ("service", "="),
        ("code", "=~"),
        ("method", "!="),
        ("path", "!~"),
    ]


def test_parses_range_selector_and_offset() -> None:
    node = parse("rate(x[5m] offset 1h)")
    arg = node.args[0]  # type: ignore[union-attr]  # a Call, asserted by the access itself
    assert isinstance(arg, MatrixSelector)
    assert arg.range == 300 and arg.selector.offset == 3600


def test_string_escapes_in_matchers() -> None:
    node = parse(r'x{a="tab\there", b=`raw\n`, c="\u00e9"}')
    assert isinstance(node, VectorSelector)
    assert [m.value for m in node.matchers[1:]] == ["tab\there", "raw\\n", "é"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "no expression found in input"),
        ("sum(", "unexpected end of input"),
        ("rate(x)", "expected type range vector in call to function 'rate', got instant vector"),
        ("foo(x)", "unknown function with name 'foo'"),
        ("label_replace(x, 'a', 'b', 'c', 'd')", "not supported by the simulator"),
        ("topk(3, x)", "aggregation 'topk' is not supported"),
        ("x[5m:1m]", "subqueries are not supported"),
        ("x @ 100", "the @ modifier is not supported"),
        ("x * on(a) group_left y", "group_left"),
        ("1 > 2", "comparisons between scalars must use BOOL modifier"),
        ('{a=~".*"}', "at least one non-empty matcher"),
        ('x{a=~"("}', "error parsing regexp"),
        ("x[5m] + 1", "binary expression must contain only scalar and instant vector types"),
        ('x{a="unterminated}', "unterminated quoted string"),
        ("sum(x) by (a) by (b)", "unexpected identifier 'by'"),
    ],
)
def test_invalid_queries_are_parse_errors(query: str, message: str) -> None:
    with pytest.raises(PromQLParseError, match=r"^\d+:\d+: parse error: ") as caught:
        parse(query)
    assert message in str(caught.value)


def test_parse_error_reports_the_column() -> None:
    with pytest.raises(PromQLParseError, match=r"^1:10: parse error: unexpected character"):
        parse("sum(x) + ]")


def test_precedence_and_right_associative_power() -> None:
    engine = PromQLEngine(FakeSource([]))
    assert float(engine.instant("1 + 2 * 3", T0)["result"][1]) == 7
    assert float(engine.instant("(1 + 2) * 3", T0)["result"][1]) == 9
    assert float(engine.instant("2 ^ 3 ^ 2", T0)["result"][1]) == 512
    assert float(engine.instant("-2 ^ 2", T0)["result"][1]) == -4
    assert float(engine.instant("7 % 4", T0)["result"][1]) == 3
    assert engine.instant("1 / 0", T0)["result"][1] == "+Inf"
    assert engine.instant("0x10 + Inf", T0)["result"][1] == "+Inf"
    assert engine.instant("2 > bool 1", T0)["result"][1] == "1"


# -- evaluation


def test_rate_of_a_steady_counter(engine: PromQLEngine) -> None:
    result = instant(engine, 'rate(http_requests_total{service="checkout",code="500"}[5m])')
    assert result == {(("code", "500"), ("service", "checkout")): pytest.approx(1.0)}


def test_increase_extrapolates_to_the_whole_window(engine: PromQLEngine) -> None:
    # 20 samples cover 285 s of a 300 s window; Prometheus extrapolates to the full window.
    result = instant(engine, 'increase(http_requests_total{service="inventory"}[5m])')
    assert list(result.values()) == [pytest.approx(4.0 * 300)]


def test_irate_uses_the_last_two_samples(engine: PromQLEngine) -> None:
    assert list(instant(engine, 'irate(http_requests_total{service="inventory"}[1m])').values()) == [pytest.approx(4.0)]


def test_rate_handles_a_counter_reset() -> None:
    times = np.arange(T0 - 300, T0 + 1, 15.0)
    values = 10.0 * (times - times[0])
    values[10:] -= values[10]  # the process restarted: the counter went back to zero
    engine = PromQLEngine(FakeSource([({"__name__": "c"}, times, values)]))
    assert list(instant(engine, "rate(c[5m])").values()) == [pytest.approx(10.0, rel=0.06)]


def test_error_ratio_from_the_catalog(engine: PromQLEngine) -> None:
    query = (
        'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
        ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
    )
    assert instant(engine, query) == {(): pytest.approx(0.1)}


def test_aggregation_by_and_without(engine: PromQLEngine) -> None:
    by_service = instant(engine, "sum by (service) (rate(http_requests_total[5m]))")
    assert by_service == {
        (("service", "checkout"),): pytest.approx(10.0),
        (("service", "inventory"),): pytest.approx(4.0),
    }
    trailing = instant(engine, "sum(rate(http_requests_total[5m])) by (service)")
    assert trailing == by_service
    without_code = instant(engine, "sum without (code) (rate(http_requests_total[5m]))")
    assert without_code == by_service
    assert instant(engine, "count(up)") == {(): 2.0}
    assert instant(engine, "max(up)") == {(): 1.0}
    assert instant(engine, "min(up)") == {(): 0.0}
    assert instant(engine, "avg(up)") == {(): 0.5}


def test_histogram_quantile_interpolates_within_the_bucket(engine: PromQLEngine) -> None:
    query = 'histogram_quantile(0.95, sum by (le) (rate(latency_bucket{service="checkout"}[5m])))'
    # rank 0.95 of 10/s falls in (0.5, 1]: 0.5 + 0.5 * (9.5 - 9) / (9.9 - 9)
    assert instant(engine, query) == {(): pytest.approx(0.5 + 0.5 * 0.5 / 0.9)}


def test_bucket_quantile_edge_cases() -> None:
    bounds = np.array([0.1, 1.0, math.inf])
    assert bucket_quantile(0.5, bounds, np.array([5.0, 8.0, 10.0])) == pytest.approx(0.1)
    assert bucket_quantile(0.99, bounds, np.array([5.0, 8.0, 10.0])) == 1.0  # +Inf bucket: the last finite bound
    assert bucket_quantile(1.5, bounds, np.array([5.0, 8.0, 10.0])) == math.inf
    assert bucket_quantile(-1, bounds, np.array([5.0, 8.0, 10.0])) == -math.inf
    assert math.isnan(bucket_quantile(0.5, bounds, np.zeros(3)))
    assert math.isnan(bucket_quantile(0.5, np.array([0.1, 1.0]), np.array([1.0, 2.0])))  # no +Inf bucket


def test_vector_scalar_arithmetic_and_comparison_filter(engine: PromQLEngine) -> None:
    assert instant(engine, 'max(pg_connections_in_use{service="db"}) / max(pg_connections_max{service="db"})') == {
        (): pytest.approx(0.25)
    }
    scaled = instant(engine, "up * 100")
    assert scaled == {(("service", "checkout"),): 100.0, (("service", "inventory"),): 0.0}
    kept = engine.instant("up == 0", T0)["result"]
    assert [item["metric"] for item in kept] == [{"__name__": "up", "service": "inventory"}]  # name kept by a filter
    assert instant(engine, "up > bool 0") == {(("service", "checkout"),): 1.0, (("service", "inventory"),): 0.0}
    assert instant(engine, "1 - up") == {(("service", "checkout"),): 0.0, (("service", "inventory"),): 1.0}


def test_vector_vector_matching(engine: PromQLEngine) -> None:
    ratio = instant(
        engine,
        'rate(http_requests_total{code="500"}[5m]) / ignoring(code) sum by (service) (rate(http_requests_total[5m]))',
    )
    assert ratio == {(("service", "checkout"),): pytest.approx(0.1)}
    on = instant(engine, "up * on(service) sum by (service) (rate(http_requests_total[5m]))")
    assert on == {(("service", "checkout"),): pytest.approx(10.0), (("service", "inventory"),): 0.0}
    unmatched = instant(engine, 'rate(http_requests_total{code="500"}[5m]) / rate(http_requests_total{code="200"}[5m])')
    assert unmatched == {}  # the code label differs, so nothing matches one-to-one


def test_many_to_many_matching_is_an_execution_error(engine: PromQLEngine) -> None:
    with pytest.raises(PromQLExecutionError, match="many-to-many matching not allowed"):
        engine.instant("http_requests_total / on(service) http_requests_total", T0)


def test_set_operators(engine: PromQLEngine) -> None:
    kept = instant(engine, 'up and on(service) http_requests_total{code="500"}')
    assert set(kept) == {(("__name__", "up"), ("service", "checkout"))}  # the left side, untouched
    dropped = instant(engine, 'up unless on(service) http_requests_total{code="500"}')
    assert set(dropped) == {(("__name__", "up"), ("service", "inventory"))}
    both = instant(engine, 'pg_connections_in_use or up{service="checkout"}')
    assert len(both) == 2


def test_functions_over_time_and_clamps(engine: PromQLEngine) -> None:
    assert instant(engine, "max_over_time(pg_connections_in_use[10m])") == {(("service", "db"),): 50.0}
    assert instant(engine, 'count_over_time(up{service="checkout"}[5m])') == {(("service", "checkout"),): 20.0}
    assert instant(engine, "clamp_max(pg_connections_in_use, 10)") == {(("service", "db"),): 10.0}
    assert instant(engine, "abs(-up)") == {(("service", "checkout"),): 1.0, (("service", "inventory"),): 0.0}
    assert scalar(engine, "scalar(pg_connections_max)") == 200.0
    assert scalar(engine, "time()") == T0


def test_offset_reads_the_past(engine: PromQLEngine) -> None:
    assert instant(engine, "up offset 2h") == {}  # samples start one hour back
    assert instant(engine, 'up{service="checkout"} offset 30m') == {(("__name__", "up"), ("service", "checkout")): 1.0}


def test_lookback_bounds_instant_selection(engine: PromQLEngine) -> None:
    assert instant(engine, "up", at=T0 + 299) != {}
    assert instant(engine, "up", at=T0 + 301) == {}  # no sample in the last 5 minutes: stale


def test_instant_query_of_a_range_selector_returns_raw_samples(engine: PromQLEngine) -> None:
    data = engine.instant('up{service="checkout"}[1m]', T0)
    assert data["resultType"] == "matrix"
    assert [t for t, _ in data["result"][0]["values"]] == [T0 - 45, T0 - 30, T0 - 15, T0]


def test_range_query_steps_and_absent_points(engine: PromQLEngine) -> None:
    data = engine.range("up", T0 - 60, T0 + 600, 60)
    assert data["resultType"] == "matrix"
    checkout = next(s for s in data["result"] if s["metric"]["service"] == "checkout")
    # Samples end at T0; the lookback window (t - 5m, t] keeps them until just before T0 + 5m.
    assert [t for t, _ in checkout["values"]] == [T0 - 60 + 60 * i for i in range(6)]
    assert all(isinstance(v, str) for _, v in checkout["values"])


def test_range_query_limits() -> None:
    engine = PromQLEngine(FakeSource([]))
    with pytest.raises(PromQLParseError, match="end timestamp must not be before start time"):
        engine.range("1", T0, T0 - 1, 15)
    with pytest.raises(PromQLParseError, match="zero or negative query resolution step"):
        engine.range("1", T0, T0 + 1, 0)
    with pytest.raises(PromQLParseError, match="exceeded maximum resolution of 11,000 points"):
        engine.range("1", T0, T0 + 86400, 1)
    with pytest.raises(PromQLParseError, match='invalid expression type "range vector"'):
        engine.range("x[5m]", T0, T0 + 60, 15)


def test_values_are_formatted_like_go() -> None:
    assert format_value(40.0) == "40"
    assert format_value(0.1) == "0.1"
    assert format_value(1e-7) == "0.0000001"
    assert format_value(math.nan) == "NaN"
    assert format_value(-math.inf) == "-Inf"
