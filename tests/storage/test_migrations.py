from __future__ import annotations

import threading

import pytest

from storage.migrations import available, migrate, status
from storage.sql import connect_postgres
from storage.target import PostgresTarget, StorageError


def test_migrations_apply_once_and_report_status(postgres: PostgresTarget) -> None:
    conn = connect_postgres(postgres, migrate=False)
    before = status(conn)
    assert before.current == 0 and [m.version for m in before.pending] == [m.version for m in available()]
    applied = migrate(conn)
    assert [m.version for m in applied] == [m.version for m in available()]
    assert migrate(conn) == []
    after = status(conn)
    assert after.current == after.latest >= 1 and after.pending == []
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
    assert {"decisions", "executions", "inbox", "intake_runs", "votes", "audit", "incidents"} <= tables
    conn.close()


def test_workers_starting_together_migrate_once(postgres: PostgresTarget) -> None:
    applied: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            conn = connect_postgres(postgres, migrate=False)
            applied.extend(m.version for m in migrate(conn))
            conn.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(applied) == [m.version for m in available()]


def test_a_wrong_password_is_refused_without_showing_it(
    postgres: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert postgres.password_env is not None
    monkeypatch.setenv(postgres.password_env, "not-the-password-42")
    with pytest.raises(StorageError) as caught:
        connect_postgres(postgres)
    assert "not-the-password-42" not in str(caught.value) and caught.value.__cause__ is None
    assert "cannot connect to postgresql://firstline@" in str(caught.value)


def test_an_unset_password_variable_is_named(postgres: PostgresTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    assert postgres.password_env is not None
    monkeypatch.delenv(postgres.password_env)
    with pytest.raises(StorageError, match=postgres.password_env):
        connect_postgres(postgres)


def test_a_password_in_the_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as caught:
        PostgresTarget(url="postgresql://firstline:hunter2hunter2@db/firstline")
    assert "hunter2" not in str(caught.value)


async def test_a_periodic_job_runs_on_one_worker_at_a_time(postgres: PostgresTarget) -> None:
    from storage.locks import PostgresIncidentLocks

    one, two = PostgresIncidentLocks(postgres), PostgresIncidentLocks(postgres)
    async with one.try_hold("job") as first:
        async with two.try_hold("job") as second:
            assert (first, second) == (True, False)
    async with two.try_hold("job") as again:
        assert again  # released with the first worker's connection
