"""Users, tokens and sessions: hashes only, constant-time checks, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from approvals.db import open_approvals_db
from approvals.identity import IdentityError, UserStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    return UserStore(open_approvals_db(tmp_path / "approvals.sqlite"))


def test_a_password_is_stored_as_an_argon2_hash_and_checked(users: UserStore, tmp_path: Path) -> None:
    users.add_user("alice", password="correct horse", at=T0, groups=["sre"])
    stored = users.conn.execute("SELECT password_hash FROM users WHERE name='alice'").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in (tmp_path / "approvals.sqlite").read_bytes().decode("latin-1")
    assert users.check_password("alice", "correct horse") is not None
    assert users.check_password("alice", "wrong horse!") is None
    assert users.check_password("nobody", "correct horse") is None


def test_names_and_passwords_are_checked(users: UserStore) -> None:
    with pytest.raises(IdentityError, match="user name"):
        users.add_user("Alice Smith", password="long enough", at=T0)
    with pytest.raises(IdentityError, match="too short"):
        users.add_user("alice", password="short", at=T0)
    users.add_user("alice", password=None, at=T0)
    with pytest.raises(IdentityError, match="exists already"):
        users.add_user("alice", password=None, at=T0)


def test_a_token_is_shown_once_stored_hashed_and_can_be_revoked(users: UserStore) -> None:
    users.add_user("alice", password=None, at=T0)
    token = users.create_token("alice", at=T0, label="laptop")
    user = users.user_for_token(token, at=T0)
    assert user is not None and user.name == "alice"
    secret = token.split("_", 2)[2]
    assert all(secret not in str(row) for row in users.conn.execute("SELECT * FROM tokens"))
    assert users.user_for_token(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    assert users.user_for_token("not a token") is None
    [listed] = users.tokens("alice")
    assert users.revoke_token(str(listed["id"]))
    assert users.user_for_token(token) is None


def test_a_session_expires_and_keeps_only_the_hash_of_its_id(users: UserStore) -> None:
    alice = users.add_user("alice", password=None, at=T0)
    session_id, session = users.open_session(alice, at=T0, hours=1)
    assert users.session(session_id, at=T0 + timedelta(minutes=59)) is not None
    assert users.session(session_id, at=T0 + timedelta(minutes=61)) is None
    assert all(session_id not in str(row) for row in users.conn.execute("SELECT * FROM sessions"))
    assert session.csrf and session.csrf != session_id
