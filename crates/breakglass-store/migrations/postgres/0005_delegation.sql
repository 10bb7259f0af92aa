-- Delegation and scoped API tokens (issue 5). As migrations/sqlite/0005_delegation.sql.

-- A token may be confined to one workspace, be read-only, and belong to an access. Its last use
-- is bookkeeping written in batches outside the audit chain (it changes nobody's rights).
ALTER TABLE tokens
    ADD COLUMN scope TEXT,
    ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN access_id TEXT,
    ADD COLUMN last_used_at BIGINT;

-- The delegate who opened a request on its user's behalf counts as its requester too.
ALTER TABLE requests ADD COLUMN requested_via TEXT REFERENCES users (id);

-- An API token or a delegate access shared by its owner. Recipients (addresses, statuses and
-- digests of their acceptance codes) are a JSON array: they are few and always read together.
CREATE TABLE accesses (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('api_token', 'delegate')),
    scope       TEXT REFERENCES workspaces (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT,
    revoked_by  TEXT REFERENCES users (id),
    recipients  TEXT NOT NULL,
    token_id    TEXT,
    read_only   BOOLEAN NOT NULL DEFAULT false
);

CREATE INDEX accesses_owner ON accesses (owner_id);
