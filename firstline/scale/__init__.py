"""``firstline bench scale``: intake and investigation throughput on Postgres with 1..N workers,
against SQLite in one process (`firstline.scale.run`; one worker process: `.worker`)."""
