"""Replay a recorded incident through the real wire formats (Prometheus, Loki, Tempo) on loopback.

`recording` reads a folder (docs/replay.md), `promql` and `logql` evaluate the query subsets the
catalog needs, `tempo` answers Tempo's search and trace-by-id, `server` serves them all with a
replay clock that pins "now" at the alert: nothing recorded after it is ever served.
"""
