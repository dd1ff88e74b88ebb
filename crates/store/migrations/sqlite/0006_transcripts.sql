-- Transcripts of recordings (SQLite). Mirrors migrations/postgres/0006_transcripts.sql.

-- One transcript per recording: `running` while its audio streams through a Speech To Text
-- account, then `done` (the utterances, each with its sentiment when an NLU account gave
-- one) or `failed`. `utterances` is JSON owned by the server; `text` is their text joined,
-- for full-text search. `node` ran it; a `running` row whose `heartbeat_at` is old belongs
-- to a node that died and may be started again.
CREATE TABLE recording_transcripts (
    tenant_id            TEXT NOT NULL,
    recording_id         TEXT NOT NULL,
    state                TEXT NOT NULL,
    account_id           TEXT,
    sentiment_account_id TEXT,
    utterances           TEXT NOT NULL,
    text                 TEXT NOT NULL,
    error_category       TEXT,
    error                TEXT,
    sentiment_error      TEXT,
    requested_by         TEXT NOT NULL,
    node                 TEXT NOT NULL,
    started_at           TEXT NOT NULL,
    heartbeat_at         TEXT NOT NULL,
    finished_at          TEXT,
    PRIMARY KEY (tenant_id, recording_id),
    FOREIGN KEY (tenant_id, recording_id) REFERENCES recordings (tenant_id, id) ON DELETE CASCADE
);

-- Full-text search over transcripts, as over KB articles: an external-content FTS5 index
-- kept in step by triggers, `unicode61` without stemming.
CREATE VIRTUAL TABLE recording_transcripts_fts USING fts5 (
    text, content = 'recording_transcripts', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER recording_transcripts_ai AFTER INSERT ON recording_transcripts BEGIN
    INSERT INTO recording_transcripts_fts (rowid, text) VALUES (new.rowid, new.text);
END;

CREATE TRIGGER recording_transcripts_ad AFTER DELETE ON recording_transcripts BEGIN
    INSERT INTO recording_transcripts_fts (recording_transcripts_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;

CREATE TRIGGER recording_transcripts_au AFTER UPDATE ON recording_transcripts BEGIN
    INSERT INTO recording_transcripts_fts (recording_transcripts_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO recording_transcripts_fts (rowid, text) VALUES (new.rowid, new.text);
END;

-- Automatic transcription of a tenant's new recordings: on or off, for which services (a
-- JSON list, empty for all), with which Speech To Text account (none: the default one) and
-- Watson model.
CREATE TABLE recording_transcription (
    tenant_id  TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled    BOOLEAN NOT NULL,
    services   TEXT    NOT NULL,
    account_id TEXT,
    model      TEXT,
    updated_at TEXT    NOT NULL,
    updated_by TEXT    NOT NULL
);
