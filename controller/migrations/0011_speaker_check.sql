-- When staff last asked a loudspeaker for a speaker check (the station page's button); the
-- node's plan carries it, and the node answers in its state.
ALTER TABLE nodes ADD COLUMN speaker_check_requested_at TEXT;
