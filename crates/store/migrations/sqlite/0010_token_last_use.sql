-- When each token last authenticated (SQLite). Mirrors migrations/postgres/0009_token_last_use.sql.

-- Written at most once a minute per token (the server throttles it), so authentication does
-- not write on every request; null until the token's first use after this migration.
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
