-- Version 1: the model's tables and the append-only audit log.
--
-- Conventions: ids are UUIDs in hyphenated text form; workspace and project identifiers are
-- their slugs; times are INTEGER microseconds since the Unix epoch; digests are 32-byte BLOBs.
-- Tables are STRICT so that a value of the wrong type is refused on write instead of being
-- discovered as corrupt data at the next start-up.

CREATE TABLE users (
    id         TEXT PRIMARY KEY NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    admin_role TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Kept apart from users so that loading the model never reads a password hash.
CREATE TABLE passwords (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    hash    TEXT NOT NULL
) STRICT;

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE workspaces (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    project_quota INTEGER NOT NULL CHECK (project_quota >= 0),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE projects (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;

-- Ended bindings stay as history; the live set is `ended_at IS NULL`, including bindings past
-- their expiry that the sweeper has not recorded yet.
CREATE TABLE bindings (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    project_id   TEXT,
    role         TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    expires_at   INTEGER,
    source       TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id),
    reason       TEXT,
    ended_at     INTEGER,
    end_reason   TEXT,
    ended_by     TEXT REFERENCES users (id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT;

CREATE INDEX bindings_live ON bindings (workspace_id, project_id, user_id) WHERE ended_at IS NULL;

CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY CHECK (seq > 0),
    time         INTEGER NOT NULL,
    type         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    on_behalf_of TEXT,
    workspace    TEXT,
    project      TEXT,
    subject      TEXT,
    details      TEXT NOT NULL,
    prev_hash    BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash         BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE INDEX audit_events_by_target ON audit_events (workspace, project, seq);
CREATE INDEX audit_events_by_type ON audit_events (type, seq);
CREATE INDEX audit_events_by_time ON audit_events (time);

-- The log is append-only whatever the application does: a bug or a stray script cannot rewrite
-- history. Someone who drops these triggers still cannot do it unnoticed: the hash chain
-- exposes the edit to `breakglass audit verify`.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
