-- Schedules: standing programmes and one-off schedules, materialised into occurrences.

CREATE TABLE schedules (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL,
    announcement_id     INTEGER NOT NULL REFERENCES announcements(id),
    priority            TEXT NOT NULL,
    -- The time rule, repeats and validity window (JSON of schedule::rule::Recurrence).
    recurrence          TEXT NOT NULL,
    expires_in_minutes  INTEGER NOT NULL,
    -- draft (awaiting approval) | active | paused | cancelled
    status              TEXT NOT NULL,
    -- api | file
    source              TEXT NOT NULL,
    source_file         TEXT,
    source_line         INTEGER,
    -- Bumped by every edit, pause and resume: occurrences are unique per revision and instant.
    revision            INTEGER NOT NULL DEFAULT 1,
    -- Every firing before this instant has its occurrence (NULL: none materialised yet).
    materialized_until  TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    approved_at         TEXT
);
CREATE UNIQUE INDEX schedules_from_file ON schedules(source_file, name) WHERE source = 'file';

CREATE TABLE schedule_zones (
    schedule_id  INTEGER NOT NULL REFERENCES schedules(id),
    zone_id      INTEGER NOT NULL REFERENCES zones(id),
    PRIMARY KEY (schedule_id, zone_id)
);

ALTER TABLE occurrences ADD COLUMN schedule_id INTEGER REFERENCES schedules(id);
ALTER TABLE occurrences ADD COLUMN schedule_revision INTEGER;
-- Materialising twice (a restart, a crash half-way) can never make a second occurrence.
CREATE UNIQUE INDEX occurrences_once ON occurrences(schedule_id, schedule_revision, start_at)
    WHERE schedule_id IS NOT NULL;
CREATE INDEX occurrences_start ON occurrences(start_at);

-- Quiet hours per zone, local "HH:MM"; inherited by the zones below.
ALTER TABLE zones ADD COLUMN quiet_start TEXT;
ALTER TABLE zones ADD COLUMN quiet_end TEXT;

-- Commune settings (key → JSON value).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
