-- Transcripts of recordings (PostgreSQL). Mirrors migrations/sqlite/0006_transcripts.sql.

CREATE TABLE recording_transcripts (
    tenant_id            TEXT        NOT NULL,
    recording_id         TEXT        NOT NULL,
    state                TEXT        NOT NULL,
    account_id           TEXT,
    sentiment_account_id TEXT,
    utterances           TEXT        NOT NULL,
    text                 TEXT        NOT NULL,
    error_category       TEXT,
    error                TEXT,
    sentiment_error      TEXT,
    requested_by         TEXT        NOT NULL,
    node                 TEXT        NOT NULL,
    started_at           TIMESTAMPTZ NOT NULL,
    heartbeat_at         TIMESTAMPTZ NOT NULL,
    finished_at          TIMESTAMPTZ,
    -- `simple` folds case, no stemming, as SQLite's `unicode61` tokenizer does.
    search               TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
    CONSTRAINT recording_transcripts_pkey PRIMARY KEY (tenant_id, recording_id),
    CONSTRAINT recording_transcripts_recording FOREIGN KEY (tenant_id, recording_id)
        REFERENCES recordings (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX recording_transcripts_search ON recording_transcripts USING GIN (search);

CREATE TABLE recording_transcription (
    tenant_id  TEXT        NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled    BOOLEAN     NOT NULL,
    services   TEXT        NOT NULL,
    account_id TEXT,
    model      TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT        NOT NULL
);
