-- The messenger edge (SQLite). Mirrors migrations/postgres/0007_edge.sql.

-- Each account whose provider takes inbound deliveries has one random hook id: the last
-- segment of its inbound webhook URL. Rotating replaces it.
CREATE TABLE edge_hooks (
    hook_id    TEXT NOT NULL PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);

CREATE INDEX edge_hooks_tenant ON edge_hooks (tenant_id);

-- Verified deliveries, written before the vendor gets its 200 and read into conversations
-- after (then deleted). A delivery still here after a crash is read at the next start.
CREATE TABLE edge_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider    TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    received_at TEXT    NOT NULL
);

-- What the inbound webhook of each account saw: accepted and rejected deliveries, the
-- last of each, and why the last rejected one was refused.
CREATE TABLE edge_health (
    account_id           TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id            TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    accepted             INTEGER NOT NULL,
    rejected             INTEGER NOT NULL,
    last_delivery_at     TEXT,
    last_rejected_at     TEXT,
    last_rejected_status INTEGER,
    last_rejected_reason TEXT
);

-- Per tenant: the next event sequence number (events are numbered in commit order: the
-- row is locked by each writer until it commits) and how long conversations are kept.
CREATE TABLE edge_tenants (
    tenant_id      TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    next_seq       INTEGER NOT NULL,
    retention_days INTEGER
);

-- A conversation per account and customer (the vendor's user or chat id).
CREATE TABLE conversations (
    id              TEXT NOT NULL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    peer            TEXT NOT NULL,
    -- Where replies are sent from, when the vendor needs it (Vonage: the number written to).
    reply_from      TEXT,
    display_name    TEXT,
    started_at      TEXT NOT NULL,
    last_message_at TEXT NOT NULL,
    UNIQUE (account_id, peer)
);

CREATE INDEX conversations_tenant ON conversations (tenant_id, last_message_at);

-- Messages in (`direction` = 'in', deduplicated by the vendor's id per account) and out
-- (deduplicated by the caller's Idempotency-Key per conversation).
CREATE TABLE conversation_messages (
    id              TEXT NOT NULL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction       TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    vendor_id       TEXT,
    text            TEXT,
    attachments     TEXT NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT,
    at              TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- Outbound only: who sent it, how often it was tried, when it is tried next (while
    -- pending), and until when a node holds it to send it.
    actor           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    due_at          TEXT,
    lease_until     TEXT,
    UNIQUE (account_id, direction, dedup_key)
);

CREATE INDEX conversation_messages_conversation ON conversation_messages (conversation_id, at);
CREATE INDEX conversation_messages_due ON conversation_messages (due_at) WHERE due_at IS NOT NULL;

-- Events for the contact center, numbered per tenant.
CREATE TABLE conversation_events (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    payload         TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id);

-- Where the contact center wants events POSTed (Standard Webhooks), each signed with its
-- own secret (sealed like account secrets: context tenant, subscription id,
-- `signing_secret`). Delivered in order: `delivered_seq` is the last event done; the
-- head event is tried until it succeeds or the subscription has failed for too long.
CREATE TABLE subscriptions (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    secret_key_id   INTEGER NOT NULL,
    secret_sealed   BLOB    NOT NULL,
    state           TEXT    NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT,
    failing_since   TEXT,
    last_error      TEXT,
    last_status     INTEGER,
    last_delivered_at TEXT,
    lease_until     TEXT,
    created_at      TEXT    NOT NULL,
    created_by      TEXT    NOT NULL
);

CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);
