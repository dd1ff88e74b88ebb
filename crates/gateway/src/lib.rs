//! The runtime gateway: the contact center's applications use the tenant's accounts through
//! typed operations (suggestions, sentiment, caller identification, CRM search, speech,
//! streaming speech to text, the knowledge base), and patchbay speaks
//! each vendor's API with the credentials it holds. It owns the selection rules (which
//! account serves a call), the daily quotas (a unit reserved in the database before the
//! call is sent), usage and live health per account, the chat bot bindings and the kept
//! contexts of stateless bot conversations.
//!
//! It must not answer HTTP or decide access (the server does), pass a request through to a
//! vendor as it came (every operation is typed, so no caller chooses a URL or sees a
//! credential), reach a vendor but through `Egress`, open a secret but through `secrets`,
//! or let a secret reach a result, an error or a log line.

mod crm;
mod error;
mod kb;
mod ledger;
mod speech;
mod stt;
mod vendors;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;
use futures::StreamExt as _;
use patchbay_api::{
    Bindings, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, KbArticleWrite, KbResult, KbResults,
    KbSearchQuery, KbSource, KbTopicCreated, LiveError, LiveHealth, Sentiment, SentimentRequest, SpeechRequest,
    SuggestRequest, Suggestions, TranscribeQuery, TranscriptPiece, Usage, UsageDay, MAX_TEXT_CHARS,
};
use patchbay_catalog::keys::{chat_bot, external_kb, next_caller, nlu, tdg, DEFAULT_ACCOUNT};
use patchbay_connectors::{AccountConfig, Category, Egress, VendorUrls};
use patchbay_secrets::AccountSecrets;
use patchbay_store::{Account, Binding, BindingKind, CallOutcome, GatewayStore, KbStore, Reserved, Store, UnitRequest};
use serde_json::Value;
use uuid::Uuid;

pub use error::GatewayError;
pub use kb::checked_article;
pub use ledger::Ledger;
use ledger::{day_of, next_day_starts};
pub use speech::{Audio, AudioStream, SpeechCache};
pub use stt::{Inbound, RelayEnd, CLIENT_IDLE};
use vendors::{Call, Lookup};

/// Where the gateway counts its calls (the server's `/metrics`).
pub trait GatewayMetrics: Send + Sync {
    /// One call of `operation` on an account of `type_key`/`provider` that ended as
    /// `outcome` (`ok` or a failure category) after `seconds`.
    fn record_call(&self, type_key: &str, provider: &str, operation: &str, outcome: &str, seconds: f64);
}

/// The time the gateway reads: the system clock, or one a test sets.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that reads `now()`.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// How the gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Timeout of each vendor call.
    pub timeout: Duration,
    /// How long a bot conversation's context is kept after its last message.
    pub context_ttl: Duration,
    pub clock: Clock,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            timeout: Duration::from_secs(10),
            context_ttl: Duration::from_secs(30 * 60),
            clock: Clock::system(),
        }
    }
}

/// What the gateway works with.
pub struct GatewayParts {
    pub store: Arc<dyn Store>,
    pub ledger: Arc<dyn GatewayStore>,
    /// The native knowledge base.
    pub kb: Arc<dyn KbStore>,
    pub keys: Arc<AccountSecrets>,
    pub egress: Egress,
    pub vendors: VendorUrls,
    pub metrics: Arc<dyn GatewayMetrics>,
}

/// The gateway's operations. Cheap to share (`Arc`); its ledger task runs while it lives.
pub struct Gateway {
    parts: GatewayParts,
    options: GatewayOptions,
    ledger: Ledger,
    speech: Arc<SpeechCache>,
}

/// Synthesized speech and where it came from.
pub struct Speech {
    pub content_type: &'static str,
    pub account: Uuid,
    /// Served from the tenant's cache: the vendor was not called.
    pub cached: bool,
    pub audio: Audio,
}

/// The sentiments of several texts and the NLU account that gave them.
pub struct Sentiments {
    pub account: Option<Uuid>,
    /// One per text, `None` where there is none.
    pub each: Vec<Option<(patchbay_api::SentimentLabel, f64)>>,
    /// Why some or all are missing.
    pub error: Option<String>,
}

/// A speech recognition session, open with the vendor and ready for audio: hand it to
/// [`Gateway::relay`].
pub struct Transcription {
    pub account: Uuid,
    ticket: Ticket,
    session: stt::Session,
    interim: bool,
}

/// Each operation and the (type, provider) pairs it speaks to; a provider the catalog adds
/// to one of these types fails the test that holds this table to the catalog until the
/// gateway speaks it.
pub const SERVED: &[(&str, &[(&str, &str)])] = &[
    ("suggestions", &[("chat_bot", "alterra"), ("chat_bot", "watson")]),
    ("sentiment", &[("nlu", "default")]),
    ("identify", &[("next_caller", "default"), ("tdg", "default")]),
    (
        "crm_search",
        &[
            ("oracle_service_cloud", "default"),
            ("rightnow", "default"),
            ("salesforce", "default"),
            ("servicenow", "default"),
            ("zendesk", "default"),
        ],
    ),
    ("speech", &[("tts", "google"), ("tts", "watson")]),
    ("kb_search", &[("external_kb", "synthetix")]),
    ("transcribe", &[("stt", "govivace"), ("stt", "watson")]),
];

/// The account types each operation takes.
const BOTS: &[&str] = &["chat_bot"];
const NLU: &[&str] = &["nlu"];
const LOOKUPS: &[&str] = &["next_caller", "tdg"];
const TTS: &[&str] = &["tts"];
const STT: &[&str] = &["stt"];
const CRMS: &[&str] = &["salesforce", "zendesk", "servicenow", "oracle_service_cloud", "rightnow"];

