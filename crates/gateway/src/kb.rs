//! The knowledge base as the contact center uses it: the tenant's native articles (full-text
//! search in the database) and an external KB account (Synthetix). An enabled external
//! account marked Use as exclusive KB is the only one searched; otherwise the native KB is
//! searched first and an enabled external account only when the native KB finds nothing.

use patchbay_api::{KbArticleWrite, KbResult, KbSource};
use patchbay_catalog::keys::external_kb;
use patchbay_store::ArticleWrite;
use reqwest::header::ACCEPT;
use reqwest::Method;
use serde_json::{json, Value};

use crate::vendors::{json_of, Call, JSON};
use crate::GatewayError;

/// An article's content checked: a title and a body within their lengths, no control
/// characters in the title, and an `https://` URL when there is one.
pub fn checked_article(write: &KbArticleWrite) -> Result<ArticleWrite, GatewayError> {
    let title = write.title.trim();
    if title.is_empty()
        || title.chars().count() > KbArticleWrite::TITLE_MAX_CHARS
        || title.chars().any(char::is_control)
    {
        return Err(GatewayError::invalid(
            "title",
            "length",
            format!("a title is 1-{} characters without control characters", KbArticleWrite::TITLE_MAX_CHARS),
        ));
    }
    if write.body.trim().is_empty() || write.body.chars().count() > KbArticleWrite::BODY_MAX_CHARS {
        return Err(GatewayError::invalid(
            "body",
            "length",
            format!("a body is 1-{} characters", KbArticleWrite::BODY_MAX_CHARS),
        ));
    }
    let url = match write.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(url) => {
            let parsed = url::Url::parse(url).ok().filter(|u| u.scheme() == "https" && u.host_str().is_some());
            if parsed.is_none() || url.chars().count() > KbArticleWrite::URL_MAX_CHARS {
                return Err(GatewayError::invalid("url", "url_scheme", "the URL must be an https:// URL"));
            }
            Some(url.to_owned())
        }
    };
    Ok(ArticleWrite { title: title.to_owned(), body: write.body.clone(), url })
}

/// The Synthetix channel of the knowledge base.
const SYNTHETIX_KB_CHANNEL: u32 = 14;
/// Who searches, as Synthetix's external searches require a user id.
const SYNTHETIX_USER: &str = "patchbay";

/// Synthetix (SYNAPPS): a session (`POST {url}external/session` with the `CONSUMERKEY` and
/// `APPLICATIONKEY` headers gives `{"token"}`), then `POST {url}external/search` with the
/// token as Bearer and `{"query", "channel": 14, "userid"}`; the answer's `results` carry
/// each article's `label` and question (`faq`).
/// <https://documentation.synthetix.com/> (Session Management, external/search)
pub(crate) async fn synthetix_search(call: &Call<'_>, q: &str, limit: usize) -> Result<Vec<KbResult>, GatewayError> {
    let base = call.text(external_kb::URL)?.trim_end_matches('/').to_owned();
    let consumer = call.secret(external_kb::CONSUMER_KEY)?;
    let application = call.secret(external_kb::APPLICATION_KEY)?;
    let url = |path: &str| {
        url::Url::parse(&format!("{base}/{path}"))
            .map_err(|e| call.invalid(format!("`{base}` cannot take a path: {e}")))
    };
    let keys = |r: reqwest::RequestBuilder| {
        r.header("CONSUMERKEY", consumer).header("APPLICATIONKEY", application).header(ACCEPT, JSON)
    };
    let session = call.send(Method::POST, &url("external/session")?, |r| keys(r).json(&json!({}))).await?;
    let said = |reply: &patchbay_connectors::HttpReply| {
        json_of(reply)
            .and_then(|b| b.get("error").or_else(|| b.get("message")).and_then(Value::as_str).map(str::to_owned))
    };
    if !(200..300).contains(&session.status) {
        return Err(call.refused(&session, "Synthetix API at the URL", said(&session).as_deref()));
    }
    let Some(token) = json_of(&session).and_then(|b| b.get("token")?.as_str().map(str::to_owned)) else {
        return Err(call.garbled(&session, "a Synthetix session"));
    };
    let body = json!({"query": q, "channel": SYNTHETIX_KB_CHANNEL, "userid": SYNTHETIX_USER});
    let reply = call.send(Method::POST, &url("external/search")?, |r| keys(r).bearer_auth(&token).json(&body)).await?;
    if !(200..300).contains(&reply.status) {
        return Err(call.refused(&reply, "Synthetix search", said(&reply).as_deref()));
    }
    let Some(results) = json_of(&reply).and_then(|b| b.get("results")?.as_array().cloned()) else {
        return Err(call.garbled(&reply, "Synthetix search results"));
    };
    Ok(results
        .iter()
        .filter_map(|r| {
            let question = r.get("faq")?.as_str()?.to_owned();
            let label = r.get("label").or_else(|| r.get("id"))?.as_str()?.to_owned();
            Some(KbResult {
                title: question.clone(),
                snippet: question,
                url: None,
                id: label,
                source: KbSource::External,
            })
        })
        .take(limit)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_article_needs_a_title_a_body_and_an_https_url_if_any() {
        let ok = KbArticleWrite {
            title: " Refunds ".into(),
            body: "How to".into(),
            url: Some("https://kb.example/r".into()),
        };
        assert_eq!(checked_article(&ok).unwrap().title, "Refunds");
        let http = KbArticleWrite { url: Some("http://kb.example/r".into()), ..ok.clone() };
        assert!(matches!(checked_article(&http), Err(GatewayError::Invalid { field: "url", .. })));
        let empty = KbArticleWrite { body: " ".into(), ..ok };
        assert!(matches!(checked_article(&empty), Err(GatewayError::Invalid { field: "body", .. })));
    }
}
