-- Version 9: SSH certificates a platform's authority issued (the certificate itself went to its
-- holder only). `record` is the whole record as JSON (roles, principals, key id, fingerprint);
-- the columns beside it are what the server looks up by; `revoked_at` is set once, when the
-- holder lost a role it carries before its end (the JSON keeps its value at issue). Serials stay
-- below 2^63.

CREATE TABLE ssh_certificates (
    platform_id  TEXT NOT NULL,
    serial       INTEGER NOT NULL,
    user_id      TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    issued_at    INTEGER NOT NULL,
    valid_before INTEGER NOT NULL,
    revoked_at   INTEGER,
    record       TEXT NOT NULL CHECK (json_valid(record)),
    PRIMARY KEY (platform_id, serial)
) STRICT;

CREATE INDEX ssh_certificates_by_end ON ssh_certificates (valid_before);
