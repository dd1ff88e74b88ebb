//! SAML single sign-on at `/sso/{tenant}/{provider}/…`, outside the API: the SP metadata,
//! the SP-initiated login (a random cookie binds the request to this browser), the
//! Assertion Consumer Service (HTTP-POST binding), and the agent desktop's code exchange.
//! The sign-in itself is `patchbay_signon`'s; here are cookies, redirects, pages, the
//! admin-screen session a user gets, the log line and audit entry of each refusal.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use patchbay_api::Access;
use patchbay_signon::{digest, random_value, Outcome, Provider, SignOnError};
use patchbay_store::NewAudit;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::sessions::{self, Holder, Sessions, LIFETIME};
use crate::AppState;

/// The cookie that binds a sign-in to the browser that started it.
const BROWSER_COOKIE: &str = "patchbay_sso";

pub fn router(_: &AppState) -> Router<AppState> {
    let sso = patchbay_connectors::SSO_SEGMENT;
    Router::new()
        .route("/ui/sso/{tenant}", get(offer))
        .route(&format!("/{sso}/{{tenant}}/{{provider}}/metadata"), get(metadata))
        .route(&format!("/{sso}/{{tenant}}/{{provider}}/login"), get(login))
        .route(&format!("/{sso}/{{tenant}}/{{provider}}/acs"), post(acs))
        .route(&format!("/{sso}/{{tenant}}/agent_desktop/token"), post(exchange))
}

fn provider(raw: &str) -> ApiResult<Provider> {
    Provider::parse(raw).ok_or(ApiError::NotFound("SSO provider"))
}

/// This request's own origin when it names a loopback host (`http://127.0.0.1:8080`): the
/// service provider's URLs without a configured public URL, for a service on one machine.
fn loopback_origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if sessions::over_https(headers) { "https" } else { "http" };
    loopback.then(|| format!("{scheme}://{host}"))
}

