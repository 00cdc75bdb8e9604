-- Staff accounts, their sessions and API tokens, and the audit log.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    -- argon2id, PHC string.
    password_hash  TEXT NOT NULL,
    -- admin | operator | viewer
    role           TEXT NOT NULL,
    -- The language of the pages for this user: vi | en.
    language       TEXT NOT NULL DEFAULT 'vi',
    created_at     TEXT NOT NULL,
    disabled_at    TEXT
);

-- The zones an account is limited to (it sees and acts on them and what lies below); none:
-- the whole commune.
CREATE TABLE user_zones (
    user_id  INTEGER NOT NULL REFERENCES users(id),
    zone_id  INTEGER NOT NULL REFERENCES zones(id),
    PRIMARY KEY (user_id, zone_id)
);

-- A browser session: the cookie holds the token, the table its SHA-256.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    -- Sent back by the page with every change (header X-CSRF-Token or form field _csrf).
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ip          TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Tokens for scripts: `Authorization: Bearer loa_…`; the table keeps the SHA-256.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    last_used   TEXT,
    revoked_at  TEXT
);

-- Every change: who, what, when, from where.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   INTEGER,
    username  TEXT NOT NULL,
    -- e.g. "POST /api/v1/broadcasts"
    action    TEXT NOT NULL,
    -- The answer's status code.
    status    INTEGER NOT NULL,
    -- What was asked, passwords and tokens removed (JSON), or a note such as the upload's size.
    detail    TEXT,
    ip        TEXT
);
CREATE INDEX audit_at ON audit_log(at);
