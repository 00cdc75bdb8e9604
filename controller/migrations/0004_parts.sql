-- Announcements in several languages, the chime, and what each node played of each part.

-- An announcement's recordings, one per language. Position 0 is the main recording, which
-- announcements.media_sha256 still names.
CREATE TABLE announcement_recordings (
    announcement_id  INTEGER NOT NULL REFERENCES announcements(id),
    language         TEXT NOT NULL,
    media_sha256     TEXT NOT NULL REFERENCES media(sha256),
    position         INTEGER NOT NULL,
    PRIMARY KEY (announcement_id, language)
);
INSERT INTO announcement_recordings (announcement_id, language, media_sha256, position)
    SELECT id, 'vi', media_sha256, 0 FROM announcements;

-- The languages a zone hears, in order (JSON array of codes); NULL inherits from the parent,
-- and the commune's setting `languages` applies at the top.
ALTER TABLE zones ADD COLUMN languages TEXT;

-- Whether the node plays the commune's chime before announcements.
ALTER TABLE nodes ADD COLUMN chime INTEGER NOT NULL DEFAULT 1;

-- Per item: 1 with the chime, 0 without, NULL as each node says (scheduled airings).
ALTER TABLE occurrences ADD COLUMN chime INTEGER;
-- Per item volume, 0–100, on top of the node's; NULL is 100.
ALTER TABLE occurrences ADD COLUMN volume INTEGER;

-- The parts of a delivery as planned (chime, then each language), and when each played.
CREATE TABLE delivery_parts (
    occurrence_id  INTEGER NOT NULL REFERENCES occurrences(id),
    node_id        TEXT NOT NULL REFERENCES nodes(id),
    part           INTEGER NOT NULL,
    label          TEXT NOT NULL,
    played_at      TEXT,
    PRIMARY KEY (occurrence_id, node_id, part)
);
