-- Who wrote a schedule and who approved it (user names, as the audit log keeps them), and an
-- admin's reason for sending a draft back to its author.
ALTER TABLE schedules ADD COLUMN created_by TEXT;
ALTER TABLE schedules ADD COLUMN approved_by TEXT;
ALTER TABLE schedules ADD COLUMN returned_by TEXT;
ALTER TABLE schedules ADD COLUMN returned_reason TEXT;
ALTER TABLE schedules ADD COLUMN returned_at TEXT;

-- Announcements: a category staff choose (free text, e.g. "Thời tiết"), and an archive mark
-- that takes one out of the pickers without losing it or its history.
ALTER TABLE announcements ADD COLUMN category TEXT;
ALTER TABLE announcements ADD COLUMN archived_at TEXT;
