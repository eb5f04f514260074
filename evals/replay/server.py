"""One loopback HTTP server answering Prometheus, Loki and Tempo over a `Recording`, frozen at "now".

The replay clock: the recording is cut at ``now`` when it is loaded (`recording.load`), and every
request is clamped to it as well: an instant query asked for a later time is evaluated at ``now``, a
range ends at ``now``, a log window ends at ``now``. Paths do not collide, so one base URL serves all
three adapters.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from evals.replay import logql, promql, tempo
from evals.replay.recording import Labels, Recording, SeriesData, parse_time

WIRE_PRECISION_S = 0.0005
MAX_POINTS = 11_000
SERVICE_GRAPH_METRIC = "traces_service_graph_request_total"  # Tempo's metrics generator names it so


class Answer(Exception):
    """An HTTP answer other than 200 (raised by a route, written by the handler)."""

    def __init__(self, status: int, body: dict[str, Any] | str) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


class Replay:
    """The request logic, free of HTTP: a route takes the path's tail and the parameters."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.now = recording.now_unix
        self.series = recording.series + _topology_series(recording)
        self.traces = tempo.index(recording.spans)
        self.requests: list[tuple[str, dict[str, str]]] = []

    def route(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, params))
        handlers: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
            "/api/v1/query": self.prom_query,
            "/api/v1/query_range": self.prom_query_range,
            "/api/v1/status/buildinfo": lambda _: _ok({"version": "firstline-replay"}),
            "/loki/api/v1/query_range": self.loki_query_range,
            "/loki/api/v1/labels": self.loki_labels,
            "/api/search": self.tempo_search,
            "/api/echo": lambda _: {"echo": "echo"},
        }
        if path in handlers:
            return 200, handlers[path](params)
        if path.startswith("/api/v1/label/") and path.endswith("/values"):
            return 200, self.prom_label_values(unquote(path[len("/api/v1/label/") : -len("/values")]))
        if path.startswith("/api/traces/") or path.startswith("/api/v2/traces/"):
            found = tempo.trace_by_id(self.traces, path.rsplit("/", 1)[-1])
            if found is None:
                raise Answer(404, "trace not found")
            return 200, found
        raise Answer(404, "404 page not found")

    # Prometheus ----------------------------------------------------------------------------------

    def _clamp(self, text: str | None) -> float:
        return self.now if not text else min(_time(text), self.now)

    def prom_query(self, params: dict[str, str]) -> dict[str, Any]:
        node = _promql(params.get("query", ""))
        at = self._clamp(params.get("time"))
        samples = _eval(node, self.series, at)
        if promql.is_scalar(node):
            return _ok({"resultType": "scalar", "result": [at, _fmt(samples[0][1])]})
        return _ok(
            {
                "resultType": "vector",
                "result": [{"metric": dict(labels), "value": [at, _fmt(v)]} for labels, v in samples],
            }
        )

    def prom_query_range(self, params: dict[str, str]) -> dict[str, Any]:
        node = _promql(params.get("query", ""))
        try:
            start, end, step = _time(params["start"]), self._clamp(params["end"]), float(params["step"])
        except (KeyError, ValueError) as exc:
            raise Answer(400, _bad(f"invalid parameter: {exc}")) from None
        if step <= 0:
            raise Answer(400, _bad("zero or negative query resolution step widths are not accepted"))
        if end >= start and (end - start) / step > MAX_POINTS:
            raise Answer(400, _bad("exceeded maximum resolution of 11,000 points per timeseries"))
        matrix: dict[Labels, list[list[Any]]] = {}
        at = start
        # The wire carries milliseconds: a step within half of one past the clock is the clock's own
        # instant (a start rounded up must not lose the newest step), evaluated at the clock.
        while at <= end + WIRE_PRECISION_S:
            for labels, value in _eval(node, self.series, min(at, self.now)):
                matrix.setdefault(labels, []).append([round(at, 3), _fmt(value)])
            at += step
        result = [{"metric": dict(labels), "values": values} for labels, values in matrix.items()]
        return _ok({"resultType": "matrix", "result": result})

    def prom_label_values(self, label: str) -> dict[str, Any]:
        return _ok(sorted({dict(s.labels)[label] for s in self.series if label in dict(s.labels)}))

    # Loki ----------------------------------------------------------------------------------------

    def loki_query_range(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            query = logql.parse_log_query(params.get("query", ""))
        except logql.LogQLError as exc:
            raise Answer(400, str(exc)) from None
        now_ns = int(round(self.now * 1e9)) + 1  # end is exclusive: a line stamped exactly "now" is served
        end_ns = min(_nanos(params["end"]), now_ns) if params.get("end") else now_ns
        start_ns = _nanos(params["start"]) if params.get("start") else end_ns - 3_600 * 10**9
        limit = int(params.get("limit") or 100)
        forward = params.get("direction", "backward") == "forward"
        lines = logql.select(self.recording.logs, query, start_ns, end_ns, limit, forward)
        streams: dict[Labels, list[list[str]]] = {}
        for line in lines:
            streams.setdefault(line.labels, []).append([str(line.unix_nano), line.line])
        result = [{"stream": dict(labels), "values": values} for labels, values in streams.items()]
        return _ok({"resultType": "streams", "result": result, "stats": {}})

    def loki_labels(self, _: dict[str, str]) -> dict[str, Any]:
        return _ok(sorted({k for line in self.recording.logs for k, _v in line.labels}))

    # Tempo ---------------------------------------------------------------------------------------

    def tempo_search(self, params: dict[str, str]) -> dict[str, Any]:
        bounded = dict(params)
        bounded["end"] = str(self._clamp(params.get("end")))
        try:
            return tempo.search(self.traces, bounded)
        except (tempo.TempoQueryError, ValueError) as exc:
            raise Answer(400, str(exc)) from None


class ReplayServer:
    """``with ReplayServer(recording) as server:`` serves on ``server.url`` (127.0.0.1, a free port)."""

    def __init__(self, recording: Recording) -> None:
        self.replay = Replay(recording)
        replay = self.replay

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                self._answer(parts.path, dict(parse_qsl(parts.query)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                parts = urlsplit(self.path)
                self._answer(parts.path, {**dict(parse_qsl(parts.query)), **dict(parse_qsl(body))})

            def _answer(self, path: str, params: dict[str, str]) -> None:
                try:
                    status, body = replay.route(path, params)
                except Answer as answer:
                    status, body = answer.status, answer.body  # type: ignore[assignment]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll: `shutdown` waits for the loop to notice, and a benchmark opens one server per window.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _topology_series(recording: Recording) -> list[SeriesData]:
    """Each call edge as Tempo's service-graph counter, present at every minute of the recording."""
    if not recording.edges:
        return []
    times = [t for s in recording.series for t in s.times[:1]] + [s.start_unix_nano / 1e9 for s in recording.spans[:1]]
    first = min(times, default=recording.now_unix - 3_600)
    minutes = [recording.now_unix - 60 * k for k in range(int((recording.now_unix - first) // 60) + 1)][::-1]
    return [
        SeriesData(
            labels=(("__name__", SERVICE_GRAPH_METRIC), ("client", source), ("server", target)),
            times=minutes,
            values=[1.0] * len(minutes),
        )
        for source, target in sorted(set(recording.edges))
    ]


def _promql(text: str) -> promql.Node:
    try:
        return promql.parse(text)
    except promql.PromQLError as exc:
        raise Answer(400, _bad(f"1:1: parse error: {exc}")) from None


def _eval(node: promql.Node, series: list[SeriesData], at: float) -> list[promql.Sample]:
    try:
        return promql.evaluate(node, series, at)
    except promql.PromQLError as exc:
        raise Answer(400, _bad(str(exc))) from None


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError:
        raise Answer(400, _bad(f"cannot parse {text!r} to a valid timestamp")) from None


def _nanos(text: str) -> int:
    value = float(text) if text.replace(".", "").isdigit() else _time(text)
    return int(value) if value > 1e14 else int(round(value * 1e9))  # Loki takes ns epochs or seconds


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _bad(message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": "bad_data", "error": message}