/// The daily quota field of each provider that has one.
const QUOTAS: &[(&str, &str, &str)] =
    &[("chat_bot", "watson", chat_bot::watson::MAX_API_CALLS_PER_DAY), ("nlu", "default", nlu::LIMIT)];

/// The time zone an IANA name names (`UTC`, `Europe/Berlin`), as the time zone database
/// spells it.
pub fn time_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// The daily quota of an account, when its provider has one and it is set.
pub fn daily_quota(account: &Account) -> Option<i64> {
    QUOTAS
        .iter()
        .find(|(t, p, _)| *t == account.type_key && *p == account.provider)
        .and_then(|(_, _, key)| account.properties.get(*key)?.as_i64())
        .filter(|limit| *limit >= 1)
}

impl Gateway {
    /// The gateway, with its ledger task started on the current runtime.
    pub fn start(parts: GatewayParts, options: GatewayOptions) -> Gateway {
        let ledger = Ledger::start(parts.ledger.clone());
        Gateway { parts, options, ledger, speech: Arc::default() }
    }

    /// Suggestions for an agent: the named account, else the service's bound chat bot,
    /// else the launch point's.
    pub async fn suggest(&self, tenant: &str, request: &SuggestRequest) -> Result<Suggestions, GatewayError> {
        check_length("text", &request.text, MAX_TEXT_CHARS)?;
        check_name("conversation_id", &request.conversation_id)?;
        for (field, name) in [("service", &request.service), ("launch_point", &request.launch_point)] {
            if let Some(name) = name {
                check_name(field, name)?;
            }
        }
        let account = match request.account {
            Some(id) => self.named(tenant, id, BOTS, "account").await?,
            None => self.bound(tenant, request).await?,
        };
        let ticket = self.begin(tenant, &account, "suggestions").await?;
        let call = self.call(&ticket);
        let result = match account.provider.as_str() {
            "alterra" => vendors::alterra(&call, &request.text, &request.conversation_id).await,
            "watson" => self.watson_suggestions(tenant, account.id, &call, request).await,
            other => Err(unserved(&account.type_key, other)),
        };
        let suggestions = self.finish(ticket, result).await?;
        Ok(Suggestions { suggestions, account: account.id })
    }

    async fn watson_suggestions(
        &self,
        tenant: &str,
        account: Uuid,
        call: &Call<'_>,
        request: &SuggestRequest,
    ) -> Result<Vec<patchbay_api::Suggestion>, GatewayError> {
        let max =
            call.account.int(chat_bot::watson::MAXIMUM_SUGGESTIONS).and_then(|m| usize::try_from(m).ok()).unwrap_or(1);
        let now = self.options.clock.now();
        let kept = self.parts.ledger.conversation_context(tenant, account, &request.conversation_id, now).await?;
        let (suggestions, context) = vendors::watson_message(call, &request.text, kept, max).await?;
        if let Some(context) = context {
            let ttl =
                chrono::Duration::from_std(self.options.context_ttl).unwrap_or_else(|_| chrono::Duration::hours(1));
            self.parts
                .ledger
                .keep_conversation_context(tenant, account, &request.conversation_id, &context, now + ttl)
                .await?;
        }
        Ok(suggestions)
    }

    /// The sentiment of a text: the named NLU account, else the tenant's only enabled one.
    pub async fn sentiment(&self, tenant: &str, request: &SentimentRequest) -> Result<Sentiment, GatewayError> {
        check_length("text", &request.text, MAX_TEXT_CHARS)?;
        let account = self.pick(tenant, request.account, NLU, "Natural Language Understanding").await?;
        let (label, score) = self.sentiment_of(tenant, &account, &request.text).await?;
        Ok(Sentiment { label, score, account: account.id })
    }

    /// One sentiment call of an NLU account already picked.
    async fn sentiment_of(
        &self,
        tenant: &str,
        account: &Account,
        text: &str,
    ) -> Result<(patchbay_api::SentimentLabel, f64), GatewayError> {
        let ticket = self.begin(tenant, account, "sentiment").await?;
        let result = vendors::sentiment(&self.call(&ticket), text).await;
        self.finish(ticket, result).await
    }

