//! Text to speech: IBM Watson and Google Cloud. The test lists the voices (and checks the
//! configured voice is among them); Load Voices returns that list.

use async_trait::async_trait;
use patchbay_catalog::keys::tts;
use reqwest::Method;
use serde_json::{Map, Value};

use super::{base_url, quote, text, vendor_url};
use crate::{ActionResult, Category, Connector, Context, Failure, HttpReply, TestRun, Voice};

/// The spec's success message for TTS tests.
const VALID: &str = "Account credentials appear to be valid.";

/// The spec's message once the voices are listed and the configured voice is among them.
fn configured_voice_offered(
    cx: &Context<'_>,
    run: &mut TestRun,
    voice_key: &str,
    voices: &[Voice],
) -> Result<String, Failure> {
    if let Some(voice) = cx.account.text(voice_key) {
        let offered = if voices.iter().any(|v| v.name == voice) {
            Ok(())
        } else {
            Err(Failure::new(
                Category::InvalidConfig,
                format!("the voice {voice} is not offered to this account; choose one with Load Voices"),
            ))
        };
        run.check("voice", offered, |()| format!("voice {voice} is offered"))?;
    }
    Ok(VALID.to_owned())
}

fn not_an_action(action: &str) -> Failure {
    Failure::new(Category::InvalidConfig, format!("`{action}` is not an action of this provider"))
}

fn voices_outcome(voices: Vec<Voice>) -> ActionResult {
    ActionResult {
        message: format!("{} voices are offered to this account.", voices.len()),
        voices,
        ..ActionResult::default()
    }
}

/// `voices` of a list answer, each through `voice`; an empty list is an error.
fn voices_of(body: &Value, voice: impl Fn(&Value) -> Option<Voice>) -> Result<Vec<Voice>, Failure> {
    let list = body
        .get("voices")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::new(Category::UnexpectedResponse, "the answer has no `voices` list"))?;
    let voices: Vec<Voice> = list.iter().filter_map(voice).collect();
    if voices.is_empty() {
        return Err(Failure::new(Category::UnexpectedResponse, "the service offers no voices"));
    }
    Ok(voices)
}

/// IBM Watson Text to Speech: `GET {url}voices` with Basic auth (a user name and password,
/// or `apikey` and the API key).
/// <https://cloud.ibm.com/docs/text-to-speech?topic=text-to-speech-voices-list>,
/// <https://cloud.ibm.com/apidocs/text-to-speech#listvoices>
pub(super) struct WatsonTts;

impl WatsonTts {
    async fn voices(cx: &Context<'_>, run: &mut TestRun) -> Result<Vec<Voice>, Failure> {
        let user = cx.account.need_text(tts::watson::USER_NAME)?;
        let password = cx.account.need_secret(tts::watson::PASSWORD)?;
        let url = base_url(cx, tts::watson::URL)?
            .join("voices")
            .map_err(|e| Failure::new(Category::InvalidConfig, format!("`url` cannot take `voices`: {e}")))?;
        let reply =
            cx.egress.http(run, Method::GET, url.as_str(), cx.timeout, |r| r.basic_auth(user, Some(password))).await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            s => Err(watson_failure(cx, &reply, s)),
        };
        run.check("authenticate", accepted, |()| "Watson accepted the user name and password".to_owned())?;
        run.check(
            "read",
            reply.json().and_then(|body| {
                voices_of(&body, |v| {
                    let name = text(v, "name")?;
                    let label = text(v, "description")
                        .map(|d| quote(cx, d))
                        .or_else(|| text(v, "language").map(|l| format!("{name} ({l})")))
                        .unwrap_or_else(|| name.to_owned());
                    Some(Voice { name: name.to_owned(), label })
                })
            }),
            |voices| format!("{} voices", voices.len()),
        )
    }
}

fn watson_failure(cx: &Context<'_>, reply: &HttpReply, status: u16) -> Failure {
    let said = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|b| text(&b, "error").map(|e| format!(": {}", quote(cx, e))))
        .unwrap_or_default();
    match status {
        401 => Failure::new(
            Category::InvalidCredentials,
            format!("Watson refused the user name and password (HTTP 401{said})"),
        ),
        404 => Failure::new(
            Category::NotFound,
            format!("no voices list at this URL (HTTP 404{said}); the URL ends with /text-to-speech/api/v1/"),
        ),
        s => Failure::from_status(s, "voices list"),
    }
}

