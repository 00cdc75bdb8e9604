-- EBU R128 integrated loudness of each recording (LUFS), measured at upload; NULL when the
-- audio is too short or too quiet to measure.
ALTER TABLE media ADD COLUMN loudness_lufs REAL;
