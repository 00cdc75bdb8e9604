-- Relays as announcements: "relay source S for D minutes" is content staff pick like a
-- recording, so schedules, broadcasts, programme files, approvals and reports take it as they
-- take any announcement. A relay announcement names its source and how long it lasts, and has
-- no recording, so `media_sha256` (the main recording) may now be empty. SQLite cannot drop a
-- NOT NULL in place, so the table is made again and its rows copied back, ids kept. With
-- foreign keys on (a migration runs in a transaction, where they cannot be switched off),
-- dropping it counts each occurrence, schedule and recording that refers to it as a
-- violation; deferred, those are settled when the same ids are inserted again, before the
-- commit checks.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE announcements_copy AS SELECT * FROM announcements;
DROP TABLE announcements;

CREATE TABLE announcements (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    -- The main recording; NULL for a relay.
    media_sha256  TEXT REFERENCES media(sha256),
    created_at    TEXT NOT NULL,
    category      TEXT,
    archived_at   TEXT,
    -- A relay: the source it relays and for how many seconds (both set, or neither).
    source_id     INTEGER REFERENCES sources(id),
    relay_secs    INTEGER,
    CHECK ((source_id IS NULL) = (relay_secs IS NULL)),
    CHECK ((source_id IS NULL) <> (media_sha256 IS NULL))
);

INSERT INTO announcements (id, title, media_sha256, created_at, category, archived_at)
    SELECT id, title, media_sha256, created_at, category, archived_at FROM announcements_copy;
DROP TABLE announcements_copy;

-- What a relay sent the villages, kept as evidence: when the hub stops a relay it keeps its
-- recording (in `media`) and links it to every airing of a relay of that source whose window
-- overlaps the recording's (a long window may have several recordings, when the station
-- was left and joined again).
CREATE TABLE occurrence_recordings (
    occurrence_id  INTEGER NOT NULL REFERENCES occurrences(id),
    media_sha256   TEXT NOT NULL REFERENCES media(sha256),
    -- When the recording began and ended (RFC 3339, UTC).
    started_at     TEXT NOT NULL,
    ended_at       TEXT NOT NULL,
    PRIMARY KEY (occurrence_id, media_sha256)
);
