"""Simulated Loki: log lines generated on demand, and the LogQL subset that reads them.

Lines come from *sources*: a scenario's background templates per service (``logs:``), each fault's
``effects.logs`` on its target while the fault is active, and ``propagates.logs`` on the callers the
fault reaches. Each source emits a Poisson number of lines per second, drawn per five-minute chunk from a
generator seeded by (scenario seed, service, source, chunk): the same seed always yields the same
lines, and a fault fixed at T simply stops its source's lines from T on. A line belongs to one of
the pods running at its time, so a rollback shows up as new pod names in the streams.

Streams carry ``namespace``, ``app``, ``pod``, ``container``, ``job`` (``namespace/app``) and
``service_name``, as promtail and Loki 3 label Kubernetes logs.

LogQL subset
------------
- Log queries: a stream selector ``{k="v", k!="v", k=~"re", k!~"re"}`` followed by any number of
  line filters ``|= "text"``, ``!= "text"``, ``|~ "re"``, ``!~ "re"``.
- Metric queries: ``count_over_time(<log query> [5m])`` and ``rate(<log query> [5m])``, optionally
  inside ``sum``/``count``/``max``/``min``/``avg`` with ``by (...)``/``without (...)``.

Parser stages (``| json``, ``| logfmt``, label filters...) and other functions are refused with
Loki's plain-text 400 ``parse error at line 1, col N: ...``.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from evals.sim.faults import Conditions, FaultTimeline, lognormal_sigma
from evals.sim.promql import MATCH_OPS, Matcher
from evals.sim.scenario import TEMPLATE_FIELD_RE, LogTemplate, Scenario, ServiceSpec
from evals.sim.telemetry import HISTORY_SECONDS, stable_hash
from evals.sim.timeutil import parse_duration

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CHUNK_SECONDS = 300
MAX_ENTRIES = 5000
NANOS = 1_000_000_000


class LogQLError(Exception):
    """A query Loki would refuse; the message is the plain-text body of the 400 answer."""


class LogWorld(Protocol):
    """What log generation needs from the world."""

    scenario: Scenario
    anchor: float

    def now_ts(self) -> float: ...

    @property
    def version(self) -> int: ...

    def timelines(self) -> dict[str, FaultTimeline]: ...

    def conditions(self, service: str, times: FloatArray) -> Conditions: ...

    def pod_timeline(self, service: str) -> list[tuple[float, list[str]]]: ...


# ------------------------------------------------------------------------------------------ templates


@dataclass(frozen=True)
class LineDraws:
    """The random numbers behind a batch of lines of one source (one entry per line)."""

    latency_ms: FloatArray
    uniform: FloatArray
    integers: npt.NDArray[np.int64]
    pods: list[str]


@dataclass(frozen=True)
class CompiledTemplate:
    """A log template compiled to a ``str.format`` pattern with one positional field per placeholder."""

    pattern: str
    fields: tuple[tuple[str, str], ...]  # (placeholder name, argument) in order

    @classmethod
    def compile(cls, template: str) -> CompiledTemplate:
        pattern: list[str] = []
        fields: list[tuple[str, str]] = []
        pos = 0
        for match in TEMPLATE_FIELD_RE.finditer(template):
            pattern.append(template[pos : match.start()])  # ``{{``/``}}`` already escape literal braces
            pattern.append(f"{{{len(fields)}}}")
            fields.append((match.group(1), match.group(2) or ""))
            pos = match.end()
        pattern.append(template[pos:])
        return cls("".join(pattern), tuple(fields))

    @property
    def static(self) -> str | None:
        """The line itself when the template has no placeholders."""
        return self.pattern.format() if not self.fields else None

    def render(self, draws: LineDraws, *, service: str, origin: str) -> list[str]:
        """One line per draw; values are computed column by column (numpy), then formatted."""
        count = len(draws.pods)
        static = self.static
        if static is not None:
            return [static] * count
        columns: list[list[str]] = []
        for name, arg in self.fields:
            if name == "latency_ms":
                columns.append(np.maximum(1, np.round(draws.latency_ms)).astype(np.int64).astype(str).tolist())
            elif name == "trace_id":
                columns.append([f"{v:016x}" for v in draws.integers.tolist()])
            elif name == "pod":
                columns.append(draws.pods)
            elif name == "one_of":
                choices = np.array(arg.split("|"), dtype=object)
                columns.append(choices[draws.integers % len(choices)].tolist())
            elif name == "int":
                low, high = (int(x) for x in arg.split("-"))
                columns.append((low + np.floor(draws.uniform * (high - low + 1))).astype(np.int64).astype(str).tolist())
            else:
                columns.append([service if name == "service" else origin] * count)
        pattern = self.pattern
        return [pattern.format(*row) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class LogSource:
    key: str
    service: str
    template: CompiledTemplate
    rate: float
    fault_id: str | None = None
    weight: float = 1.0
    origin: str = ""  # for {source}: the fault's target


def log_sources(scenario: Scenario) -> dict[str, list[LogSource]]:
    """Every source of lines, per service whose pods print them."""
    from evals.sim.faults import influences

    sources: dict[str, list[LogSource]] = {s.name: [] for s in scenario.topology.services}

    def add(
        service: str, key: str, spec: LogTemplate, fault_id: str | None = None, weight: float = 1.0, origin: str = ""
    ) -> None:
        template = CompiledTemplate.compile(spec.template)
        sources[service].append(LogSource(key, service, template, spec.rate, fault_id, weight, origin))

    for service, templates in scenario.logs.items():
        for i, spec in enumerate(templates):
            add(service, f"noise:{i}:{spec.template}", spec)
    for service, reaching in influences(scenario).items():
        for influence in reaching:
            fault = scenario.fault(influence.fault_id)
            if influence.hops == 0:
                for i, spec in enumerate(fault.effects.logs):
                    add(service, f"fault:{fault.id}:{i}", spec, fault_id=fault.id, origin=fault.target)
            elif fault.propagates is not None:
                for i, spec in enumerate(fault.propagates.logs):
                    add(
                        service,
                        f"propagated:{fault.id}:{i}",
                        spec,
                        fault_id=fault.id,
                        weight=influence.weight,
                        origin=fault.target,
                    )
    return {name: found for name, found in sources.items() if found and scenario.service(name).deployment_name}


# -------------------------------------------------------------------------------------------- chunks


@dataclass
class Chunk:
    """One service's lines for one minute, sorted by time; text rendered on first need."""

    ts_ns: IntArray
    pods: list[str]
    _render: Callable[[], list[str]]
    _lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self._render()
        return self._lines


