-- Why an export failed, by category (PostgreSQL). Mirrors migrations/sqlite/0009_export_error_category.sql.

-- The connection-test category of a failed export (`unreachable`, `invalid_credentials`,
-- ...), so the admin screen says what to check in plain words; NULL for failures without
-- one and for rows written before this migration.
ALTER TABLE recording_exports ADD COLUMN error_category TEXT;
