-- Version 1: the model's tables and the append-only audit log.
--
-- The same schema as migrations/sqlite/0001_init.sql, in PostgreSQL's types. Conventions: ids
-- are UUIDs in hyphenated text form; workspace and project identifiers are their slugs; times
-- are BIGINT microseconds since the Unix epoch; digests are 32-byte BYTEA. Values the store
-- keeps whole as JSON are TEXT with a CHECK that they parse, so what was written is what is
-- read back, byte for byte.

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    admin_role TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Kept apart from users so that loading the model never reads a password hash.
CREATE TABLE passwords (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    hash    TEXT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE workspaces (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    project_quota BIGINT NOT NULL CHECK (project_quota >= 0),
    created_at    BIGINT NOT NULL
);

CREATE TABLE projects (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- Ended bindings stay as history; the live set is `ended_at IS NULL`, including bindings past
-- their expiry that the sweeper has not recorded yet.
CREATE TABLE bindings (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    project_id   TEXT,
    role         TEXT NOT NULL,
    starts_at    BIGINT NOT NULL,
    expires_at   BIGINT,
    source       TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id),
    reason       TEXT,
    ended_at     BIGINT,
    end_reason   TEXT,
    ended_by     TEXT REFERENCES users (id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

CREATE INDEX bindings_live ON bindings (workspace_id, project_id, user_id) WHERE ended_at IS NULL;

CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY CHECK (seq > 0),
    time         BIGINT NOT NULL,
    type         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    on_behalf_of TEXT,
    workspace    TEXT,
    project      TEXT,
    subject      TEXT,
    details      TEXT NOT NULL,
    prev_hash    BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    hash         BYTEA NOT NULL CHECK (length(hash) = 32)
);

CREATE INDEX audit_events_by_target ON audit_events (workspace, project, seq);
CREATE INDEX audit_events_by_type ON audit_events (type, seq);
CREATE INDEX audit_events_by_time ON audit_events (time);

-- The log is append-only whatever the application does: a bug or a stray script cannot rewrite
-- history. Every UPDATE, DELETE or TRUNCATE statement on it fails, even one that would touch
-- no row, and the triggers fire ALWAYS, so `session_replication_role = replica` does not skip
-- them either. Someone who drops them still cannot edit the log unnoticed: the hash chain
-- exposes the edit to `breakglass audit verify`.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_update;
ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_delete;
ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_truncate;
