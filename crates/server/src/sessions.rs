//! The admin screen's browser sessions (the endpoints are in `ui::session` and `sso`). A
//! person signs in with an API token, or through the tenant's identity provider as a user;
//! the server sets a random session id in an `HttpOnly; SameSite=Strict` cookie. The
//! session lives in this process's memory only (a restart signs everybody out, and each
//! node of a cluster has its own sessions): it maps the SHA-256 of the session id to the
//! SHA-256 of the token, so the token itself is never kept, or to the user's id; every
//! request looks the token or the user up again, so a revoked token, or a disabled or
//! deleted user, ends its sessions at once. Each session has its own random CSRF token,
//! which the browser must send as `X-CSRF-Token` on every write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

pub const COOKIE: &str = "patchbay_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in, whatever happens.
pub(crate) const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// A session unused for this long ends.
const IDLE: Duration = Duration::from_secs(3600);
/// At most this many sessions of one token or user; a new sign-in ends the oldest.
const MAX_SESSIONS_PER_HOLDER: usize = 16;
/// At most this many sessions in all; when they are all live, sign-ins wait (503) rather
/// than end somebody else's session.
const MAX_SESSIONS: usize = 10_000;

/// Whose a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The SHA-256 of the token signed in with.
    Token(Vec<u8>),
    /// A user signed in through the tenant's identity provider.
    User { tenant: String, id: uuid::Uuid },
}

struct Session {
    holder: Holder,
    csrf: String,
    created: Instant,
    last_used: Instant,
}

impl Session {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.created) < LIFETIME && now.duration_since(self.last_used) < IDLE
    }
}

/// The sessions of this process, keyed by the SHA-256 of the session id.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<[u8; 32], Session>>>,
}

/// What a valid session cookie gives a request.
pub struct SessionAuth {
    pub holder: Holder,
    pub(crate) csrf: String,
}

impl SessionAuth {
    /// Writes through a session need the session's CSRF token; reads do not.
    pub fn check_csrf(&self, method: &Method, headers: &HeaderMap) -> ApiResult<()> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
        if constant_time_eq(sent, self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "a request signed in by the session cookie must send the session's X-CSRF-Token header",
            ))
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(session_id: &str) -> [u8; 32] {
    Sha256::digest(session_id.as_bytes()).into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// A new session for a checked token or user; returns the session id and the CSRF
    /// token. A holder over its own cap loses its oldest session; when the service holds
    /// `MAX_SESSIONS` live sessions, the sign-in is refused and nobody else's ends.
    pub(crate) fn create(&self, holder: Holder) -> ApiResult<(String, String)> {
        self.create_capped(holder, MAX_SESSIONS_PER_HOLDER, MAX_SESSIONS)
    }

    fn create_capped(&self, holder: Holder, per_token: usize, total: usize) -> ApiResult<(String, String)> {
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.live(now));
        let mut own: Vec<([u8; 32], Instant)> =
            map.iter().filter(|(_, s)| s.holder == holder).map(|(k, s)| (*k, s.created)).collect();
        if own.len() >= per_token {
            own.sort_by_key(|(_, created)| *created);
            for (k, _) in &own[..=own.len() - per_token] {
                map.remove(k);
            }
        } else if map.len() >= total {
            return Err(ApiError::Unavailable {
                detail: "the service holds as many admin-screen sessions as it allows; try again later".into(),
                retry_after: 60,
            });
        }
        let id = random_token();
        let csrf = random_token();
        map.insert(key(&id), Session { holder, csrf: csrf.clone(), created: now, last_used: now });
        Ok((id, csrf))
    }

    /// The live session a cookie names, marked as used.
    pub(crate) fn find(&self, session_id: &str) -> Option<SessionAuth> {
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(session_id);
        match map.get_mut(&k) {
            Some(s) if s.live(now) => {
                s.last_used = now;
                Some(SessionAuth { holder: s.holder.clone(), csrf: s.csrf.clone() })
            }
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    pub(crate) fn remove(&self, session_id: &str) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(session_id));
    }

    /// Ends every session whose token no longer exists (revoked, or deleted with its tenant).
    /// (A user's sessions end on their next request when the user is gone or disabled.)
    pub async fn end_orphans(&self, store: &dyn patchbay_store::Store) -> patchbay_store::Result<()> {
        let tokens: std::collections::BTreeSet<Vec<u8>> = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|s| match &s.holder {
                Holder::Token(hash) => Some(hash.clone()),
                Holder::User { .. } => None,
            })
            .collect();
        let mut gone = Vec::new();
        for token in tokens {
            if store.find_token(&token).await?.is_none() {
                gone.push(token);
            }
        }
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| !matches!(&s.holder, Holder::Token(hash) if gone.contains(hash)));
        Ok(())
    }
}

