-- When the controller last knew it was alive and in touch with its broker (one row). After a
-- stop or a crash, every node's presence turns `unknown` from this instant: nothing was
-- confirmed while the controller was not there to hear it, so reports count none of that
-- time as online.
CREATE TABLE controller_alive (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    -- RFC 3339, UTC.
    at  TEXT NOT NULL
);
