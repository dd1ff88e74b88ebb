-- Initial schema (SQLite). Mirrors migrations/postgres/0001_initial.sql column for column;
-- timestamps are RFC 3339 TEXT, JSON is TEXT, uuids are hyphenated TEXT.

CREATE TABLE tenants (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    enabled_types TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE TABLE accounts (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type_key      TEXT    NOT NULL,
    provider      TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- `name` lower-cased by the store (Rust `str::to_lowercase`), so both backends agree.
    name_key      TEXT    NOT NULL,
    enabled       BOOLEAN NOT NULL,
    properties    TEXT    NOT NULL,
    singleton_key TEXT,
    default_key   TEXT,
    version       INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    updated_by    TEXT    NOT NULL,
    last_test     TEXT
);

-- The cardinality rules live here, not in check-then-insert code. NULL keys never collide.
CREATE UNIQUE INDEX accounts_name_key ON accounts (tenant_id, name_key);
CREATE UNIQUE INDEX accounts_singleton_key ON accounts (tenant_id, singleton_key);
CREATE UNIQUE INDEX accounts_default_key ON accounts (tenant_id, default_key);
-- Serves the listing order (type, then name) and the tenant cascade.
CREATE INDEX accounts_list ON accounts (tenant_id, type_key, name_key);

CREATE TABLE account_secrets (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    field      TEXT    NOT NULL,
    key_id     INTEGER NOT NULL,
    sealed     BLOB    NOT NULL,
    PRIMARY KEY (account_id, field)
);

-- Key rotation counts and re-seals values by key id.
CREATE INDEX account_secrets_key_id ON account_secrets (key_id);

-- No foreign key on tenant_id: the trail outlives the tenant.
CREATE TABLE audit (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT    NOT NULL,
    account_id TEXT,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    changes    TEXT    NOT NULL,
    at         TEXT    NOT NULL
);

CREATE INDEX audit_tenant ON audit (tenant_id, id);
CREATE INDEX audit_account ON audit (tenant_id, account_id, id);

CREATE TABLE tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    tenant_id  TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE INDEX tokens_tenant ON tokens (tenant_id);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