def stream_labels(spec: ServiceSpec, pod: str) -> dict[str, str]:
    app = spec.deployment_name or spec.name
    return {
        "app": app,
        "container": app,
        "job": f"{spec.namespace}/{app}",
        "namespace": spec.namespace,
        "pod": pod,
        "service_name": app,
    }


class LogStore:
    """Generates and queries the simulated logs of one world."""

    def __init__(self, world: LogWorld, *, cache_chunks: int = 512) -> None:
        self.world = world
        self.sources = log_sources(world.scenario)
        self._cache: OrderedDict[tuple[str, int, int], Chunk] = OrderedDict()
        self._cache_size = cache_chunks

    def chunk(self, service: str, index: int) -> Chunk:
        key = (service, index, self.world.version)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        built = self._build_chunk(service, index)
        self._cache[key] = built
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return built

    def _build_chunk(self, service: str, index: int) -> Chunk:
        world = self.world
        start = world.anchor + index * CHUNK_SECONDS
        seconds = start + np.arange(CHUNK_SECONDS, dtype=np.float64)
        timelines = world.timelines()
        cond = world.conditions(service, seconds + 0.5)
        sigma = lognormal_sigma(cond.latency_p50, cond.latency_p99)
        pod_segments = world.pod_timeline(service)
        segment_starts = np.array([at for at, _ in pod_segments])
        segment_pods = [np.array(running, dtype=object) for _, running in pod_segments]
        segment_sizes = np.array([len(running) for _, running in pod_segments], dtype=np.int64)
        now = world.now_ts()
        stamps: list[IntArray] = []
        batches: list[tuple[LogSource, LineDraws]] = []
        for source in self.sources.get(service, []):
            rng = np.random.default_rng(
                [world.scenario.seed & 0xFFFFFFFF, stable_hash(service), stable_hash(source.key), index + 10_000_000]
            )
            counts = rng.poisson(source.rate, CHUNK_SECONDS)
            total = int(counts.sum())
            fraction = rng.random(total)
            normal = rng.standard_normal(total)
            picks = rng.integers(0, 2**62, size=(total, 3))
            factor = np.ones(CHUNK_SECONDS)
            if source.fault_id is not None:
                timeline = timelines[source.fault_id]
                factor = np.where(timeline.active(seconds), timeline.severity(seconds) * source.weight, 0.0)
            # Thin each second's lines by the fault's strength without redrawing the randomness, so a
            # fix only removes lines. A worsened fault keeps its drawn lines (the cap), no more.
            keep_per_second = np.minimum(np.floor(counts * factor + 0.5).astype(np.int64), counts)
            position = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            second = np.repeat(np.arange(CHUNK_SECONDS), counts)
            ts = seconds[second] + fraction
            segment = np.maximum(np.searchsorted(segment_starts, ts, side="right") - 1, 0)
            running = segment_sizes[segment] if total else np.zeros(0, np.int64)
            keep = (
                (position < np.repeat(keep_per_second, counts))
                & (ts <= now)
                & (ts >= world.anchor - HISTORY_SECONDS)
                & (running > 0)
            )
            idx = np.flatnonzero(keep)
            if len(idx) == 0:
                continue
            pods = np.empty(len(idx), dtype=object)
            for s in np.unique(segment[idx]):
                in_segment = segment[idx] == s
                pods[in_segment] = segment_pods[s][picks[idx[in_segment], 0] % segment_sizes[s]]
            stamps.append(np.floor(ts[idx] * 1000).astype(np.int64) * 1_000_000 + picks[idx, 2] % 1_000_000)
            latency = np.exp(np.log(cond.latency_p50[second[idx]]) + sigma[second[idx]] * normal[idx]) * 1000
            batches.append((source, LineDraws(latency, fraction[idx], picks[idx, 1], pods.tolist())))
        if not stamps:
            return Chunk(np.zeros(0, dtype=np.int64), [], list)
        all_ts = np.concatenate(stamps)
        order = np.argsort(all_ts, kind="stable").tolist()
        pods_in_draw_order = [pod for _, draws in batches for pod in draws.pods]

        def render() -> list[str]:
            lines = [
                line
                for source, draws in batches
                for line in source.template.render(draws, service=service, origin=source.origin)
            ]
            return [lines[i] for i in order]

        return Chunk(all_ts[order], [pods_in_draw_order[i] for i in order], render)

    # -- queries
    def streams(self) -> list[tuple[str, dict[str, str]]]:
        """Every (service, labels) stream that has existed up to now."""
        out = []
        now = self.world.now_ts()
        for service in self.sources:
            spec = self.world.scenario.service(service)
            seen: set[str] = set()
            for started, running in self.world.pod_timeline(service):
                if started > now:
                    break
                for pod in running:
                    if pod not in seen:
                        seen.add(pod)
                        out.append((service, stream_labels(spec, pod)))
        return out

    def select(
        self, query: LogQuery, start_ns: int, end_ns: int, limit: int, direction: Literal["forward", "backward"]
    ) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
        """Lines of the matching streams in [start, end), at most ``limit``, grouped by stream."""
        wanted: dict[str, dict[str, dict[str, str]]] = {}
        for service, labels in self.streams():
            if all(m.matches(labels.get(m.name, "")) for m in query.matchers):
                wanted.setdefault(service, {})[labels["pod"]] = labels
        if not wanted or limit <= 0:
            return []
        first = math.floor((start_ns / NANOS - self.world.anchor) / CHUNK_SECONDS)
        last = math.floor(((end_ns - 1) / NANOS - self.world.anchor) / CHUNK_SECONDS)
        floor_chunk = math.floor(-HISTORY_SECONDS / CHUNK_SECONDS)
        ceiling_chunk = math.floor((self.world.now_ts() - self.world.anchor) / CHUNK_SECONDS)
        first, last = max(first, floor_chunk), min(last, ceiling_chunk)
        indices = range(first, last + 1) if direction == "forward" else range(last, first - 1, -1)
        found: list[tuple[int, str, str]] = []
        for index in indices:
            for service, pods in wanted.items():
                found.extend(self._matching_lines(self.chunk(service, index), query, pods, start_ns, end_ns))
            if len(found) >= limit:
                break
        found.sort(key=lambda item: item[0], reverse=direction == "backward")
        found = found[:limit]
        grouped: dict[str, list[tuple[int, str]]] = {}
        labels_of: dict[str, dict[str, str]] = {}
        for ts, pod, line in found:
            grouped.setdefault(pod, []).append((ts, line))
            labels_of[pod] = next(p[pod] for p in wanted.values() if pod in p)
        return [(labels_of[pod], entries) for pod, entries in sorted(grouped.items())]

    def _matching_lines(
        self, chunk: Chunk, query: LogQuery, pods: Mapping[str, object], start_ns: int, end_ns: int
    ) -> list[tuple[int, str, str]]:
        if len(chunk.ts_ns) == 0:
            return []
        lo = int(np.searchsorted(chunk.ts_ns, start_ns, side="left"))
        hi = int(np.searchsorted(chunk.ts_ns, end_ns, side="left"))
        if lo >= hi:
            return []
        lines = chunk.lines
        chosen = [i for i in range(lo, hi) if chunk.pods[i] in pods]
        for line_filter in query.filters:
            chosen = line_filter.select(lines, chosen)
        stamps = chunk.ts_ns
        return [(int(stamps[i]), chunk.pods[i], lines[i]) for i in chosen]

    def count_series(
        self, query: LogQuery, times: FloatArray, window: float
    ) -> list[tuple[dict[str, str], FloatArray]]:
        """Per stream, matching lines in (t - window, t] for each t (``count_over_time``)."""
        start_ns = int((float(times[0]) - window) * NANOS) + 1
        end_ns = int(float(times[-1]) * NANOS) + 1
        per_stream = self.select(query, start_ns, end_ns, limit=10**9, direction="forward")
        out = []
        for labels, entries in per_stream:
            stamps = np.array([ts for ts, _ in entries], dtype=np.int64)
            upper = np.searchsorted(stamps, (times * NANOS).astype(np.int64), side="right")
            lower = np.searchsorted(stamps, ((times - window) * NANOS).astype(np.int64), side="right")
            out.append((labels, (upper - lower).astype(np.float64)))
        return out


