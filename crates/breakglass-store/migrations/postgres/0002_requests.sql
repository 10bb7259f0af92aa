-- Version 2: access requests, the approval policies and entitlement settings that govern them,
-- the emergency reviews that follow emergency grants, and the request behind a binding.
--
-- The same schema as migrations/sqlite/0002_requests.sql. A policy is kept whole as JSON
-- (`body`), and so is the copy a request was opened under (`requests.policy`) with its
-- approvals: they are read and written only as a whole, and a request must keep its copy
-- whatever becomes of the policy since. JSON spans and times are integer microseconds, ids
-- UUID strings (the core's serde form).
--
-- References among records a single commit may create together (a request, the binding it
-- grants and the review that follows) are DEFERRABLE INITIALLY DEFERRED: they are checked when
-- the transaction commits, so the order of the changes within one commit does not matter.
-- (PostgreSQL wants a referenced table to exist first, so `requests` comes before the column
-- of `bindings` that refers to it.)

CREATE TABLE policies (
    id           TEXT PRIMARY KEY,
    -- NULL for an installation-wide policy.
    workspace_id TEXT REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    name         TEXT NOT NULL,
    -- The whole policy; `id`, `workspace_id` and `name` repeat it for queries.
    body         TEXT NOT NULL CHECK (body::json IS NOT NULL),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- The settings of one role on one workspace or project: at most one row per (workspace,
-- project or none, role), written with upserts on `entitlements_key`.
CREATE TABLE entitlements (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    project_id          TEXT,
    role                TEXT NOT NULL,
    -- NULL: the installation default policy.
    request_policy_id   TEXT REFERENCES policies (id) DEFERRABLE INITIALLY DEFERRED,
    emergency_enabled   BOOLEAN NOT NULL,
    emergency_policy_id TEXT REFERENCES policies (id) DEFERRABLE INITIALLY DEFERRED,
    updated_at          BIGINT NOT NULL,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE UNIQUE INDEX entitlements_key ON entitlements (workspace_id, (COALESCE(project_id, '')), role);

-- Every request ever made; terminal ones stay as history and are loaded too.
CREATE TABLE requests (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_by    TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    project_id    TEXT,
    role          TEXT NOT NULL,
    -- Microseconds; NULL only for an assignment without expiry.
    duration      BIGINT CHECK (duration >= 0),
    justification TEXT,
    emergency     BOOLEAN NOT NULL,
    -- The policy in force when the request opened (or was escalated), as JSON.
    policy        TEXT NOT NULL CHECK (policy::json IS NOT NULL),
    state         TEXT NOT NULL,
    -- JSON array of approvals, in order.
    approvals     TEXT NOT NULL CHECK (json_typeof(approvals::json) = 'array'),
    created_at    BIGINT NOT NULL,
    lapses_at     BIGINT NOT NULL,
    escalated_at  BIGINT,
    decided_at    BIGINT,
    decided_by    TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    deny_reason   TEXT,
    binding_id    TEXT REFERENCES bindings (id) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX requests_by_state ON requests (state, lapses_at);
CREATE INDEX requests_by_workspace ON requests (workspace_id, state);

CREATE TABLE reviews (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    binding_id   TEXT NOT NULL REFERENCES bindings (id) DEFERRABLE INITIALLY DEFERRED,
    holder       TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) DEFERRABLE INITIALLY DEFERRED,
    project_id   TEXT,
    role         TEXT NOT NULL,
    opened_at    BIGINT NOT NULL,
    -- NULL while open.
    outcome      TEXT,
    notes        TEXT,
    completed_by TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    completed_at BIGINT,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX reviews_by_request ON reviews (request_id);

-- NULL unless the binding came from a request (source 'request' or 'emergency').
ALTER TABLE bindings
    ADD COLUMN source_request_id TEXT REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT bindings_source_request
        CHECK ((source_request_id IS NOT NULL) = (source IN ('request', 'emergency')));
