"""Where firstline keeps its state: an embedded SQLite file per store (the default, one process), or one
Postgres database shared by several workers (``storage.url: postgresql://...``).

- `storage.target`: `PostgresTarget`, the URL plus the environment variable holding the password, and
  the redaction every error about it goes through.
- `storage.sql`: the connection every store uses, whichever the engine (`connect`, `SqlConnection`).
- `storage.migrations`: the Postgres schema as versioned SQL files, applied at start (``firstline db``).
- `storage.locks`: advisory locks, so one worker at a time works an incident.

This package imports nothing of the project: every store may use it.
"""