# ----------------------------------------------------------------------------------------- LogQL


@dataclass(frozen=True)
class LineFilter:
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def keeps(self, line: str) -> bool:
        return bool(self.select([line], [0]))

    def select(self, lines: list[str], indices: list[int]) -> list[int]:
        """The indices whose line passes this filter (one comprehension per operator: this is the hot loop)."""
        value = self.value
        if self.op == "|=":
            return [i for i in indices if value in lines[i]]
        if self.op == "!=":
            return [i for i in indices if value not in lines[i]]
        assert self.regex is not None
        search = self.regex.search
        if self.op == "|~":
            return [i for i in indices if search(lines[i]) is not None]
        return [i for i in indices if search(lines[i]) is None]


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    filters: tuple[LineFilter, ...] = ()

    def keeps(self, line: str) -> bool:
        return all(f.keeps(line) for f in self.filters)


@dataclass(frozen=True)
class MetricQuery:
    function: Literal["count_over_time", "rate"]
    query: LogQuery
    window: float
    aggregation: str | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False


_LOGQL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![A-Za-z0-9_])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|=|\|~|!=|!~|=~|=|\||[{}()\[\],])
    """,
    re.VERBOSE,
)
_AGGREGATIONS = {"sum", "count", "max", "min", "avg"}
_RANGE_FUNCTIONS = {"count_over_time", "rate"}


class _LogQLParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            match = _LOGQL_TOKEN.match(text, pos)
            if match is None:
                raise self.error(pos, f"unexpected character {text[pos]!r}")
            if match.lastgroup != "ws":
                self.tokens.append((match.lastgroup or "", match.group(), pos))
            pos = match.end()
        self.tokens.append(("eof", "", len(text)))
        self.index = 0

    def error(self, pos: int, message: str) -> LogQLError:
        return LogQLError(f"parse error at line 1, col {pos + 1}: syntax error: {message}")

    @property
    def current(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def take(self, kind: str, text: str | None = None, what: str = "") -> tuple[str, str, int]:
        token = self.current
        if token[0] != kind or (text is not None and token[1] != text):
            got = "end of input" if token[0] == "eof" else repr(token[1])
            raise self.error(token[2], f"unexpected {got}, expecting {what or text or kind}")
        self.index += 1
        return token

    def parse(self) -> LogQuery | MetricQuery:
        kind, text, pos = self.current
        result: LogQuery | MetricQuery
        if kind == "op" and text == "{":
            result = self.log_query()
        elif kind == "ident" and (text in _AGGREGATIONS or text in _RANGE_FUNCTIONS):
            result = self.metric_query()
        elif kind == "ident":
            raise self.error(
                pos,
                f"unexpected IDENTIFIER {text!r}: the simulator supports stream selectors, "
                "count_over_time, rate and sum/count/max/min/avg",
            )
        else:
            raise self.error(pos, f"unexpected {text!r}, expecting {{ or an aggregation")
        if self.current[0] != "eof":
            raise self.error(self.current[2], f"unexpected {self.current[1]!r}")
        return result

    def string(self) -> str:
        _, text, pos = self.take("string", what="STRING")
        if text.startswith("`"):
            return text[1:-1]
        try:
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        except UnicodeDecodeError as exc:
            raise self.error(pos, f"invalid string {text}") from exc

    def regex(self, pattern: str, pos: int) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.error(pos, f"invalid regex {pattern!r}: {exc}") from exc

    def log_query(self) -> LogQuery:
        self.take("op", "{")
        matchers: list[Matcher] = []
        while not (self.current[0] == "op" and self.current[1] == "}"):
            _, name, _ = self.take("ident", what="IDENTIFIER")
            _, text, _ = self.current
            op = MATCH_OPS.get(text)
            if op is None:
                raise self.error(self.current[2], f"unexpected {text!r}, expecting = or != or =~ or !~")
            self.index += 1
            pos = self.current[2]
            value = self.string()
            matchers.append(Matcher(name, op, value, self.regex(value, pos) if op in ("=~", "!~") else None))
            if self.current[1] == ",":
                self.index += 1
            elif self.current[1] != "}":
                raise self.error(
                    self.current[2], f"unexpected {self.current[1] or 'end of input'!r}, expecting , or }}"
                )
        self.take("op", "}")
        if not any(m.op in ("=", "=~") and not m.matches("") for m in matchers):
            raise LogQLError(
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value. "
                'For instance, app=~".*" does not meet this requirement, but app=~".+" will'
            )
        filters: list[LineFilter] = []
        while self.current[0] == "op" and self.current[1] in ("|=", "!=", "|~", "!~", "|"):
            _, filter_op, pos = self.current
            if filter_op == "|":
                stage = self.tokens[self.index + 1][1]
                raise self.error(
                    pos,
                    f"the pipeline stage '| {stage}' is not supported by the simulator; use line filters |= != |~ !~",
                )
            self.index += 1
            value_pos = self.current[2]
            value = self.string()
            regex = self.regex(value, value_pos) if filter_op in ("|~", "!~") else None
            filters.append(LineFilter(filter_op, value, regex))
        return LogQuery(tuple(matchers), tuple(filters))

    def grouping(self) -> tuple[tuple[str, ...], bool] | None:
        if self.current[0] == "ident" and self.current[1] in ("by", "without"):
            without = self.current[1] == "without"
            self.index += 1
            self.take("op", "(")
            labels: list[str] = []
            while self.current[1] != ")":
                labels.append(self.take("ident", what="IDENTIFIER")[1])
                if self.current[1] == ",":
                    self.index += 1
            self.take("op", ")")
            return tuple(labels), without
        return None

    def metric_query(self) -> MetricQuery:
        _, name, pos = self.take("ident")
        if name in _AGGREGATIONS:
            grouping = self.grouping()
            self.take("op", "(")
            inner = self.metric_query()
            self.take("op", ")")
            if grouping is None:
                grouping = self.grouping()
            if inner.aggregation is not None:
                raise self.error(pos, "nested aggregations are not supported by the simulator")
            labels, without = grouping or ((), False)
            return MetricQuery(inner.function, inner.query, inner.window, name, labels, without)
        if name not in _RANGE_FUNCTIONS:
            raise self.error(pos, f"unexpected {name!r}, expecting count_over_time or rate")
        self.take("op", "(")
        query = self.log_query()
        self.take("op", "[")
        _, duration, duration_pos = self.take("duration", what="DURATION")
        self.take("op", "]")
        self.take("op", ")")
        try:
            window = parse_duration(duration)
        except ValueError as exc:
            raise self.error(duration_pos, str(exc)) from exc
        return MetricQuery(name, query, window)  # type: ignore[arg-type]  # name is one of _RANGE_FUNCTIONS


def parse_logql(text: str) -> LogQuery | MetricQuery:
    """Parse a LogQL query of the supported subset; raises `LogQLError` with Loki's message shape."""
    if not text.strip():
        raise LogQLError("parse error at line 1, col 1: syntax error: unexpected end of input")
    return _LogQLParser(text).parse()


@dataclass
class MetricSeries:
    labels: dict[str, str]
    values: FloatArray = field(repr=False)


def evaluate_metric(store: LogStore, query: MetricQuery, times: FloatArray) -> list[MetricSeries]:
    """A metric query's value per stream (or per group) at each of ``times``."""
    series = [
        MetricSeries(labels, counts / query.window if query.function == "rate" else counts)
        for labels, counts in store.count_series(query.query, times, query.window)
    ]
    if query.aggregation is None:
        return series
    groups: dict[tuple[tuple[str, str], ...], list[FloatArray]] = {}
    for s in series:
        if query.without:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k not in query.grouping))
        else:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k in query.grouping))
        groups.setdefault(key, []).append(s.values)
    reducers: dict[str, Callable[[FloatArray], FloatArray]] = {
        "sum": lambda m: m.sum(axis=0),
        "count": lambda m: np.full(m.shape[1], float(m.shape[0])),
        "max": lambda m: m.max(axis=0),
        "min": lambda m: m.min(axis=0),
        "avg": lambda m: m.mean(axis=0),
    }
    assert query.aggregation is not None
    reduce = reducers[query.aggregation]
    return [MetricSeries(dict(key), reduce(np.vstack(rows))) for key, rows in sorted(groups.items())]
