-- Export runs are fenced (PostgreSQL). Mirrors migrations/sqlite/0003_export_fencing.sql.

-- The fencing epoch of a run attempt. Every write of a run's owner (progress, heartbeat,
-- per-recording export state, multipart upload ids, finish) names the run and the epoch it
-- started with, and matches no row once the run was interrupted or taken over (which bumps
-- the epoch); a resumed run starts with a higher epoch than any earlier run of its job.
ALTER TABLE recording_export_runs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 1;

-- Where an exported object is: the bucket (and the S3 endpoint and region) it was uploaded
-- to, so playback reads it from there after the account's bucket setting changes. NULL for
-- rows written before this migration: those are read through the job's account.
ALTER TABLE recording_exports ADD COLUMN bucket TEXT;
ALTER TABLE recording_exports ADD COLUMN endpoint TEXT;
ALTER TABLE recording_exports ADD COLUMN region TEXT;
