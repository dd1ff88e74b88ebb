//! Text to speech: Watson `synthesize` (the audio streamed through as it arrives) and Google
//! `text:synthesize` (base64 audio in JSON, decoded), and a per-tenant, size-bounded cache
//! of what was synthesized, so a prompt played on every call is made once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::Stream;
use patchbay_api::AudioFormat;
use patchbay_catalog::keys::tts;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::vendors::{ibm_error, json_of, Call};
use crate::GatewayError;

/// Audio as it reaches the caller.
pub type AudioStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// What to say: plain text or SSML.
pub(crate) enum Script<'a> {
    Text(&'a str),
    Ssml(&'a str),
}

/// Synthesized audio: whole (from the cache, or a vendor that answers in one piece) or
/// streamed as the vendor sends it.
pub enum Audio {
    Whole(Bytes),
    Streamed(AudioStream),
}

/// Bytes the cache holds per tenant at most.
const TENANT_BYTES: usize = 16 * 1024 * 1024;
/// Bytes the cache holds in all at most.
const TOTAL_BYTES: usize = 128 * 1024 * 1024;
/// Audio larger than this is not kept.
const ENTRY_BYTES: usize = 4 * 1024 * 1024;

/// The synthesized audio of each tenant, least recently used first out.
#[derive(Default)]
pub struct SpeechCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    tick: u64,
    tenants: HashMap<String, TenantCache>,
    total: usize,
}

#[derive(Default)]
struct TenantCache {
    entries: HashMap<[u8; 32], (Bytes, u64)>,
    bytes: usize,
    used: u64,
}

impl SpeechCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, tenant: &str, key: &[u8; 32]) -> Option<Bytes> {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        let cache = state.tenants.get_mut(tenant)?;
        cache.used = tick;
        let (audio, used) = cache.entries.get_mut(key)?;
        *used = tick;
        Some(audio.clone())
    }

    pub(crate) fn put(&self, tenant: &str, key: [u8; 32], audio: Bytes) {
        if audio.len() > ENTRY_BYTES {
            return;
        }
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        let size = audio.len();
        let cache = state.tenants.entry(tenant.to_owned()).or_default();
        cache.used = tick;
        let mut freed = 0;
        if let Some((old, _)) = cache.entries.insert(key, (audio, tick)) {
            freed += old.len();
        }
        cache.bytes = cache.bytes + size - freed;
        while cache.bytes > TENANT_BYTES {
            let Some(oldest) = cache.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k) else { break };
            if let Some((gone, _)) = cache.entries.remove(&oldest) {
                cache.bytes -= gone.len();
                freed += gone.len();
            }
        }
        state.total = state.total + size - freed;
        while state.total > TOTAL_BYTES {
            let Some(oldest) =
                state.tenants.iter().filter(|(t, _)| *t != tenant).min_by_key(|(_, c)| c.used).map(|(t, _)| t.clone())
            else {
                break;
            };
            if let Some(gone) = state.tenants.remove(&oldest) {
                state.total -= gone.bytes;
            }
        }
    }

    /// Bytes held for `tenant`.
    #[cfg(test)]
    fn held(&self, tenant: &str) -> usize {
        self.lock().tenants.get(tenant).map_or(0, |c| c.bytes)
    }
}

/// What identifies a synthesis: the account as it is now (its version), the voice, the
/// format and the script.
pub(crate) fn cache_key(
    account: &patchbay_store::Account,
    voice: &str,
    format: AudioFormat,
    script: &Script<'_>,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(account.id.as_bytes());
    hash.update(account.version.to_be_bytes());
    hash.update(voice.as_bytes());
    hash.update([0, format as u8]);
    match script {
        Script::Text(text) => {
            hash.update(b"t");
            hash.update(text.as_bytes());
        }
        Script::Ssml(ssml) => {
            hash.update(b"s");
            hash.update(ssml.as_bytes());
        }
    }
    hash.finalize().into()
}

/// The voice of the call: the request's, else the account's Voice.
pub(crate) fn voice_of<'a>(call: &'a Call<'_>, asked: Option<&'a str>) -> Option<&'a str> {
    let key = if call.account.provider == "google" { tts::google::VOICE } else { tts::watson::VOICE };
    asked.or_else(|| call.account.text(key))
}

/// Watson `POST {url}synthesize?voice=…` with Basic auth, the format in `Accept` and the
/// text (SSML included) as `{"text"}`: the audio streams through as it arrives.
/// <https://cloud.ibm.com/apidocs/text-to-speech#synthesize>
pub(crate) async fn watson(
    call: &Call<'_>,
    script: &Script<'_>,
    voice: Option<&str>,
    format: AudioFormat,
) -> Result<AudioStream, GatewayError> {
    let username = call.text(tts::watson::USER_NAME)?;
    let password = call.secret(tts::watson::PASSWORD)?;
    let base = call.text(tts::watson::URL)?;
    let mut url = url::Url::parse(&format!("{}/synthesize", base.trim_end_matches('/')))
        .map_err(|e| call.invalid(format!("`{}` is not a URL: {e}", tts::watson::URL)))?;
    if let Some(voice) = voice {
        url.query_pairs_mut().append_pair("voice", voice);
    }
    let accept = match format {
        AudioFormat::Wav => "audio/wav",
        AudioFormat::Mp3 => "audio/mp3",
        AudioFormat::Ogg => "audio/ogg;codecs=opus",
    };
    let text = match script {
        Script::Text(t) | Script::Ssml(t) => *t,
    };
    let body = json!({"text": text});
    let response = call
        .stream(Method::POST, &url, |r| r.basic_auth(username, Some(password)).header(ACCEPT, accept).json(&body))
        .await?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let reply = call.read_rest(response).await?;
        return Err(call.refused(&reply, "voice or synthesize URL", ibm_error(&reply).as_deref()));
    }
    let is_audio =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("audio/"));
    if !is_audio {
        let reply = call.read_rest(response).await?;
        return Err(call.garbled(&reply, "audio"));
    }
    Ok(call.body_stream(response))
}

