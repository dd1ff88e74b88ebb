-- Why a recording's export failed, as a kind the user can act on (SQLite). Mirrors
-- migrations/postgres/0009_export_failure_category.sql.

-- The failure category (patchbay_api::Category, snake_case) of a failed export: NULL for a
-- failure on this server's side, and for rows written before this migration.
ALTER TABLE recording_exports ADD COLUMN category TEXT;
