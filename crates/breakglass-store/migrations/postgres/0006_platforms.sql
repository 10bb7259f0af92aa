-- Version 6: platforms, the tenants projects have on them, and service users for a tenant.
--
-- The same schema as migrations/sqlite/0006_platforms.sql. References follow version 2:
-- DEFERRABLE INITIALLY DEFERRED, so that one commit may create a tenant and the records it
-- refers to in any order.
--
-- A service user's secret is never stored: only its SHA-256 digest, as for tokens. Deleting a
-- service user sets `deleted_at` and keeps the row as history; the live set is
-- `deleted_at IS NULL`.

CREATE TABLE platforms (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at BIGINT NOT NULL
);

-- At most one tenant per project and platform; an external id names one tenant per platform.
CREATE TABLE tenants (
    workspace_id TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    platform_id  TEXT NOT NULL REFERENCES platforms (id) DEFERRABLE INITIALLY DEFERRED,
    external_id  TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, project_id, platform_id),
    UNIQUE (platform_id, external_id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE service_users (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    platform_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    client_id    TEXT NOT NULL UNIQUE,
    secret_hash  BYTEA NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_by   TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT,
    deleted_by   TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (workspace_id, project_id, platform_id)
        REFERENCES tenants (workspace_id, project_id, platform_id) DEFERRABLE INITIALLY DEFERRED,
    CHECK (deleted_by IS NULL OR deleted_at IS NOT NULL)
);

CREATE INDEX service_users_live ON service_users (workspace_id, project_id, platform_id)
    WHERE deleted_at IS NULL;
