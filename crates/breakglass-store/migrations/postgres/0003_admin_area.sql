-- Version 3: the admin area. Tags on workspaces and projects, the installation settings,
-- invitations into workspaces, tag definitions, and messages to a workspace's users.
--
-- The same schema as migrations/sqlite/0003_admin_area.sql. A workspace may now be
-- `rejected`: `workspaces.status` has never had a CHECK (its values are the core's to parse).
--
-- Records kept whole as JSON (`settings.body`, `tag_definitions.body`) are the core's serde
-- form, read and written only as a whole; their columns beside the body repeat it for queries.
-- Tags are a JSON object of key to value text. References follow version 2: DEFERRABLE
-- INITIALLY DEFERRED, so that one commit may create a workspace and its invitation in any order.

ALTER TABLE workspaces ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'
    CHECK (json_typeof(tags::json) = 'object');

ALTER TABLE projects ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'
    CHECK (json_typeof(tags::json) = 'object');

-- At most one row: no row means the defaults (`Settings::default()` in the core).
CREATE TABLE settings (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    body       TEXT NOT NULL CHECK (json_typeof(body::json) = 'object'),
    -- The time of the commit's first audit event, else of the wall clock.
    updated_at BIGINT NOT NULL
);

-- Every invitation ever made; decided ones stay as history and are loaded too. One past its
-- `expires_at` keeps the state `pending`: expiry is a comparison, not a write.
CREATE TABLE invitations (
    id                    TEXT PRIMARY KEY,
    workspace_id          TEXT NOT NULL REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    -- Normalised (trimmed, lowercase); it may belong to nobody yet, so it references nothing.
    email                 TEXT NOT NULL,
    role                  TEXT NOT NULL CHECK (role IN ('member', 'manager', 'owner')),
    membership_expires_at BIGINT,
    invited_by            TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    state                 TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'cancelled')),
    decided_at            BIGINT
);

CREATE INDEX invitations_by_email ON invitations (email, state);
CREATE INDEX invitations_by_workspace ON invitations (workspace_id, state);

CREATE TABLE tag_definitions (
    key        TEXT PRIMARY KEY,
    -- The whole definition; `key` and `created_at` repeat it.
    body       TEXT NOT NULL CHECK (json_typeof(body::json) = 'object'),
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    text         TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('all_must_read', 'single_read')),
    sender       TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   BIGINT NOT NULL,
    -- JSON array of [user id, microseconds] pairs, in the order the users acknowledged.
    acks         TEXT NOT NULL CHECK (json_typeof(acks::json) = 'array')
);
