-- Relay sources: a radio station's stream the controller may pull and pass on to the villages
-- (Icecast/Shoutcast over HTTP or HTTPS, MP3 or AAC). Registered by operators.
CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    url         TEXT NOT NULL,
    -- RFC 3339, UTC.
    created_at  TEXT NOT NULL
);
