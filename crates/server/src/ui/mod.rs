//! The admin screen: a small single-page app (vanilla JS modules and one style sheet,
//! compiled into the binary) served at `/`, which calls the JSON API with a session cookie.
//! Every page carries a strict Content Security Policy: scripts, styles and requests only
//! from this origin, nothing inline.

mod session;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use patchbay_catalog::contact_fields::{self, Selector};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let signed_in = axum::middleware::from_fn_with_state(state.clone(), |state, request, next| {
        crate::auth::enforce(patchbay_api::Access::Caller, state, request, next)
    });
    Router::new()
        .route("/", get(index))
        .route("/ui/assets/{file}", get(asset))
        .route("/ui/session", get(session::current).post(session::sign_in).delete(session::sign_out))
        .route("/ui/contact-fields", get(contact_field_choices).route_layer(signed_in))
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
        }
    };
}

const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("dialogs.js", "text/javascript; charset=utf-8"),
    asset!("editors.js", "text/javascript; charset=utf-8"),
    asset!("exports.js", "text/javascript; charset=utf-8"),
    asset!("form.js", "text/javascript; charset=utf-8"),
    asset!("history.js", "text/javascript; charset=utf-8"),
    asset!("keys.js", "text/javascript; charset=utf-8"),
    asset!("list.js", "text/javascript; charset=utf-8"),
    asset!("records.js", "text/javascript; charset=utf-8"),
    asset!("live.js", "text/javascript; charset=utf-8"),
    asset!("report.js", "text/javascript; charset=utf-8"),
    asset!("stream.js", "text/javascript; charset=utf-8"),
    asset!("table.js", "text/javascript; charset=utf-8"),
    asset!("tenants.js", "text/javascript; charset=utf-8"),
    asset!("tokens.js", "text/javascript; charset=utf-8"),
    asset!("users.js", "text/javascript; charset=utf-8"),
];

/// Serves an embedded file with a content-hash ETag. Browsers revalidate on every use
/// (`no-cache`) and get a 304 while the binary is the same, so a new release is never
/// mixed with cached modules of the old one.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(asset.body)[..12]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header value"));
    if asset.content_type.starts_with("text/html") {
        protect_page(h);
    }
    response
}

/// The headers every HTML page of this service carries: the Content Security Policy and no
/// framing.
pub(crate) fn protect_page(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let asset = ASSETS.iter().find(|a| a.name == file).ok_or(ApiError::NotFound("asset"))?;
    Ok(serve(asset, &headers))
}

/// The contact fields a field-mapping row may target (the catalog's
/// `contact_fields`), as choices for the form's select.
async fn contact_field_choices(_who: Principal) -> Json<Value> {
    let basic: Vec<Value> =
        contact_fields::BASIC.iter().map(|(key, label)| json!({"value": key, "label": label})).collect();
    let categories: Vec<Value> = contact_fields::CATEGORIES
        .iter()
        .map(|(key, label, selector)| {
            let choices: Vec<Value> = match selector {
                Selector::Types(types) => types
                    .iter()
                    .map(|t| json!({"value": format!("{key}.{t}"), "label": format!("{label}: {t}")}))
                    .collect(),
                Selector::Order(max) => (1..=*max)
                    .map(|n| json!({"value": format!("{key}.{n}"), "label": format!("{label}: {n}")}))
                    .collect(),
            };
            json!({"key": key, "label": label, "choices": choices})
        })
        .collect();
    Json(json!({
        "basic": basic,
        "categories": categories,
        "custom": {"prefix": "custom.", "pattern": "^[a-z0-9_]{1,64}$", "label": "Custom field"},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_has_no_inline_script_or_style() {
        let html = std::str::from_utf8(INDEX.body).unwrap();
        for tag in html.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(open.contains("src=\"/ui/assets/"), "inline or foreign script: <script{open}>");
            assert!(tag[tag.find('>').unwrap() + 1..].starts_with("</script>"), "a script with a body");
        }
        assert!(!html.contains("<style"), "inline style element");
        assert!(!html.contains(" style="), "inline style attribute");
        assert!(!html.contains("http://") && !html.contains("https://"), "an external reference");
    }

    #[test]
    fn every_module_import_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let js = std::str::from_utf8(asset.body).unwrap();
            for line in js.lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit("from '").next().unwrap().trim_end_matches("';");
                let target = target.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {target}, which is not served",
                    asset.name
                );
            }
        }
    }
}
