-- Issue 6: every node signs its events and states with its own key, made at provisioning.
-- The controller keeps the public half; a node provisioned before this has none and must get
-- new credentials (its reports are refused until then).
ALTER TABLE nodes ADD COLUMN public_key TEXT;
-- The stamp (session, serial) of the last state taken from the node: an older one, replayed,
-- is refused.
ALTER TABLE nodes ADD COLUMN state_session INTEGER;
ALTER TABLE nodes ADD COLUMN state_serial INTEGER;
-- When the last plan was issued: plans are valid for a while, and a fresh one goes out before.
ALTER TABLE nodes ADD COLUMN plan_issued_at TEXT;

-- Messages refused on a node's topics (bad or missing signature, replayed state, another
-- node's name) and plans the node itself refused: one row per node and kind, counted, so a
-- flood cannot fill the disk.
CREATE TABLE security_reports (
    node_id     TEXT NOT NULL REFERENCES nodes(id),
    kind        TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    count       INTEGER NOT NULL,
    last_detail TEXT NOT NULL,
    PRIMARY KEY (node_id, kind)
);
