-- Live sessions (issue 14): a member of staff speaks to the villages from the browser. Each
-- session is carried as a relay of its own source (kind 'live': fed by the speaker's browser,
-- not pulled from a URL), so the villages receive it through the same hub, plans, priorities,
-- deliveries and recordings as a station's relay. The sources list shows stations only.
ALTER TABLE sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'station'
    CHECK (kind IN ('station', 'live'));

CREATE TABLE live_sessions (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL UNIQUE REFERENCES sources(id),
    occurrence_id INTEGER NOT NULL REFERENCES occurrences(id),
    -- The account that spoke.
    started_by    TEXT NOT NULL,
    -- RFC 3339, UTC.
    started_at    TEXT NOT NULL,
    -- When the villages go on air: the start, after the chime when one plays.
    on_air_at     TEXT NOT NULL,
    ended_at      TEXT,
    -- Why it ended: stopped by staff, the speaker's browser went away, the longest session.
    end_reason    TEXT
);
