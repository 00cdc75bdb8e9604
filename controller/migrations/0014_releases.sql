-- Node releases sent over the air (docs/field.md, "Updating over the air"): each uploaded
-- build, signed by the release key, and the nodes each rollout names. The binary itself lives
-- under the data directory, in releases/{sha256}. What a node has done with a release is read
-- from the node's own state (its `software` and `update` fields), not stored twice here.

CREATE TABLE releases (
    id          INTEGER PRIMARY KEY,
    version     TEXT NOT NULL,
    -- amd64 | arm64 | armhf
    arch        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    -- Base64 Ed25519 signature of the release key over the manifest.
    signature   TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    UNIQUE (version, arch)
);

-- One row per node a rollout named; a later rollout of another release to the node wins
-- (the highest id).
CREATE TABLE release_targets (
    id            INTEGER PRIMARY KEY,
    release_id    INTEGER NOT NULL REFERENCES releases(id),
    node_id       TEXT NOT NULL REFERENCES nodes(id),
    allow_metered INTEGER NOT NULL DEFAULT 0,
    assigned_at   TEXT NOT NULL,
    UNIQUE (release_id, node_id)
);
CREATE INDEX release_targets_node ON release_targets(node_id, id);