/// The session id in the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE)
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The session a request's cookie names, if it is live. `None` when there is no cookie or
/// it names no live session.
pub fn from_request(parts: &Parts) -> Option<SessionAuth> {
    let sessions = parts.extensions.get::<Sessions>()?;
    sessions.find(cookie_value(&parts.headers)?)
}

/// Whether the request reached us over https (directly, or through a proxy that says so).
pub(crate) fn over_https(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    header("x-forwarded-proto").split(',').next().map(str::trim) == Some("https")
        || header("forwarded").split([';', ',']).any(|part| part.trim() == "proto=https")
}

pub(crate) fn set_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .expect("the cookie is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(hash: &[u8]) -> Holder {
        Holder::Token(hash.to_vec())
    }

    #[test]
    fn a_token_over_its_cap_loses_only_its_own_oldest_session() {
        let sessions = Sessions::default();
        let (admin, _) = sessions.create_capped(token(b"admin"), 3, 100).unwrap();
        let (first, _) = sessions.create_capped(token(b"viewer"), 3, 100).unwrap();
        for _ in 0..50 {
            sessions.create_capped(token(b"viewer"), 3, 100).unwrap();
        }
        assert!(sessions.find(&admin).is_some(), "another token's session survives");
        assert!(sessions.find(&first).is_none(), "the viewer's oldest session ended");
        let map = sessions.inner.lock().unwrap();
        assert_eq!(map.values().filter(|s| s.holder == token(b"viewer")).count(), 3);
    }

    #[test]
    fn a_full_service_refuses_new_sign_ins_with_retry_after_instead_of_evicting() {
        let sessions = Sessions::default();
        let (admin, _) = sessions.create_capped(token(b"admin"), 3, 2).unwrap();
        sessions.create_capped(token(b"viewer"), 3, 2).unwrap();
        let refused = sessions.create_capped(token(b"other"), 3, 2).unwrap_err();
        assert!(matches!(refused, ApiError::Unavailable { retry_after, .. } if retry_after > 0), "{refused:?}");
        assert!(sessions.find(&admin).is_some(), "nobody was signed out");
        assert!(sessions.create_capped(token(b"viewer"), 1, 2).is_ok(), "a token at its own cap replaces its own");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; patchbay_session=abc ; b=2"));
        assert_eq!(cookie_value(&headers), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("patchbay_sessionx=abc"));
        assert_eq!(cookie_value(&headers), None);
    }

    #[test]
    fn https_is_recognised_behind_a_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_https(&headers));
        let mut headers = HeaderMap::new();
        headers.insert("forwarded", HeaderValue::from_static("for=1.2.3.4;proto=https"));
        assert!(over_https(&headers));
    }

    #[test]
    fn expired_and_idle_sessions_end() {
        let now = Instant::now();
        let fresh = Session { holder: token(b""), csrf: String::new(), created: now, last_used: now };
        assert!(fresh.live(now));
        assert!(!fresh.live(now + IDLE));
        let old = Session { last_used: now + LIFETIME, ..fresh };
        assert!(!old.live(now + LIFETIME));
    }

    #[test]
    fn csrf_comparison_needs_the_exact_token() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"abc"));
    }
}
