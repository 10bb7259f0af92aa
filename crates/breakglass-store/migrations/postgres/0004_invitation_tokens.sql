-- An invitation is accepted (and an invited sign-up allowed) only with its secret, which the
-- inviter passes on out of band: an e-mail address alone proves nothing, since nobody verified
-- it. Only the SHA-256 digest is kept. Invitations from before this version have none and can
-- no longer be accepted; invite again. (As migrations/sqlite/0004_invitation_tokens.sql.)
ALTER TABLE invitations ADD COLUMN token_hash BYTEA CHECK (token_hash IS NULL OR length(token_hash) = 32);
