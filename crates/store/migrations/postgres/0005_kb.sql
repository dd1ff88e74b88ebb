-- The native knowledge base (PostgreSQL). Mirrors migrations/sqlite/0005_kb.sql.

CREATE TABLE kb_articles (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT        NOT NULL,
    title      TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    url        TEXT,
    version    BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT        NOT NULL,
    -- Titles weigh more than bodies. `simple` folds case, no stemming (the tenant's language
    -- is not known), as SQLite's `unicode61` tokenizer does.
    search     TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', body), 'B')
    ) STORED,
    CONSTRAINT kb_articles_pkey PRIMARY KEY (id)
);

CREATE INDEX kb_articles_tenant ON kb_articles (tenant_id, title);
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search);