/// Google `POST v1/text:synthesize?key=…` with `input`, `voice` (its language from the
/// voice's name, `en-US` without one) and `audioConfig.audioEncoding`; the answer's base64
/// `audioContent` decoded.
/// <https://cloud.google.com/text-to-speech/docs/reference/rest/v1/text/synthesize>
pub(crate) async fn google(
    call: &Call<'_>,
    script: &Script<'_>,
    voice: Option<&str>,
    format: AudioFormat,
) -> Result<Bytes, GatewayError> {
    let key = call.secret(tts::google::API_KEY)?;
    let mut url = call
        .vendors
        .get("google_tts")
        .join("v1/text:synthesize")
        .map_err(|e| call.invalid(format!("the google_tts URL cannot take a path: {e}")))?;
    url.query_pairs_mut().append_pair("key", key);
    let input = match script {
        Script::Text(text) => json!({"text": text}),
        Script::Ssml(ssml) => json!({"ssml": ssml}),
    };
    let language = voice
        .and_then(|v| v.splitn(3, '-').take(2).collect::<Vec<_>>().join("-").into())
        .filter(|l: &String| l.len() >= 4);
    let mut voice_body = json!({"languageCode": language.as_deref().unwrap_or("en-US")});
    if let Some(voice) = voice {
        voice_body["name"] = json!(voice);
    }
    let encoding = match format {
        AudioFormat::Wav => "LINEAR16",
        AudioFormat::Mp3 => "MP3",
        AudioFormat::Ogg => "OGG_OPUS",
    };
    let body = json!({"input": input, "voice": voice_body, "audioConfig": {"audioEncoding": encoding}});
    let reply = call.send_large(Method::POST, &url, |r| r.header(ACCEPT, "application/json").json(&body)).await?;
    if !(200..300).contains(&reply.status) {
        let said = json_of(&reply).and_then(|b| b.get("error")?.get("message")?.as_str().map(str::to_owned));
        return Err(call.refused(&reply, "Text-to-Speech API", said.as_deref()));
    }
    let audio = json_of(&reply)
        .and_then(|b| b.get("audioContent")?.as_str().map(str::to_owned))
        .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok());
    match audio {
        Some(audio) => Ok(Bytes::from(audio)),
        None => Err(call.garbled(&reply, "a synthesize answer with base64 audioContent")),
    }
}

/// Keeps what `stream` yields and puts it in the cache when it ends whole.
pub(crate) fn tee_into_cache(
    stream: AudioStream,
    cache: Arc<SpeechCache>,
    tenant: String,
    key: [u8; 32],
) -> AudioStream {
    let kept: Option<Vec<u8>> = Some(Vec::new());
    Box::pin(futures::stream::unfold(
        (stream, kept, cache, tenant),
        move |(mut stream, mut kept, cache, tenant)| async move {
            use futures::StreamExt;
            match stream.next().await {
                Some(Ok(chunk)) => {
                    if let Some(buffer) = &mut kept {
                        if buffer.len() + chunk.len() <= ENTRY_BYTES {
                            buffer.extend_from_slice(&chunk);
                        } else {
                            kept = None;
                        }
                    }
                    Some((Ok(chunk), (stream, kept, cache, tenant)))
                }
                Some(Err(e)) => Some((Err(e), (stream, None, cache, tenant))),
                None => {
                    if let Some(buffer) = kept.take() {
                        cache.put(&tenant, key, Bytes::from(buffer));
                    }
                    None
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_each_tenant_under_its_budget_dropping_the_least_recently_used() {
        let cache = SpeechCache::default();
        let mb = |n: u8| Bytes::from(vec![n; 1024 * 1024]);
        for n in 0..16u8 {
            cache.put("acme", [n; 32], mb(n));
        }
        assert_eq!(cache.held("acme"), TENANT_BYTES);
        assert!(cache.get("acme", &[0; 32]).is_some(), "read again: now the most recently used");
        cache.put("acme", [99; 32], mb(99));
        assert!(cache.get("acme", &[0; 32]).is_some(), "recently used stays");
        assert!(cache.get("acme", &[1; 32]).is_none(), "the least recently used went");
        assert_eq!(cache.held("acme"), TENANT_BYTES);
        assert!(cache.get("globex", &[0; 32]).is_none(), "tenants do not share entries");
        cache.put("acme", [7; 32], Bytes::from(vec![0; ENTRY_BYTES + 1]));
        assert!(cache.get("acme", &[7; 32]).is_some_and(|a| a.len() == 1024 * 1024), "too large is not kept");
    }
}
