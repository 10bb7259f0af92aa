-- Version 8: provisioning. A platform's configuration (settings, secret ones sealed; role
-- mapping; drift mode), a service user's role and login verifier, users' credentials on
-- platforms (a password verifier and its end, never the password), where each grant stands on
-- its platform, and the leases that let one replica at a time reconcile a platform.

ALTER TABLE platforms ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE service_users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE service_users ADD COLUMN verifier TEXT;

CREATE TABLE credentials (
    platform_id TEXT NOT NULL REFERENCES platforms (id) DEFERRABLE INITIALLY DEFERRED,
    user_id     TEXT NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    verifier    TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    PRIMARY KEY (platform_id, user_id)
) STRICT;

-- `subject` is `user:<uuid>` or `service:<uuid>`; `place` (account and group) and `state` are JSON.
CREATE TABLE provisions (
    platform_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    role         TEXT NOT NULL,
    place        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (json_valid(state)),
    PRIMARY KEY (platform_id, workspace_id, project_id, subject, role)
) STRICT;

-- Who reconciles what until when (microseconds since the epoch); taken over once it lapses.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
