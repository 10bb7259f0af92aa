-- The record changes of every commit, keyed by the audit sequence the commit reached, so that a
-- replica follows the others' writes by applying them instead of reloading the whole model.
-- `base_seq` is the head the commit was decided on: a follower sees whether it holds every commit.
CREATE TABLE change_log (
    seq      INTEGER PRIMARY KEY NOT NULL,
    base_seq INTEGER NOT NULL,
    changes  TEXT NOT NULL CHECK (json_valid(changes))
) STRICT;
