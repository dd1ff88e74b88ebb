-- Initial schema (PostgreSQL). Mirrors migrations/sqlite/0001_initial.sql column for column;
-- JSON is TEXT and uuids are hyphenated TEXT so both backends decode the same Rust types.
-- Columns the store sorts by use COLLATE "C" (byte order), which is SQLite's BINARY order,
-- so listings come back in the same order on both backends whatever the server locale.

CREATE TABLE tenants (
    id            TEXT COLLATE "C" NOT NULL,
    name          TEXT        NOT NULL,
    enabled_types TEXT        NOT NULL,
    version       BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id)
);

CREATE TABLE accounts (
    id            TEXT             NOT NULL,
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type_key      TEXT COLLATE "C" NOT NULL,
    provider      TEXT             NOT NULL,
    name          TEXT             NOT NULL,
    -- `name` lower-cased by the store (Rust `str::to_lowercase`), so both backends agree.
    name_key      TEXT COLLATE "C" NOT NULL,
    enabled       BOOLEAN          NOT NULL,
    properties    TEXT             NOT NULL,
    singleton_key TEXT,
    default_key   TEXT,
    version       BIGINT           NOT NULL,
    created_at    TIMESTAMPTZ      NOT NULL,
    created_by    TEXT             NOT NULL,
    updated_at    TIMESTAMPTZ      NOT NULL,
    updated_by    TEXT             NOT NULL,
    last_test     TEXT,
    CONSTRAINT accounts_pkey PRIMARY KEY (id)
);

-- The cardinality rules live here, not in check-then-insert code. NULL keys never collide.
-- The store maps a violation to its `Conflict` by these index names.
CREATE UNIQUE INDEX accounts_name_key ON accounts (tenant_id, name_key);
CREATE UNIQUE INDEX accounts_singleton_key ON accounts (tenant_id, singleton_key);
CREATE UNIQUE INDEX accounts_default_key ON accounts (tenant_id, default_key);
-- Serves the listing order (type, then name) and the tenant cascade.
CREATE INDEX accounts_list ON accounts (tenant_id, type_key, name_key);

CREATE TABLE account_secrets (
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    field      TEXT   NOT NULL,
    key_id     BIGINT NOT NULL,
    sealed     BYTEA  NOT NULL,
    CONSTRAINT account_secrets_pkey PRIMARY KEY (account_id, field)
);

-- Key rotation counts and re-seals values by key id.
CREATE INDEX account_secrets_key_id ON account_secrets (key_id);

-- No foreign key on tenant_id: the trail outlives the tenant.
CREATE TABLE audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id  TEXT        NOT NULL,
    account_id TEXT,
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    changes    TEXT        NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT audit_pkey PRIMARY KEY (id)
);

CREATE INDEX audit_tenant ON audit (tenant_id, id);
CREATE INDEX audit_account ON audit (tenant_id, account_id, id);

CREATE TABLE tokens (
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT        NOT NULL,
    role       TEXT        NOT NULL,
    tenant_id  TEXT COLLATE "C" REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_hash_key UNIQUE (hash)
);

CREATE INDEX tokens_tenant ON tokens (tenant_id);

CREATE TABLE meta (
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT meta_pkey PRIMARY KEY (key)
);
