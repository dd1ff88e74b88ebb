-- The native knowledge base (SQLite). Mirrors migrations/postgres/0005_kb.sql.

CREATE TABLE kb_articles (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT    NOT NULL PRIMARY KEY,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    url        TEXT,
    version    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    updated_by TEXT    NOT NULL
);

CREATE INDEX kb_articles_tenant ON kb_articles (tenant_id, title);

-- Full-text search over titles and bodies: an external-content FTS5 index of kb_articles,
-- kept in step by the triggers below. `unicode61` folds case and diacritics, no stemming
-- (the tenant's language is not known), as PostgreSQL's `simple` configuration does.
CREATE VIRTUAL TABLE kb_articles_fts USING fts5 (
    title, body, content = 'kb_articles', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER kb_articles_ai AFTER INSERT ON kb_articles BEGIN
    INSERT INTO kb_articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;

CREATE TRIGGER kb_articles_ad AFTER DELETE ON kb_articles BEGIN
    INSERT INTO kb_articles_fts (kb_articles_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
END;

CREATE TRIGGER kb_articles_au AFTER UPDATE ON kb_articles BEGIN
    INSERT INTO kb_articles_fts (kb_articles_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO kb_articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
