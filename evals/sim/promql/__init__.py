"""A PromQL subset: a hand-written recursive-descent parser and a vectorised evaluator.

The simulator answers ``/api/v1/query`` and ``/api/v1/query_range`` with this module, so that the
production Prometheus adapter and the agents' queries run unchanged against simulated telemetry.

Supported
---------
- Number literals (``0.05``, ``1e3``, ``0x1f``, ``Inf``, ``NaN``) and parentheses.
- Vector selectors with label matchers ``=``, ``!=``, ``=~``, ``!~`` (regexes fully anchored, as in
  Prometheus), with or without a metric name: ``http_requests_total{service="checkout",code=~"5.."}``.
- Range selectors ``[5m]`` and the ``offset`` modifier (``x[5m] offset 1h``).
- Functions over range vectors: ``rate``, ``irate``, ``increase``, ``delta``, ``avg_over_time``,
  ``min_over_time``, ``max_over_time``, ``sum_over_time``, ``count_over_time``, ``last_over_time``.
  ``rate``/``increase``/``delta`` extrapolate exactly as Prometheus does (``extrapolatedRate``).
- ``histogram_quantile(φ, v)`` over classic ``le`` buckets (Prometheus' interpolation and edge cases).
- Instant-vector functions: ``abs``, ``ceil``, ``floor``, ``clamp_min``, ``clamp_max``, ``sort``,
  ``sort_desc``, ``scalar``, ``vector``, ``time``.
- Aggregations ``sum``, ``avg``, ``max``, ``min``, ``count``, ``group`` with ``by (...)`` or
  ``without (...)``, written before or after the argument.
- Binary arithmetic ``+ - * / % ^`` between scalars, between a vector and a scalar, and between two
  vectors (one-to-one matching on identical label sets without ``__name__``, or with
  ``on (...)``/``ignoring (...)``); comparisons ``== != > < >= <=`` that filter, or return 0/1 with
  ``bool``; the set operators ``and``, ``or``, ``unless``.

Not supported, answered with Prometheus' ``bad_data`` error: subqueries (``[1h:5m]``), the ``@``
modifier, ``group_left``/``group_right``, parameterised aggregations (``topk``, ``quantile``...),
string literals as values, and any other function. Errors carry Prometheus' position prefix
(``1:5: parse error: ...``).

Evaluation is vectorised over the steps of a query: each node evaluates to one value per step (a
scalar row, or one row per series with a presence mask), so a three-hour range query at 15 s steps
costs a handful of numpy operations per series rather than 721 separate evaluations.
"""

from __future__ import annotations

from evals.sim.promql.engine import PromQLEngine, format_time, format_value
from evals.sim.promql.errors import (
    LOOKBACK_SECONDS,
    MAX_POINTS,
    BoolArray,
    FloatArray,
    LabelKey,
    PromQLError,
    PromQLExecutionError,
    PromQLParseError,
    SeriesSource,
)
from evals.sim.promql.evaluator import (
    Evaluator,
    RawMatrix,
    ScalarValue,
    Series,
    Value,
    VectorValue,
    bucket_quantile,
)
from evals.sim.promql.lexer import Token, tokenize
from evals.sim.promql.nodes import (
    MATCH_OPS,
    Aggregate,
    Binary,
    Call,
    Matcher,
    MatchOp,
    MatrixSelector,
    Node,
    NumberLiteral,
    Unary,
    ValueType,
    VectorMatching,
    VectorSelector,
)
from evals.sim.promql.parser import Parser, parse, parse_selector

__all__ = [
    "Aggregate",
    "Binary",
    "BoolArray",
    "Call",
    "Evaluator",
    "FloatArray",
    "LOOKBACK_SECONDS",
    "LabelKey",
    "MATCH_OPS",
    "MAX_POINTS",
    "MatchOp",
    "Matcher",
    "MatrixSelector",
    "Node",
    "NumberLiteral",
    "Parser",
    "PromQLEngine",
    "PromQLError",
    "PromQLExecutionError",
    "PromQLParseError",
    "RawMatrix",
    "ScalarValue",
    "Series",
    "SeriesSource",
    "Token",
    "Unary",
    "Value",
    "ValueType",
    "VectorMatching",
    "VectorSelector",
    "VectorValue",
    "bucket_quantile",
    "format_time",
    "format_value",
    "parse",
    "parse_selector",
    "tokenize",
]
