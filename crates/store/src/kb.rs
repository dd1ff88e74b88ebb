//! The native knowledge base of each tenant: articles and their full-text search, one query
//! per backend (SQLite FTS5 with `bm25` ranking and `snippet`, PostgreSQL `tsvector` with
//! `ts_rank` and `ts_headline`). Each change is audited with the write.

use async_trait::async_trait;
use uuid::Uuid;

use crate::fulltext;
use crate::sql::{now, parse_uuid, write_err, Pools};
use crate::{Result, SqlStore, StoreError, Timestamp};

/// An article as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleWrite {
    pub title: String,
    pub body: String,
    pub url: Option<String>,
}

/// An article as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: Uuid,
    pub tenant_id: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// One article a search found, best first, with a snippet of where it matched (the
/// matched words between `[` and `]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleHit {
    pub id: Uuid,
    pub title: String,
    pub url: Option<String>,
    pub snippet: String,
}

#[async_trait]
pub trait KbStore: Send + Sync + 'static {
    async fn create_article(&self, tenant: &str, id: Uuid, write: &ArticleWrite, actor: &str) -> Result<Article>;
    async fn get_article(&self, tenant: &str, id: Uuid) -> Result<Article>;
    /// By title.
    async fn list_articles(&self, tenant: &str) -> Result<Vec<Article>>;
    /// Replaces the article; `expected_version` (when given) must match.
    async fn update_article(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ArticleWrite,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<Article>;
    async fn delete_article(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()>;
    /// Articles holding every word of `words` (in the title or body, any case, as a word or
    /// the start of one), best first. The words are letters and digits only.
    async fn search_articles(&self, tenant: &str, words: &[String], limit: i64) -> Result<Vec<ArticleHit>>;
}

type ArticleRow = (String, String, String, String, Option<String>, i64, Timestamp, String, Timestamp, String);

const COLUMNS: &str = "id, tenant_id, title, body, url, version, created_at, created_by, updated_at, updated_by";

fn article(row: ArticleRow) -> Result<Article> {
    let (id, tenant_id, title, body, url, version, created_at, created_by, updated_at, updated_by) = row;
    Ok(Article {
        id: parse_uuid("kb_articles.id", &id)?,
        tenant_id,
        title,
        body,
        url,
        version,
        created_at,
        created_by,
        updated_at,
        updated_by,
    })
}

fn changes(write: &ArticleWrite) -> serde_json::Value {
    serde_json::json!({"title": write.title, "url": write.url, "body_chars": write.body.chars().count()})
}

#[async_trait]
impl KbStore for SqlStore {
    async fn create_article(&self, tenant: &str, id: Uuid, write: &ArticleWrite, actor: &str) -> Result<Article> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO kb_articles (id, tenant_id, title, body, url, version, created_at, created_by, \
                 updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $6, $7)",
            )
            .bind(&id_text)
            .bind(tenant)
            .bind(&write.title)
            .bind(&write.body)
            .bind(&write.url)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "kb.create", changes(write), now);
        });
        self.get_article(tenant, id).await
    }

    async fn get_article(&self, tenant: &str, id: Uuid) -> Result<Article> {
        let row: Option<ArticleRow> = with_reader!(self, |pool| {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM kb_articles WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        article(row.ok_or(StoreError::NotFound)?)
    }

    async fn list_articles(&self, tenant: &str) -> Result<Vec<Article>> {
        let rows: Vec<ArticleRow> = with_reader!(self, |pool| {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM kb_articles WHERE tenant_id = $1 ORDER BY title, id"))
                .bind(tenant)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(article).collect()
    }

    async fn update_article(
        &self,
        tenant: &str,
        id: Uuid,
        write: &ArticleWrite,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<Article> {
        let now = now();
        let id_text = id.to_string();
        in_write_tx!(self, |tx| {
            let updated = sqlx::query(
                "UPDATE kb_articles SET title = $3, body = $4, url = $5, version = version + 1, updated_at = $6, \
                 updated_by = $7 WHERE tenant_id = $1 AND id = $2 AND ($8 IS NULL OR version = $8)",
            )
            .bind(tenant)
            .bind(&id_text)
            .bind(&write.title)
            .bind(&write.body)
            .bind(&write.url)
            .bind(now)
            .bind(actor)
            .bind(expected_version)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
            if updated.rows_affected() == 0 {
                return Err(missing_or_stale!(
                    tx,
                    "SELECT version FROM kb_articles WHERE tenant_id = $1 AND id = $2",
                    tenant,
                    &id_text
                ));
            }
            insert_audit!(&mut *tx, tenant, None::<&str>, actor, "kb.update", changes(write), now);
        });
        self.get_article(tenant, id).await
    }

    async fn delete_article(&self, tenant: &str, id: Uuid, expected_version: Option<i64>, actor: &str) -> Result<()> {
        let id_text = id.to_string();
        let gone = serde_json::json!({"article": id_text});
        delete_versioned!(self, "kb_articles", tenant, &id_text, expected_version, actor, "kb.delete", gone);
        Ok(())
    }

    async fn search_articles(&self, tenant: &str, words: &[String], limit: i64) -> Result<Vec<ArticleHit>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, Option<String>, String)> = match &self.pools {
            Pools::Sqlite { read, .. } => {
                sqlx::query_as(
                    "SELECT a.id, a.title, a.url, snippet(kb_articles_fts, 1, '[', ']', '…', 16) \
                     FROM kb_articles_fts JOIN kb_articles a ON a.rowid = kb_articles_fts.rowid \
                     WHERE kb_articles_fts MATCH $1 AND a.tenant_id = $2 \
                     ORDER BY bm25(kb_articles_fts, 4.0, 1.0), a.title LIMIT $3",
                )
                .bind(fulltext::fts5_query(words))
                .bind(tenant)
                .bind(limit)
                .fetch_all(read)
                .await?
            }
            Pools::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT id, title, url, ts_headline('simple', body, query, \
                     'StartSel=[, StopSel=], MaxWords=16, MinWords=6, ShortWord=2, FragmentDelimiter=…, MaxFragments=1') \
                     FROM kb_articles, to_tsquery('simple', $1) query \
                     WHERE tenant_id = $2 AND search @@ query \
                     ORDER BY ts_rank(search, query) DESC, title LIMIT $3",
                )
                .bind(fulltext::pg_query(words))
                .bind(tenant)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter()
            .map(|(id, title, url, snippet)| {
                Ok(ArticleHit { id: parse_uuid("kb_articles.id", &id)?, title, url, snippet })
            })
            .collect()
    }
}