#[async_trait]
impl Connector for WatsonTts {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("tts", "watson")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let voices = WatsonTts::voices(cx, run).await?;
        configured_voice_offered(cx, run, tts::watson::VOICE, &voices)
    }

    async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        _params: &Map<String, Value>,
        run: &mut TestRun,
    ) -> Result<ActionResult, Failure> {
        if action != "load_voices" {
            return Err(not_an_action(action));
        }
        Ok(voices_outcome(WatsonTts::voices(cx, run).await?))
    }
}

/// Google Cloud Text-to-Speech: `GET /v1/voices?key=<API key>` at the vendor URL (the
/// account's URL is the OAuth scope the spec shows, not the endpoint).
/// <https://cloud.google.com/text-to-speech/docs/reference/rest/v1/voices/list>, API keys:
/// <https://cloud.google.com/docs/authentication/api-keys-use>, errors:
/// <https://cloud.google.com/apis/design/errors>
pub(super) struct GoogleTts;

impl GoogleTts {
    async fn voices(cx: &Context<'_>, run: &mut TestRun) -> Result<Vec<Voice>, Failure> {
        let key = cx.account.need_secret(tts::google::API_KEY)?;
        let mut url = vendor_url(cx, "google_tts", "v1/voices")?;
        url.query_pairs_mut().append_pair("key", key);
        let reply = cx.egress.http(run, Method::GET, url.as_str(), cx.timeout, |r| r).await?;
        let accepted = match reply.status {
            200..=299 => Ok(()),
            s => Err(google_failure(cx, &reply, s)),
        };
        run.check("authenticate", accepted, |()| "Google accepted the API key".to_owned())?;
        run.check(
            "read",
            reply.json().and_then(|body| {
                voices_of(&body, |v| {
                    let name = text(v, "name")?;
                    let languages: Vec<&str> = v
                        .get("languageCodes")
                        .and_then(Value::as_array)
                        .map(|codes| codes.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut details = languages.join(", ");
                    if let Some(gender) = text(v, "ssmlGender") {
                        details = format!("{details}, {}", gender.to_lowercase());
                    }
                    Some(Voice {
                        name: name.to_owned(),
                        label: format!("{name} ({})", details.trim_start_matches(", ")),
                    })
                })
            }),
            |voices| format!("{} voices", voices.len()),
        )
    }
}

/// A Google API error (`{"error": {"code", "message", "status", "details": [{"reason"}]}}`):
/// an invalid or missing key is `invalid_credentials`; 403 (the API not enabled for the key's
/// project, or the key restricted) is `permission`.
fn google_failure(cx: &Context<'_>, reply: &HttpReply, status: u16) -> Failure {
    let error = serde_json::from_slice::<Value>(&reply.body).ok().and_then(|b| b.get("error").cloned());
    let message = error.as_ref().and_then(|e| text(e, "message")).map(|m| quote(cx, m)).unwrap_or_default();
    let reason = error
        .as_ref()
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .and_then(|details| details.iter().find_map(|d| text(d, "reason")))
        .unwrap_or_default()
        .to_owned();
    let said = if message.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {message}") };
    let key_problem = reason.starts_with("API_KEY_INVALID") || message.contains("API key");
    match status {
        400 | 401 if key_problem || status == 401 => {
            Failure::new(Category::InvalidCredentials, format!("Google refused the API key ({said})"))
        }
        403 => Failure::new(Category::Permission, format!("the API key may not use Cloud Text-to-Speech ({said})")),
        404 => Failure::new(Category::NotFound, format!("no voices list at the Google TTS URL ({said})")),
        s if message.is_empty() => Failure::from_status(s, "voices list"),
        _ => Failure::new(Category::UnexpectedResponse, format!("Google answered {said}")),
    }
}

#[async_trait]
impl Connector for GoogleTts {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        &[("tts", "google")]
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let voices = GoogleTts::voices(cx, run).await?;
        configured_voice_offered(cx, run, tts::google::VOICE, &voices)
    }

    async fn action(
        &self,
        cx: &Context<'_>,
        action: &str,
        _params: &Map<String, Value>,
        run: &mut TestRun,
    ) -> Result<ActionResult, Failure> {
        if action != "load_voices" {
            return Err(not_an_action(action));
        }
        Ok(voices_outcome(GoogleTts::voices(cx, run).await?))
    }
}
