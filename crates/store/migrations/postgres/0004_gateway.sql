-- The runtime gateway (PostgreSQL). Mirrors migrations/sqlite/0004_gateway.sql.

-- The tenant's time zone (an IANA name): daily quotas and usage days follow its midnight.
ALTER TABLE tenants ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- Gateway calls per account and day (`YYYY-MM-DD` in the tenant's time zone). `calls` is
-- also the quota counter: a call reserves its unit here before it is sent. The last
-- success and error of live traffic are the account's live health.
CREATE TABLE gateway_usage (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id          TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day                 TEXT    NOT NULL,
    calls               BIGINT  NOT NULL,
    errors              BIGINT  NOT NULL,
    last_ok_at          TIMESTAMPTZ,
    last_error_at       TIMESTAMPTZ,
    last_error_category TEXT,
    last_error          TEXT,
    PRIMARY KEY (account_id, day)
);

CREATE INDEX gateway_usage_tenant ON gateway_usage (tenant_id);

-- Which chat_bot account is the suggestion engine of a service (`kind` = 'service') or
-- the chat bot of a launch point (`kind` = 'launch_point'). No cascade from accounts: a
-- bound account cannot be deleted (the store refuses it first, naming the bindings).
CREATE TABLE gateway_bindings (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind       TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (tenant_id, kind, name)
);

CREATE INDEX gateway_bindings_account ON gateway_bindings (account_id);

-- Watson Assistant v1 is stateless: the context of each conversation is kept here, in the
-- database so that every node continues the same conversation, until it expires.
CREATE TABLE gateway_contexts (
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    context         TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, conversation_id)
);

CREATE INDEX gateway_contexts_expiry ON gateway_contexts (account_id, expires_at);
