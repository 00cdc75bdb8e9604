-- The spine: zones, nodes, media, announcements, occurrences and their deliveries, events.
-- Times are RFC 3339 text in UTC.

CREATE TABLE zones (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES zones(id),
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX zones_name_per_parent ON zones(COALESCE(parent_id, 0), name);

CREATE TABLE nodes (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    zone_id             INTEGER NOT NULL REFERENCES zones(id),
    -- SHA-256 of the node's MQTT password and media token: both are random 256-bit secrets.
    mqtt_password_hash  TEXT NOT NULL,
    media_token_hash    TEXT NOT NULL UNIQUE,
    volume              INTEGER NOT NULL DEFAULT 80,
    -- The last plan version published; the next plan gets plan_version + 1.
    plan_version        INTEGER NOT NULL DEFAULT 0,
    -- Every event with seq <= acked_seq is stored.
    acked_seq           INTEGER NOT NULL DEFAULT 0,
    presence            TEXT NOT NULL DEFAULT 'unknown',
    last_seen           TEXT,
    state_json          TEXT,
    -- The last signed plan published, republished on every broker reconnect.
    plan_sealed         BLOB,
    created_at          TEXT NOT NULL,
    revoked_at          TEXT
);
CREATE INDEX nodes_zone ON nodes(zone_id);

CREATE TABLE media (
    sha256         TEXT PRIMARY KEY,
    size           INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    codec          TEXT NOT NULL,
    sample_rate    INTEGER NOT NULL,
    channels       INTEGER NOT NULL,
    original_name  TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE announcements (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    media_sha256  TEXT NOT NULL REFERENCES media(sha256),
    created_at    TEXT NOT NULL
);

-- One airing of an announcement at one instant. A broadcast ("play A on zones Z at T") is one
-- occurrence; recurring schedules will materialise many.
CREATE TABLE occurrences (
    id               INTEGER PRIMARY KEY,
    announcement_id  INTEGER NOT NULL REFERENCES announcements(id),
    priority         TEXT NOT NULL,
    start_at         TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    cancelled_at     TEXT,
    cancel_reason    TEXT
);

CREATE TABLE occurrence_zones (
    occurrence_id  INTEGER NOT NULL REFERENCES occurrences(id),
    zone_id        INTEGER NOT NULL REFERENCES zones(id),
    PRIMARY KEY (occurrence_id, zone_id)
);

-- One (occurrence, node) pair, with a timestamp for every step.
CREATE TABLE deliveries (
    occurrence_id   INTEGER NOT NULL REFERENCES occurrences(id),
    node_id         TEXT NOT NULL REFERENCES nodes(id),
    stage           TEXT NOT NULL,
    -- The node's event sequence number that set the stage (NULL while planned or cancelled).
    stage_seq       INTEGER,
    reason          TEXT,
    start_error_ms  INTEGER,
    planned_at      TEXT,
    received_at     TEXT,
    ready_at        TEXT,
    playing_at      TEXT,
    played_at       TEXT,
    failed_at       TEXT,
    missed_at       TEXT,
    preempted_at    TEXT,
    cancelled_at    TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (occurrence_id, node_id)
);
CREATE INDEX deliveries_node ON deliveries(node_id, stage);

-- Every event a node sent, once: (node, seq) dedups QoS 1 duplicates and resends.
CREATE TABLE events (
    node_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    stored_at  TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
);
