-- CAP 1.2 alerts taken in (by POST or from the feed): each one as received and what was
-- decided, with why. An alert played names the broadcast made for it; an Update or Cancel
-- finds the broadcasts of the alerts it references here. The same sender and identifier are
-- taken once: a resent alert is kept as refused (a duplicate), and the index below keeps a
-- second taken copy out even when two arrive at once.
CREATE TABLE cap_alerts (
    id            INTEGER PRIMARY KEY,
    identifier    TEXT NOT NULL,
    sender        TEXT NOT NULL,
    sent          TEXT NOT NULL,
    msg_type      TEXT NOT NULL,
    status        TEXT NOT NULL,
    -- The read info block's expiry (RFC 3339), when it has one.
    expires       TEXT,
    decision      TEXT NOT NULL CHECK (decision IN ('played', 'cancelled', 'recorded', 'refused')),
    why           TEXT NOT NULL,
    occurrence_id INTEGER REFERENCES occurrences(id),
    -- Who sent it: `api:{username}` or `feed:{url}`.
    via           TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    xml           TEXT NOT NULL
);

CREATE UNIQUE INDEX cap_alerts_taken ON cap_alerts (sender, identifier)
    WHERE decision <> 'refused';
CREATE INDEX cap_alerts_received ON cap_alerts (received_at);