fn refused_status(e: &SignOnError) -> StatusCode {
    match e {
        SignOnError::Refused(r) if matches!(r.code, "not_configured" | "not_enabled") => StatusCode::NOT_FOUND,
        SignOnError::Refused(_) => StatusCode::FORBIDDEN,
        SignOnError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A page for the person at the browser: what happened and what to do.
fn page(status: StatusCode, title: &str, message: &str, again: Option<&str>) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let again = again
        .map(|href| format!(r#"<p><a class="btn btn-primary" href="{}">Sign in again</a></p>"#, escape(href)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · patchbay</title><link rel="stylesheet" href="/ui/assets/app.css"></head><body class="signin"><main class="signin-card card"><h1 class="signin-title">{title}</h1><p class="error-text" role="alert">{message}</p>{again}<p><a href="/">Back to patchbay</a></p></main></body></html>"#,
        title = escape(title),
        message = escape(message),
    );
    let mut response = (status, Html(body)).into_response();
    crate::ui::protect_page(response.headers_mut());
    response
}

/// `GET /ui/sso/{tenant}`: whether the tenant's sign-in page offers Admin SSO, and where.
async fn offer(State(state): State<AppState>, Path(tenant): Path<String>) -> ApiResult<Response> {
    match state.signon.admin_sso(&tenant).await? {
        Some(sso) => Ok(Json(sso).into_response()),
        None => Err(ApiError::NotFound("single sign-on")),
    }
}

async fn metadata(
    State(state): State<AppState>,
    Path((tenant, provider_key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = match provider(&provider_key) {
        Ok(p) => state.signon.metadata(&tenant, p, loopback_origin(&headers).as_deref()).await,
        Err(e) => return e.into_response(),
    };
    match result {
        Ok(xml) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    state: Option<String>,
}

/// `GET /sso/{tenant}/{provider}/login`: sends the browser to the identity provider.
async fn login(
    State(state): State<AppState>,
    Path((tenant, provider_key)): Path<(String, String)>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let provider = match provider(&provider_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let browser = random_value();
    let origin = loopback_origin(&headers);
    let started = state
        .signon
        .login(
            &tenant,
            provider,
            &digest(&browser),
            query.return_to.as_deref(),
            query.state.as_deref(),
            origin.as_deref(),
        )
        .await;
    match started {
        Ok(idp_url) => {
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, idp_url)]).into_response();
            response.headers_mut().append(header::SET_COOKIE, browser_cookie(&tenant, &browser, &headers));
            response
        }
        Err(e) => {
            let status = refused_status(&e);
            match e {
                SignOnError::Refused(r) => {
                    tracing::warn!(
                        tenant,
                        provider = provider.as_str(),
                        code = r.code,
                        "SSO sign-in not started: {}",
                        r.message
                    );
                    page(status, "Single sign-on is not available", &r.message, None)
                }
                SignOnError::Store(e) => ApiError::from(e).into_response(),
            }
        }
    }
}

/// The browser-binding cookie, sent back only to this tenant's SSO endpoints. The identity
/// provider POSTs from another site, so over https it is `SameSite=None; Secure`; over http
/// (a loopback test) `Lax`, which same-site posts carry.
fn browser_cookie(tenant: &str, value: &str, headers: &HeaderMap) -> HeaderValue {
    let tenant = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>();
    let site = if sessions::over_https(headers) { "SameSite=None; Secure" } else { "SameSite=Lax" };
    let max_age = patchbay_signon::REQUEST_LIFETIME.num_seconds();
    HeaderValue::from_str(&format!(
        "{BROWSER_COOKIE}={value}; Path=/sso/{tenant}/; HttpOnly; {site}; Max-Age={max_age}"
    ))
    .expect("the cookie is ASCII")
}

/// `POST /sso/{tenant}/{provider}/acs`: the identity provider's response, posted by the
/// browser.
async fn acs(
    State(state): State<AppState>,
    Extension(sessions): Extension<Sessions>,
    Path((tenant, provider_key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match provider(&provider_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let again = patchbay_connectors::sso_path(&tenant, provider.as_str(), "login");
    let Some(response) = field("SAMLResponse") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "the identity provider sent no SAMLResponse",
            Some(&again),
        );
    };
    let browser = sessions::cookie(&headers, BROWSER_COOKIE).map(digest);
    let origin = loopback_origin(&headers);
    let outcome =
        state.signon.acs(&tenant, provider, response, field("RelayState"), browser.as_deref(), origin.as_deref()).await;
    match outcome {
        Ok(Outcome::Admin { user, return_to }) => {
            let (id, _csrf) = match sessions.create(Holder::User { tenant: tenant.clone(), id: user.id }) {
                Ok(created) => created,
                Err(e) => return e.into_response(),
            };
            tracing::info!(tenant, user = %user.id, "SSO sign-in to the admin screen");
            state.metrics.sso_sign_in(provider.as_str(), "signed_in");
            if let Some(old) = sessions::cookie_value(&headers) {
                sessions.remove(old);
            }
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, return_to)]).into_response();
            let secure = sessions::over_https(&headers);
            response.headers_mut().append(header::SET_COOKIE, sessions::set_cookie(&id, LIFETIME.as_secs(), secure));
            response.headers_mut().append(header::SET_COOKIE, clear_browser_cookie(&tenant));
            response
        }
        Ok(Outcome::AgentDesktop { redirect }) => {
            tracing::info!(tenant, "SSO sign-in for the agent desktop");
            state.metrics.sso_sign_in(provider.as_str(), "signed_in");
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, redirect)]).into_response();
            response.headers_mut().append(header::SET_COOKIE, clear_browser_cookie(&tenant));
            response
        }
        Err(SignOnError::Refused(r)) => {
            tracing::warn!(tenant, provider = provider.as_str(), code = r.code, "SSO sign-in refused: {}", r.message);
            state.metrics.sso_sign_in(provider.as_str(), r.code);
            let audit = NewAudit {
                tenant_id: tenant.clone(),
                account_id: None,
                actor: "sso".into(),
                action: "sso.sign_in_refused".into(),
                changes: json!({"provider": provider.as_str(), "reason": r.code}),
            };
            if let Err(e) = state.store.append_audit(&audit).await {
                tracing::warn!(tenant, error = %e, "the refused sign-in could not be audited");
            }
            page(StatusCode::FORBIDDEN, "Sign-in refused", &r.message, Some(&again))
        }
        Err(SignOnError::Store(e)) => ApiError::from(e).into_response(),
    }
}

fn clear_browser_cookie(tenant: &str) -> HeaderValue {
    let tenant = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>();
    HeaderValue::from_str(&format!("{BROWSER_COOKIE}=; Path=/sso/{tenant}/; HttpOnly; Max-Age=0")).expect("ASCII")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    code: String,
    return_to: String,
}

/// `POST /sso/{tenant}/agent_desktop/token` `{"code", "return_to"}`: the agent desktop's
/// server, with a gateway-client (or tenant admin) token of the tenant, exchanges the
/// one-time code for the verified identity.
async fn exchange(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    parts: Parts,
    crate::body::Input(body): crate::body::Input<Exchange>,
) -> ApiResult<Json<serde_json::Value>> {
    crate::auth::admit(&state, &parts, Access::TenantGateway, &tenant).await?;
    match state.signon.exchange(&tenant, &body.code, &body.return_to).await {
        Ok(identity) => Ok(Json(identity)),
        Err(SignOnError::Refused(r)) => {
            tracing::warn!(tenant, code = r.code, "agent desktop code refused: {}", r.message);
            Err(ApiError::invalid(if r.code == "return_to" { "return_to" } else { "code" }, r.code, r.message))
        }
        Err(SignOnError::Store(e)) => Err(e.into()),
    }
}

/// A refusal where an API-style answer fits (metadata, the sign-in page's offer): not
/// configured is a 404, anything else names the reason.
impl From<SignOnError> for ApiError {
    fn from(e: SignOnError) -> ApiError {
        match e {
            SignOnError::Refused(r) if matches!(r.code, "not_configured" | "not_enabled") => {
                ApiError::NotFound("single sign-on")
            }
            SignOnError::Refused(r) => ApiError::invalid("sso", r.code, r.message),
            SignOnError::Store(e) => e.into(),
        }
    }
}