    /// The sentiment of each text (a transcript's utterances) from the tenant's only enabled
    /// NLU account, each a call against its daily quota. Without an enabled NLU account
    /// there is none and no error; with several, or once a call fails (its quota ran out,
    /// the vendor failed), the rest have none and `error` says why.
    pub async fn sentiments(&self, tenant: &str, texts: &[&str]) -> Result<Sentiments, GatewayError> {
        let mut out = Sentiments { account: None, each: Vec::with_capacity(texts.len()), error: None };
        let account = match self.pick(tenant, None, NLU, "Natural Language Understanding").await {
            Ok(account) => account,
            Err(GatewayError::Conflict { rule: "no_account", .. }) => {
                out.each.resize(texts.len(), None);
                return Ok(out);
            }
            Err(GatewayError::Conflict { message, .. }) => {
                out.each.resize(texts.len(), None);
                out.error = Some(message);
                return Ok(out);
            }
            Err(other) => return Err(other),
        };
        out.account = Some(account.id);
        // The account was picked once: each utterance is one call of it, not a new pick.
        for (done, text) in texts.iter().enumerate() {
            if check_length("text", text, MAX_TEXT_CHARS).is_err() {
                // An utterance NLU does not take (empty, too long) has none; the rest go on.
                out.each.push(None);
                continue;
            }
            match self.sentiment_of(tenant, &account, text).await {
                Ok(sentiment) => out.each.push(Some(sentiment)),
                Err(e @ (GatewayError::Quota { .. } | GatewayError::Vendor { .. })) => {
                    out.error = Some(format!("{e}; sentiment stopped after {done} of {} utterances", texts.len()));
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        out.each.resize(texts.len(), None);
        Ok(out)
    }

    /// Who a caller is, as the contact fields the account's Field Mapping names: the named
    /// account, else the tenant's only enabled Next Caller or The Data Group account.
    pub async fn identify(&self, tenant: &str, request: &IdentifyRequest) -> Result<Identity, GatewayError> {
        let lookup = lookup_of(request.phone.as_deref(), request.email.as_deref())?;
        let account = self.pick(tenant, request.account, LOOKUPS, "Next Caller or The Data Group").await?;
        let ticket = self.begin(tenant, &account, "identify").await?;
        let call = self.call(&ticket);
        let result = match account.type_key.as_str() {
            "next_caller" => vendors::next_caller_record(&call, &lookup).await,
            "tdg" => vendors::tdg_record(&call, &lookup).await,
            other => Err(unserved(other, &account.provider)),
        };
        let record = self.finish(ticket, result).await?;
        let mapping_key =
            if account.type_key == "next_caller" { next_caller::FIELD_MAPPING } else { tdg::FIELD_MAPPING };
        let contact = match record {
            Some(record) => map_contact(&vendors::flatten(&record), account.properties.get(mapping_key)),
            None => BTreeMap::new(),
        };
        Ok(Identity { contact, account: account.id })
    }

    /// Speech for a prompt: the named Text To Speech account, else the tenant's only enabled
    /// one; the voice asked for, else the account's. Identical requests come from the
    /// tenant's cache.
    pub async fn speech(&self, tenant: &str, request: &SpeechRequest) -> Result<Speech, GatewayError> {
        let script = match (&request.text, &request.ssml) {
            (Some(_), Some(_)) => {
                return Err(GatewayError::invalid("text", "one_of", "give `text` or `ssml`, not both"))
            }
            (None, None) => {
                return Err(GatewayError::invalid("text", "required", "give the `text` or the `ssml` to speak"))
            }
            (Some(text), None) => {
                check_length("text", text, SpeechRequest::MAX_CHARS)?;
                speech::Script::Text(text)
            }
            (None, Some(ssml)) => {
                check_length("ssml", ssml, SpeechRequest::MAX_CHARS)?;
                speech::Script::Ssml(ssml)
            }
        };
        if let Some(voice) = &request.voice {
            let ok = voice.len() <= 100 && voice.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(GatewayError::invalid("voice", "voice", "a voice name is 1-100 of A-Z a-z 0-9 - _ ."));
            }
        }
        let account = self.pick(tenant, request.account, TTS, "Text To Speech").await?;
        let format = request.format;
        let ticket = self.begin(tenant, &account, "speech").await?;
        let call = self.call(&ticket);
        let voice = speech::voice_of(&call, request.voice.as_deref()).map(str::to_owned);
        let key = speech::cache_key(&account, voice.as_deref().unwrap_or(""), format, &script);
        let content_type = format.content_type();
        if let Some(audio) = self.speech.get(tenant, &key) {
            self.release(ticket).await;
            return Ok(Speech { content_type, account: account.id, cached: true, audio: Audio::Whole(audio) });
        }
        let result = match account.provider.as_str() {
            "google" => speech::google(&call, &script, voice.as_deref(), format).await.map(|audio| {
                self.speech.put(tenant, key, audio.clone());
                Audio::Whole(audio)
            }),
            "watson" => speech::watson(&call, &script, voice.as_deref(), format).await.map(|stream| {
                Audio::Streamed(speech::tee_into_cache(stream, self.speech.clone(), tenant.to_owned(), key))
            }),
            other => Err(unserved(&account.type_key, other)),
        };
        let audio = self.finish(ticket, result).await?;
        Ok(Speech { content_type, account: account.id, cached: false, audio })
    }

    /// Opens a speech recognition session: the named Speech To Text account, else the
    /// tenant's default one. The vendor's side is open (credentials accepted, ready for
    /// audio) when this returns, so every refusal comes before a client upgrades.
    pub async fn transcription(&self, tenant: &str, query: &TranscribeQuery) -> Result<Transcription, GatewayError> {
        let spec = match (query.format.unwrap_or_default(), query.rate) {
            (patchbay_api::AudioInput::Wav, Some(_)) => {
                return Err(GatewayError::invalid(
                    "rate",
                    "wav",
                    "a WAV file's header gives its rate; leave `rate` out",
                ))
            }
            (patchbay_api::AudioInput::Wav, None) => stt::AudioSpec::Container("audio/wav"),
            (patchbay_api::AudioInput::L16, None) => {
                return Err(GatewayError::invalid("rate", "required", "`l16` audio needs its sample `rate` in Hz"))
            }
            (patchbay_api::AudioInput::L16, Some(rate)) if TranscribeQuery::RATES.contains(&rate) => {
                stt::AudioSpec::Raw(rate)
            }
            (patchbay_api::AudioInput::L16, Some(_)) => {
                let range = TranscribeQuery::RATES;
                return Err(GatewayError::invalid(
                    "rate",
                    "range",
                    format!("rate must be between {} and {} Hz", range.start(), range.end()),
                ));
            }
        };
        check_model(query.model.as_deref())?;
        let account = self.stt_account(tenant, query.account).await?;
        self.open_transcription(tenant, &account, spec, query.model.as_deref(), query.interim.unwrap_or(true)).await
    }

    /// The Speech To Text account that serves a transcription: the named one, else the
    /// tenant's default.
    pub async fn stt_account(&self, tenant: &str, account: Option<Uuid>) -> Result<Arc<Account>, GatewayError> {
        match account {
            Some(id) => self.named(tenant, id, STT, "account").await,
            None => self.default_stt(tenant).await,
        }
    }

    async fn open_transcription(
        &self,
        tenant: &str,
        account: &Account,
        spec: stt::AudioSpec,
        model: Option<&str>,
        interim: bool,
    ) -> Result<Transcription, GatewayError> {
        let ticket = self.begin(tenant, account, "transcribe").await?;
        let opened = stt::open(&self.call(&ticket), spec, model, interim).await;
        match opened {
            Ok(session) => Ok(Transcription { account: account.id, ticket, session, interim }),
            Err(e) => self.finish(ticket, Err(e)).await,
        }
    }

    /// Transcribes a stored recording whole: its audio (of `media_type`) through `account`,
    /// final results only, in order.
    pub async fn transcribe_recording<S>(
        &self,
        tenant: &str,
        account: &Account,
        model: Option<&str>,
        media_type: &str,
        audio: S,
    ) -> Result<Vec<TranscriptPiece>, GatewayError>
    where
        S: futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    {
        check_model(model)?;
        let spec = stt::AudioSpec::of_media_type(media_type).ok_or_else(|| {
            GatewayError::conflict(
                "audio",
                "media_type",
                format!("the {} account cannot transcribe {media_type} audio", account.name),
            )
        })?;
        let transcription = self.open_transcription(tenant, account, spec, model, false).await?;
        let unreadable = std::sync::Mutex::new(None::<String>);
        let end = serde_json::json!({"action": "end"}).to_string();
        let mut inbound = audio
            .map(|chunk| match chunk {
                Ok(bytes) => Inbound::Audio(bytes),
                Err(e) => {
                    *unreadable.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
                    Inbound::Gone
                }
            })
            .chain(futures::stream::iter([Inbound::Text(end)]))
            .chain(futures::stream::pending());
        let mut pieces: Vec<TranscriptPiece> = Vec::new();
        match self.relay(transcription, &mut inbound, &mut pieces).await {
            RelayEnd::Finished => Ok(pieces),
            RelayEnd::Failed(e) => Err(e),
            RelayEnd::ClientGone => {
                let why = unreadable.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                Err(GatewayError::conflict(
                    "audio",
                    "unreadable",
                    format!("the recording's audio could not be read: {}", why.unwrap_or_default()),
                ))
            }
        }
    }

    /// Relays a client's audio (`inbound`) to an open transcription and its results to
    /// `outbound` until the results end, the client leaves or either side fails; the
    /// session counts as one call of the account.
    pub async fn relay<I, O>(&self, transcription: Transcription, inbound: &mut I, outbound: &mut O) -> RelayEnd
    where
        I: futures::Stream<Item = Inbound> + Unpin,
        O: futures::Sink<TranscriptPiece> + Unpin,
    {
        let Transcription { ticket, session, interim, .. } = transcription;
        let scrubber = ticket.config.scrubber();
        let end = stt::relay(session, inbound, outbound, interim, self.options.timeout, &scrubber).await;
        // A mistake of the client's is not the account's failure: the vendor served it.
        let vendor_failed = matches!(&end, RelayEnd::Failed(e) if !matches!(e, GatewayError::Invalid { .. }));
        match end {
            RelayEnd::Failed(e) if vendor_failed => match self.finish(ticket, Err(e)).await {
                Err(e) => RelayEnd::Failed(e),
                Ok(()) => RelayEnd::Finished,
            },
            other => {
                let _ = self.finish(ticket, Ok(())).await;
                other
            }
        }
    }

    /// The tenant's default Speech To Text account, which must be enabled.
    async fn default_stt(&self, tenant: &str) -> Result<Arc<Account>, GatewayError> {
        let accounts = self.parts.store.list_accounts(tenant, Some("stt")).await?;
        let default = accounts.into_iter().find(|a| a.properties.get(DEFAULT_ACCOUNT) == Some(&Value::Bool(true)));
        match default {
            Some(account) if account.enabled => Ok(account),
            Some(account) => Err(GatewayError::conflict(
                "account",
                "disabled",
                format!("the default Speech To Text account `{}` is disabled; enable it or name another", account.name),
            )),
            None => Err(GatewayError::conflict(
                "account",
                "no_account",
                "the tenant has no default Speech To Text account; mark one Default account or name one in `account`",
            )),
        }
    }

    /// Searches the knowledge base: the enabled external account marked exclusive alone;
    /// otherwise the native KB, and the (first enabled) external account only when the
    /// native KB finds nothing.
    pub async fn kb_search(&self, tenant: &str, query: &KbSearchQuery) -> Result<KbResults, GatewayError> {
        if query.q.chars().count() > KbSearchQuery::Q_MAX_CHARS {
            return Err(GatewayError::invalid(
                "q",
                "max_length",
                format!("`q` is longer than {} characters", KbSearchQuery::Q_MAX_CHARS),
            ));
        }
        let words = patchbay_store::search_words(&query.q);
        if words.is_empty() {
            return Err(GatewayError::invalid("q", "required", "`q` holds no word to search for"));
        }
        let limit = query.limit.unwrap_or(KbSearchQuery::DEFAULT_LIMIT);
        if !KbSearchQuery::LIMIT.contains(&limit) {
            let range = KbSearchQuery::LIMIT;
            return Err(GatewayError::invalid(
                "limit",
                "range",
                format!("limit must be between {} and {}", range.start(), range.end()),
            ));
        }
        let account = match self.external_kb(tenant).await? {
            (Some(exclusive), _) => exclusive,
            (None, external) => {
                let hits = self.parts.kb.search_articles(tenant, &words, i64::from(limit)).await?;
                match external {
                    Some(external) if hits.is_empty() => external,
                    _ => {
                        let results = hits
                            .into_iter()
                            .map(|h| KbResult {
                                title: h.title,
                                snippet: h.snippet,
                                url: h.url,
                                id: h.id.to_string(),
                                source: KbSource::Native,
                            })
                            .collect();
                        return Ok(KbResults { results, provider: "native".to_owned() });
                    }
                }
            }
        };
        let ticket = self.begin(tenant, &account, "kb_search").await?;
        let result = kb::synthetix_search(&self.call(&ticket), &query.q, limit as usize).await;
        let results = self.finish(ticket, result).await?;
        Ok(KbResults { results, provider: account.id.to_string() })
    }

    /// Submits a topic: to the native KB, unless an external account is exclusive (Synthetix
    /// documents no way to submit one, so that is refused with what to do).
    pub async fn kb_topic(
        &self,
        tenant: &str,
        topic: &KbArticleWrite,
        actor: &str,
    ) -> Result<KbTopicCreated, GatewayError> {
        let write = checked_article(topic)?;
        if let (Some(account), _) = self.external_kb(tenant).await? {
            return Err(GatewayError::conflict(
                "title",
                "exclusive_kb",
                format!(
                    "the exclusive knowledge base is the Synthetix account `{}`, whose API offers no way to submit a \
                     topic: add it in Synthetix, or clear Use as exclusive KB to keep topics in the native KB",
                    account.name
                ),
            ));
        }
        let id = Uuid::now_v7();
        self.parts.kb.create_article(tenant, id, &write, actor).await?;
        Ok(KbTopicCreated { id: id.to_string(), provider: "native".to_owned() })
    }

    /// The tenant's enabled external KB accounts: the exclusive one (409 when several are)
    /// and the first supplementary one.
    async fn external_kb(&self, tenant: &str) -> Result<(Option<Arc<Account>>, Option<Arc<Account>>), GatewayError> {
        let accounts = self.parts.store.list_accounts(tenant, Some("external_kb")).await?;
        let enabled: Vec<Arc<Account>> = accounts.into_iter().filter(|a| a.enabled).collect();
        let is_exclusive =
            |a: &&Arc<Account>| a.properties.get(external_kb::USE_AS_EXCLUSIVE_KB) == Some(&Value::Bool(true));
        let exclusives: Vec<&Arc<Account>> = enabled.iter().filter(is_exclusive).collect();
        if exclusives.len() > 1 {
            return Err(GatewayError::conflict(
                "account",
                "ambiguous",
                format!(
                    "{} external KB accounts are marked Use as exclusive KB ({}); only one may be",
                    exclusives.len(),
                    exclusives.iter().map(|a| format!("`{}`", a.name)).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let exclusive = exclusives.first().map(|a| Arc::clone(a));
        let supplementary = enabled.iter().find(|a| !is_exclusive(a)).cloned();
        Ok((exclusive, supplementary))
    }

    /// The named CRM account's contacts with a phone number or an email address.
    pub async fn crm_search(&self, tenant: &str, request: &CrmSearchRequest) -> Result<CrmContacts, GatewayError> {
        let lookup = lookup_of(request.phone.as_deref(), request.email.as_deref())?;
        let account = self.pick(tenant, request.account, CRMS, "CRM").await?;
        let ticket = self.begin(tenant, &account, "crm_search").await?;
        let result = crm::search(&self.call(&ticket), &lookup).await;
        let contacts = self.finish(ticket, result).await?;
        Ok(CrmContacts { contacts, account: account.id })
    }

    /// The tenant's chat bot bindings.
    pub async fn bindings(&self, tenant: &str) -> Result<Bindings, GatewayError> {
        let mut out = Bindings::default();
        for binding in self.parts.ledger.bindings(tenant).await? {
            match binding.kind {
                BindingKind::Service => out.services.insert(binding.name, binding.account_id),
                BindingKind::LaunchPoint => out.launch_points.insert(binding.name, binding.account_id),
            };
        }
        Ok(out)
    }

    /// Replaces the tenant's bindings; each named account must be an enabled chat bot
    /// account of the tenant.
    pub async fn replace_bindings(
        &self,
        tenant: &str,
        bindings: &Bindings,
        actor: &str,
    ) -> Result<Bindings, GatewayError> {
        let mut rows = Vec::new();
        for (kind, field, map) in [
            (BindingKind::Service, "services", &bindings.services),
            (BindingKind::LaunchPoint, "launch_points", &bindings.launch_points),
        ] {
            if map.len() > Bindings::MAX_PER_KIND {
                return Err(GatewayError::invalid(
                    field,
                    "max_items",
                    format!("at most {} bindings", Bindings::MAX_PER_KIND),
                ));
            }
            for (name, id) in map {
                check_name(field, name)?;
                self.named(tenant, *id, BOTS, field).await.map_err(|e| match e {
                    GatewayError::AccountNotFound => GatewayError::invalid(
                        field,
                        "account",
                        format!("`{name}`: account {id} is not one of the tenant's"),
                    ),
                    GatewayError::Conflict { rule, message, .. } => {
                        GatewayError::invalid(field, rule, format!("`{name}`: {message}"))
                    }
                    other => other,
                })?;
                rows.push(Binding { kind, name: name.clone(), account_id: *id });
            }
        }
        self.parts.ledger.replace_bindings(tenant, &rows, actor).await?;
        self.bindings(tenant).await
    }

    /// Where an account is bound, as `service Sales`, `launch point web-chat`.
    pub async fn bound_to(&self, tenant: &str, account: Uuid) -> Result<Vec<String>, GatewayError> {
        Ok(self
            .parts
            .ledger
            .bindings(tenant)
            .await?
            .into_iter()
            .filter(|b| b.account_id == account)
            .map(|b| match b.kind {
                BindingKind::Service => format!("service {}", b.name),
                BindingKind::LaunchPoint => format!("launch point {}", b.name),
            })
            .collect())
    }

    /// The account's calls, errors and quota per day for the last `days` days (today in
    /// the tenant's time zone included), and the live health of its traffic.
    pub async fn usage(&self, tenant: &str, account: &Account, days: u32) -> Result<Usage, GatewayError> {
        let zone = self.zone(tenant).await?;
        let today = day_of(zone, self.options.clock.now());
        let from = today.checked_sub_days(Days::new(u64::from(days.max(1)) - 1)).unwrap_or(today);
        let counted: BTreeMap<_, _> = self
            .parts
            .ledger
            .usage(tenant, account.id, from, today)
            .await?
            .into_iter()
            .map(|d| (d.day, (d.calls, d.errors)))
            .collect();
        let quota = daily_quota(account);
        let days = from
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|day| {
                let (calls, errors) = counted.get(&day).copied().unwrap_or_default();
                UsageDay { day, calls, errors, quota }
            })
            .collect();
        let live = self
            .live(tenant, Some(account.id))
            .await?
            .remove(&account.id)
            .unwrap_or(LiveHealth { last_success_at: None, last_error: None });
        Ok(Usage { account: account.id, time_zone: zone.name().to_owned(), days, live })
    }

    /// The live health of each of the tenant's accounts that had gateway traffic (only
    /// `account`'s when given).
    pub async fn live(&self, tenant: &str, account: Option<Uuid>) -> Result<HashMap<Uuid, LiveHealth>, GatewayError> {
        let health = self.parts.ledger.live_health(tenant, account).await?;
        Ok(health
            .into_iter()
            .map(|(id, h)| {
                let last_error = match (h.last_error_at, h.last_error) {
                    (Some(at), Some((category, message))) => Some(LiveError {
                        at,
                        category: serde_json::from_value(Value::String(category))
                            .unwrap_or(Category::UnexpectedResponse),
                        message,
                    }),
                    _ => None,
                };
                (id, LiveHealth { last_success_at: h.last_ok_at, last_error })
            })
            .collect())
    }

    /// The tenant's time zone.
    async fn zone(&self, tenant: &str) -> Result<Tz, GatewayError> {
        let tenant = self.parts.store.get_tenant(tenant).await?;
        Ok(time_zone(&tenant.time_zone).unwrap_or_else(|| {
            tracing::warn!(tenant = %tenant.id, zone = %tenant.time_zone, "unknown time zone; days follow UTC");
            Tz::UTC
        }))
    }

    /// The named account, which must be the tenant's, of one of `types` and enabled.
    async fn named(
        &self,
        tenant: &str,
        id: Uuid,
        types: &[&str],
        field: &'static str,
    ) -> Result<Arc<Account>, GatewayError> {
        let account = match self.parts.store.get_account(tenant, id).await {
            Err(patchbay_store::StoreError::NotFound) => return Err(GatewayError::AccountNotFound),
            other => Arc::new(other?),
        };
        if !types.contains(&account.type_key.as_str()) {
            return Err(GatewayError::conflict(
                field,
                "type",
                format!(
                    "the account `{}` is a {} account; this operation takes {}",
                    account.name,
                    type_label(&account.type_key),
                    types.iter().map(|t| type_label(t)).collect::<Vec<_>>().join(" or ")
                ),
            ));
        }
        if !account.enabled {
            return Err(GatewayError::conflict(
                field,
                "disabled",
                format!("the account `{}` is disabled; enable it first", account.name),
            ));
        }
        Ok(account)
    }

    /// The named account, else the tenant's only enabled account of `types`.
    async fn pick(
        &self,
        tenant: &str,
        id: Option<Uuid>,
        types: &[&str],
        what: &str,
    ) -> Result<Arc<Account>, GatewayError> {
        if let Some(id) = id {
            return self.named(tenant, id, types, "account").await;
        }
        let mut fitting: Vec<Arc<Account>> = Vec::new();
        for type_key in types {
            let accounts = self.parts.store.list_accounts(tenant, Some(type_key)).await?;
            fitting.extend(accounts.into_iter().filter(|a| a.enabled));
        }
        match fitting.len() {
            1 => Ok(fitting.remove(0)),
            0 => Err(GatewayError::conflict(
                "account",
                "no_account",
                format!("the tenant has no enabled {what} account; create or enable one"),
            )),
            n => Err(GatewayError::conflict(
                "account",
                "ambiguous",
                format!(
                    "the tenant has {n} enabled {what} accounts ({}); name one in `account`",
                    fitting.iter().map(|a| format!("`{}` {}", a.name, a.id)).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// The chat bot bound to the request's service, else to its launch point.
    async fn bound(&self, tenant: &str, request: &SuggestRequest) -> Result<Arc<Account>, GatewayError> {
        if request.service.is_none() && request.launch_point.is_none() {
            return Err(GatewayError::invalid(
                "account",
                "required",
                "name the chat bot in `account`, or give a `service` or `launch_point` that has one bound",
            ));
        }
        let bindings = self.parts.ledger.bindings(tenant).await?;
        let find = |kind: BindingKind, name: &Option<String>| {
            name.as_ref().and_then(|n| bindings.iter().find(|b| b.kind == kind && &b.name == n))
        };
        let (binding, field) =
            match (find(BindingKind::Service, &request.service), find(BindingKind::LaunchPoint, &request.launch_point))
            {
                (Some(b), _) => (b, "service"),
                (None, Some(b)) => (b, "launch_point"),
                (None, None) => {
                    let named: Vec<String> = [("service", &request.service), ("launch point", &request.launch_point)]
                        .into_iter()
                        .filter_map(|(what, name)| name.as_ref().map(|n| format!("{what} `{n}`")))
                        .collect();
                    return Err(GatewayError::conflict(
                        if request.service.is_some() { "service" } else { "launch_point" },
                        "unbound",
                        format!(
                            "no chat bot is bound to {}; bind one (PUT …/gateway/bindings) or name `account`",
                            named.join(" or ")
                        ),
                    ));
                }
            };
        self.named(tenant, binding.account_id, BOTS, field).await.map_err(|e| match e {
            GatewayError::AccountNotFound => {
                GatewayError::conflict(field, "unbound", "the bound account no longer exists")
            }
            other => other,
        })
    }

    /// Starts one vendor call for `account`: reserves a unit of its daily quota (when it
    /// has one) and opens its secrets for the call.
    async fn begin(&self, tenant: &str, account: &Account, operation: &'static str) -> Result<Ticket, GatewayError> {
        let started = Instant::now();
        let zone = self.zone(tenant).await?;
        let now = self.options.clock.now();
        let day = day_of(zone, now);
        let quota = daily_quota(account);
        if let Some(limit) = quota {
            let request = UnitRequest { tenant: tenant.to_owned(), account: account.id, day, limit };
            if self.ledger.reserve(request).await? == Reserved::Exhausted {
                let resets_at = next_day_starts(zone, day);
                let retry_after = u64::try_from((resets_at - now).num_seconds()).unwrap_or(0).max(1);
                self.parts.metrics.record_call(&account.type_key, &account.provider, operation, "quota_exceeded", 0.0);
                return Err(GatewayError::Quota { limit, resets_at, retry_after });
            }
        }
        let opened = self.parts.keys.lease().await.open(account);
        let ticket = Ticket {
            tenant: tenant.to_owned(),
            operation,
            started,
            day,
            reserved: quota.is_some(),
            config: AccountConfig {
                id: Some(account.id.to_string()),
                type_key: account.type_key.clone(),
                provider: account.provider.clone(),
                name: account.name.clone(),
                properties: account.properties.clone(),
                secrets: Default::default(),
            },
            account: account.id,
        };
        match opened {
            Ok(secrets) => Ok(Ticket { config: AccountConfig { secrets, ..ticket.config }, ..ticket }),
            Err(e) => self.finish(ticket, Err(e.into())).await,
        }
    }

    /// The vendor call of a ticket.
    fn call<'a>(&'a self, ticket: &'a Ticket) -> Call<'a> {
        Call {
            egress: &self.parts.egress,
            account: &ticket.config,
            vendors: &self.parts.vendors,
            timeout: self.options.timeout,
        }
    }

    /// Ends a call that needed no vendor (served from a cache): nothing is counted.
    async fn release(&self, ticket: Ticket) {
        let outcome = CallOutcome {
            tenant: ticket.tenant,
            account: ticket.account,
            day: ticket.day,
            reserved: ticket.reserved,
            counts: false,
            error: None,
            at: self.options.clock.now(),
        };
        if ticket.reserved {
            self.ledger.record(outcome).await;
        }
        self.parts.metrics.record_call(
            &ticket.config.type_key,
            &ticket.config.provider,
            ticket.operation,
            "cached",
            0.0,
        );
    }

    /// Ends a call: records its outcome (usage, live health) and metrics.
    async fn finish<T>(&self, ticket: Ticket, result: Result<T, GatewayError>) -> Result<T, GatewayError> {
        let error = result.as_ref().err();
        let outcome = match error.and_then(GatewayError::category) {
            Some(category) => category_name(category),
            None if error.is_some() => "internal".to_owned(),
            None => "ok".to_owned(),
        };
        let Ticket { tenant, operation, started, day, reserved, config, account } = ticket;
        self.parts.metrics.record_call(
            &config.type_key,
            &config.provider,
            operation,
            &outcome,
            started.elapsed().as_secs_f64(),
        );
        self.ledger
            .record(CallOutcome {
                tenant,
                account,
                day,
                reserved,
                counts: error.is_none_or(GatewayError::reached_vendor),
                error: error.map(|e| (outcome, e.to_string())),
                at: self.options.clock.now(),
            })
            .await;
        result
    }
}

/// One vendor call under way: the account's values with its secrets, and what its outcome
/// is recorded with.
struct Ticket {
    tenant: String,
    operation: &'static str,
    started: Instant,
    /// The day the call counts on.
    day: chrono::NaiveDate,
    /// Whether a quota unit was reserved for it.
    reserved: bool,
    config: AccountConfig,
    account: Uuid,
}

/// A provider of an operation's type that the gateway does not speak (a provider added to
/// the catalog before its gateway calls): the account cannot be used as it is.
fn unserved(type_key: &str, provider: &str) -> GatewayError {
    GatewayError::from_failure(patchbay_connectors::Failure::new(
        Category::InvalidConfig,
        format!("the gateway does not speak {type_key}/{provider} yet"),
    ))
}

fn category_name(category: Category) -> String {
    serde_json::to_value(category).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "unknown".into())
}

fn type_label(type_key: &str) -> &'static str {
    patchbay_catalog::catalog().get(type_key).map_or("unknown", |t| t.label)
}

fn check_length(field: &'static str, text: &str, max: usize) -> Result<(), GatewayError> {
    if text.trim().is_empty() {
        return Err(GatewayError::invalid(field, "required", format!("`{field}` is empty")));
    }
    if text.chars().count() > max {
        return Err(GatewayError::invalid(field, "max_length", format!("`{field}` is longer than {max} characters")));
    }
    Ok(())
}

/// A recognition model's name, when one is given.
pub fn check_model(model: Option<&str>) -> Result<(), GatewayError> {
    let Some(model) = model else { return Ok(()) };
    let max = TranscribeQuery::MODEL_MAX_CHARS;
    let ok =
        !model.is_empty() && model.len() <= max && model.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(GatewayError::invalid("model", "model", format!("a model name is 1-{max} of A-Z a-z 0-9 - _")))
    }
}

/// A service, launch point or conversation name: 1 to `Bindings::NAME_MAX_CHARS`
/// characters without control characters.
fn check_name(field: &'static str, name: &str) -> Result<(), GatewayError> {
    let max = Bindings::NAME_MAX_CHARS;
    if name.trim().is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(GatewayError::invalid(
            field,
            "name",
            format!("a name is 1-{max} characters without control characters"),
        ));
    }
    Ok(())
}

/// The one lookup a request asks for: a phone number (digits, with `+`, spaces, dashes,
/// dots and parentheses allowed; the vendors are sent the digits) or an email address.
fn lookup_of<'a>(phone: Option<&str>, email: Option<&'a str>) -> Result<Lookup<'a>, GatewayError> {
    match (phone, email) {
        (Some(_), Some(_)) => Err(GatewayError::invalid("phone", "one_of", "give `phone` or `email`, not both")),
        (None, None) => Err(GatewayError::invalid("phone", "required", "give the caller's `phone` or `email`")),
        (Some(phone), None) => {
            let ok = phone.chars().all(|c| c.is_ascii_digit() || " +-.()".contains(c))
                && (7..=15).contains(&phone.chars().filter(char::is_ascii_digit).count());
            if ok {
                Ok(Lookup::Phone(phone.chars().filter(char::is_ascii_digit).collect()))
            } else {
                Err(GatewayError::invalid(
                    "phone",
                    "phone",
                    "a phone number is 7-15 digits (with +, spaces, dashes, dots or parentheses)",
                ))
            }
        }
        (None, Some(email)) => {
            let ok = email.len() <= 254
                && email.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
                && !email.chars().any(|c| c.is_whitespace() || c.is_control() || "\"\\'^".contains(c));
            if ok {
                Ok(Lookup::Email(email))
            } else {
                Err(GatewayError::invalid("email", "email", "not an email address"))
            }
        }
    }
}

/// The contact fields a Field Mapping gives a flattened vendor record: each row whose
/// `external_field` the record has and whose `contact_field` is not none. Vendor fields no
/// row maps are not returned.
fn map_contact(record: &serde_json::Map<String, Value>, mapping: Option<&Value>) -> BTreeMap<String, String> {
    let rows = mapping.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    rows.iter()
        .filter_map(|row| {
            let external = row.get("external_field")?.as_str()?;
            let contact = row.get("contact_field")?.as_str()?;
            let value = match record.get(external)? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((contact.to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_provider_of_the_types_the_gateway_serves_is_spoken_to() {
        let types = [BOTS, NLU, LOOKUPS, CRMS, TTS, STT, &["external_kb"][..]].concat();
        let mut in_catalog: Vec<(&str, &str)> = patchbay_catalog::catalog()
            .types
            .iter()
            .filter(|t| types.contains(&t.key))
            .flat_map(|t| t.providers.iter().map(move |p| (t.key, p.key)))
            .collect();
        in_catalog.sort_unstable();
        let mut served: Vec<(&str, &str)> = SERVED.iter().flat_map(|(_, pairs)| pairs.iter().copied()).collect();
        served.sort_unstable();
        assert_eq!(served, in_catalog);
    }

    #[test]
    fn a_field_mapping_returns_only_mapped_fields_and_drops_rows_mapped_to_none() {
        let record = vendors::flatten(&json!({
            "first_name": "Jerry", "last_name": "Seinfeld", "email": "demo@example.com",
            "phone": [{"number": "2125558383", "line_type": "Mobile"}],
            "address": [{"city": "New York", "zip_code": "10024"}], "age": "45-54",
        }));
        let mapping = json!([
            {"external_field": "first_name", "contact_field": "first_name"},
            {"external_field": "phone.0.number", "contact_field": "phones_by_type.mobile"},
            {"external_field": "address.0.city", "contact_field": "custom.city"},
            {"external_field": "age", "contact_field": null},
            {"external_field": "not_in_the_record", "contact_field": "title"},
        ]);
        let contact = map_contact(&record, Some(&mapping));
        assert_eq!(
            contact,
            BTreeMap::from([
                ("first_name".to_owned(), "Jerry".to_owned()),
                ("phones_by_type.mobile".to_owned(), "2125558383".to_owned()),
                ("custom.city".to_owned(), "New York".to_owned()),
            ])
        );
        assert!(map_contact(&record, None).is_empty(), "no mapping, no fields");
    }

    #[test]
    fn a_lookup_takes_one_phone_number_or_one_email_address() {
        assert!(matches!(lookup_of(Some("+1 (212) 555-8383"), None), Ok(Lookup::Phone(p)) if p == "12125558383"));
        for bad in ["12345", "212555838312345678", "212-555-CALL"] {
            assert!(matches!(lookup_of(Some(bad), None), Err(GatewayError::Invalid { field: "phone", .. })), "{bad}");
        }
        assert!(matches!(lookup_of(None, Some("a@b.example")), Ok(Lookup::Email(_))));
        let quoted = lookup_of(None, Some("o'neil@b.example"));
        assert!(matches!(quoted, Err(GatewayError::Invalid { field: "email", .. })), "quotes never reach a query");
        let both = lookup_of(Some("2125558383"), Some("a@b.example"));
        assert!(matches!(both, Err(GatewayError::Invalid { rule: "one_of", .. })));
        assert!(matches!(lookup_of(None, None), Err(GatewayError::Invalid { rule: "required", .. })));
    }
}
