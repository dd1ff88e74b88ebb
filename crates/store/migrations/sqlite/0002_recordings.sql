-- Recordings and their export to S3 (SQLite). Mirrors migrations/postgres/0002_recordings.sql.

-- One row per recording received. `seq` orders arrival: an export run takes the recordings
-- up to the highest seq it saw at its start. The audio file itself lives in the data dir.
CREATE TABLE recordings (
    seq                   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant_id             TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                    TEXT    NOT NULL,
    global_interaction_id TEXT    NOT NULL,
    call_started_at       TEXT    NOT NULL,
    agent_login           TEXT    NOT NULL,
    agent_first_name      TEXT    NOT NULL,
    agent_last_name       TEXT    NOT NULL,
    customer_phone        TEXT    NOT NULL,
    direction             TEXT    NOT NULL,
    service               TEXT    NOT NULL,
    disposition           TEXT    NOT NULL,
    flagged               BOOLEAN NOT NULL,
    -- `none` (metadata only), `local` (audio in the data dir), `removed` (exported, local copy gone).
    audio_state           TEXT    NOT NULL,
    audio_size            INTEGER,
    audio_sha256          TEXT,
    content_type          TEXT,
    extension             TEXT,
    received_at           TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL
);

CREATE UNIQUE INDEX recordings_id ON recordings (tenant_id, id);
CREATE INDEX recordings_started ON recordings (tenant_id, call_started_at);
CREATE INDEX recordings_service ON recordings (tenant_id, service, seq);
CREATE INDEX recordings_agent ON recordings (tenant_id, agent_login, call_started_at);
CREATE INDEX recordings_phone ON recordings (tenant_id, customer_phone, call_started_at);

-- Export jobs. The job's settings are JSON owned by the server; the account it uploads
-- with is a column so an account in use can be found.
CREATE TABLE recording_export_jobs (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL,
    settings    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    next_run_at TEXT,
    created_at  TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    updated_by  TEXT    NOT NULL
);

CREATE UNIQUE INDEX recording_export_jobs_name_key ON recording_export_jobs (tenant_id, name_key);
CREATE INDEX recording_export_jobs_account ON recording_export_jobs (tenant_id, account_id);

-- Runs of a job. At most one runs at a time per job (partial unique index); `node` and
-- `heartbeat_at` let a restarted or surviving node take over a run whose node died.
CREATE TABLE recording_export_runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    job_id       TEXT    NOT NULL REFERENCES recording_export_jobs (id) ON DELETE CASCADE,
    tenant_id    TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    -- The interrupted run this one continues: its exports belong in this run's metadata file.
    resumed_from TEXT,
    state        TEXT    NOT NULL,
    node         TEXT    NOT NULL,
    upto_seq     INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    exported     INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    metadata_key TEXT,
    error        TEXT,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL,
    finished_at  TEXT
);

CREATE UNIQUE INDEX recording_export_runs_running ON recording_export_runs (job_id) WHERE state = 'running';
CREATE INDEX recording_export_runs_job ON recording_export_runs (job_id, started_at);

-- Where each recording stands with each job: `uploading` (started, maybe with a multipart
-- upload id to resume), `success` (verified in the bucket) or `failed` (retried next run).
-- No foreign key to the job: a finished export still locates the audio after its job is gone.
CREATE TABLE recording_exports (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    recording_id TEXT    NOT NULL,
    job_id       TEXT    NOT NULL,
    account_id   TEXT    NOT NULL,
    object_key   TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    upload_id    TEXT,
    etag         TEXT,
    error        TEXT,
    attempts     INTEGER NOT NULL,
    run_id       TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, recording_id, job_id)
);

CREATE INDEX recording_exports_job ON recording_exports (job_id, state);
CREATE INDEX recording_exports_run ON recording_exports (run_id);
