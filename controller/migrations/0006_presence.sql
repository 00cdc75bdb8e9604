-- The history of each node's presence, for the online time in reports: one row each time the
-- presence changes (not for every state message), at the controller's receive time.

CREATE TABLE presence_log (
    id        INTEGER PRIMARY KEY,
    node_id   TEXT NOT NULL REFERENCES nodes(id),
    -- When the controller received the state that changed it (RFC 3339, UTC).
    at        TEXT NOT NULL,
    -- online | offline
    presence  TEXT NOT NULL
);
CREATE INDEX presence_log_node_at ON presence_log(node_id, at);

-- What is known before this migration: each node's current presence since its last message.
INSERT INTO presence_log (node_id, at, presence)
    SELECT id, last_seen, presence FROM nodes
    WHERE presence IN ('online', 'offline') AND last_seen IS NOT NULL;
