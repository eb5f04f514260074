-- firstline's Postgres schema, version 1: every store of one deployment in one database.
-- The tables mirror the SQLite stores column for column (timestamps stay ISO-8601 text or epoch
-- seconds, as there), so the stores run the same statements on both engines.

-- The action ledger (tools/ledger.py). The primary key of `executions` is the exactly-once claim.
CREATE TABLE decisions (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    tool        TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    decided_by  TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    args_json   TEXT,
    PRIMARY KEY (incident_id, action_id)
);
CREATE TABLE executions (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    tool        TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    state       TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    result_json TEXT,
    PRIMARY KEY (incident_id, action_id)
);

-- The intake inbox, dead letters, correlated incidents and their runs (intake/).
CREATE TABLE inbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT NOT NULL,
    received_at  DOUBLE PRECISION NOT NULL,
    headers      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    processed_at DOUBLE PRECISION,
    note         TEXT NOT NULL DEFAULT '',
    -- The order in which the workers correlated the items: a worker catching up replays in this order.
    processed_seq BIGINT
);
CREATE INDEX inbox_by_state ON inbox (state, id);
CREATE INDEX inbox_by_time ON inbox (received_at);
CREATE UNIQUE INDEX inbox_by_processed_seq ON inbox (processed_seq);
CREATE SEQUENCE inbox_processed_seq;

CREATE TABLE dead_letters (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    stage       TEXT NOT NULL,
    status      INTEGER NOT NULL,
    field       TEXT NOT NULL,
    error       TEXT NOT NULL,
    body        BYTEA NOT NULL,
    body_size   INTEGER NOT NULL,
    truncated   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE intake_incidents (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    environment TEXT NOT NULL,
    services    TEXT NOT NULL,
    title       TEXT NOT NULL,
    alerts      INTEGER NOT NULL,
    opened_at   TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX intake_incidents_by_time ON intake_incidents (updated_at);

-- One row per investigation; (incident, revision) is requested once whichever worker decides it.
-- `owner` and `lease_until` say which worker runs it; an expired lease is taken over.
CREATE TABLE intake_runs (
    incident_id  TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    workflow_id  TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    state        TEXT NOT NULL,
    requested_at DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    alert        TEXT NOT NULL,
    owner        TEXT,
    lease_until  DOUBLE PRECISION,
    attempts     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, revision)
);
CREATE INDEX intake_runs_unfinished ON intake_runs (state, lease_until);

-- The incident index the CLI lists (agents/runner.py IncidentIndex).
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    status      TEXT,
    severity    TEXT,
    service     TEXT,
    summary     TEXT,
    updated_at  TEXT,
    record_json TEXT
);

-- Approvals: users, tokens, sessions, votes, audit, Slack (approvals/).
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    groups_json   TEXT NOT NULL DEFAULT '[]',
    handles_json  TEXT NOT NULL DEFAULT '[]',
    slack_id      TEXT UNIQUE,
    created_at    TEXT NOT NULL
);
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name),
    secret_hash TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    last_used   TEXT
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE votes (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    decision    TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    args_json   TEXT NOT NULL,
    edited      INTEGER NOT NULL DEFAULT 0,
    channel     TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    PRIMARY KEY (incident_id, action_id, user_name, args_hash)
);
CREATE TABLE audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    detail_json TEXT NOT NULL
);
CREATE INDEX audit_by_incident ON audit (incident_id, seq);
CREATE TABLE slack_messages (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    PRIMARY KEY (incident_id, action_id)
);
CREATE TABLE slack_seen (
    signature TEXT PRIMARY KEY,
    at        DOUBLE PRECISION NOT NULL
);
