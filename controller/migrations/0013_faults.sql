-- The history of each station's faults (offline, device error, plan refused, clock offset,
-- low disk, an emergency not played): one row per fault from when the controller first saw it
-- to when it saw it end. Written by the presence sweep, which computes the current faults from
-- the evidence already stored (the node's state and presence, refusals, deliveries) every few
-- seconds, opens a row for each new one and closes the rows of those gone.

CREATE TABLE fault_log (
    id        INTEGER PRIMARY KEY,
    node_id   TEXT NOT NULL REFERENCES nodes(id),
    -- emergency_not_played | offline | device_error | plan_refused | clock_offset | low_disk
    kind      TEXT NOT NULL,
    -- What the fault is about beyond its node: the emergency's occurrence id, else ''.
    subject   TEXT NOT NULL DEFAULT '',
    -- RFC 3339, UTC: when it began (by the evidence where there is some, else when first seen).
    began_at  TEXT NOT NULL,
    -- When the sweep first saw it gone; NULL while it lasts.
    ended_at  TEXT,
    -- The last description in plain words.
    detail    TEXT NOT NULL
);
-- At most one open row per fault.
CREATE UNIQUE INDEX fault_log_open ON fault_log(node_id, kind, subject) WHERE ended_at IS NULL;
CREATE INDEX fault_log_node ON fault_log(node_id, began_at);
