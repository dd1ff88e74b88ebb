//! What a feed is asked to do: the account as the supervisor receives it (`FeedSpec`) and
//! its typed configuration per feed kind, read from the account's properties with the
//! catalog's keys and defaults. Secrets stay `SecretString` until the request that sends them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use patchbay_catalog::keys::wfm::{aspect_tcp, http_post};
use patchbay_catalog::keys::{loxysoft, nice, statistics_receiver};
use patchbay_catalog::{catalog, Field, FieldKind, MappingValue, Provider};
use patchbay_vault::SecretString;
use reqwest::Url;
use serde_json::{Map, Value};

/// Widths of the configurable fields, in UTF-16 code units (the account's
/// `record_field_sizes`; the defaults match the RTA side's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFieldSizes {
    pub agent_id: usize,
    pub extension: usize,
    pub agent_mode: usize,
    pub reason_code: usize,
    pub service: usize,
    pub timestamp: usize,
}

impl Default for RecordFieldSizes {
    /// The catalog's defaults (those of the RTA side).
    fn default() -> Self {
        let mut sizes =
            RecordFieldSizes { agent_id: 0, extension: 0, agent_mode: 0, reason_code: 0, service: 0, timestamp: 0 };
        let described = catalog()
            .provider("wfm", "aspect_tcp")
            .and_then(|p| p.field(aspect_tcp::RECORD_FIELD_SIZES))
            .map(|f| &f.kind);
        if let Some(FieldKind::RecordFieldSizes { fields }) = described {
            for field in fields {
                if let Some(slot) = sizes.slot(field.key) {
                    *slot = field.default as usize;
                }
            }
        }
        sizes
    }
}

impl RecordFieldSizes {
    /// The width of the catalog's record field `key`, `None` for a name that is not one.
    pub(crate) fn slot(&mut self, key: &str) -> Option<&mut usize> {
        Some(match key {
            "agent_id" => &mut self.agent_id,
            "extension" => &mut self.extension,
            "agent_mode" => &mut self.agent_mode,
            "reason_code" => &mut self.reason_code,
            "service" => &mut self.service,
            "timestamp" => &mut self.timestamp,
            _ => return None,
        })
    }

    /// Characters in one record: type, health flag, the six fields, CR LF.
    pub fn record_chars(&self) -> usize {
        2 + self.timestamp + self.agent_id + self.extension + self.agent_mode + self.reason_code + self.service + 2
    }

    /// Bytes in one record (two per character).
    pub fn record_bytes(&self) -> usize {
        self.record_chars() * 2
    }
}

/// One enabled account of a pushing type, as the server hands it to the supervisor:
/// properties with the catalog's defaults applied, secrets in clear.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    pub account_id: String,
    pub tenant: String,
    pub type_key: String,
    pub provider: String,
    pub properties: Map<String, Value>,
    pub secrets: BTreeMap<String, SecretString>,
}

/// The kinds of feed, one per pushing `(type, provider)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    AspectTcp,
    WfmHttp,
    Loxysoft,
    Nice,
    StatisticsReceiver,
}

impl FeedKind {
    pub const ALL: [FeedKind; 5] =
        [FeedKind::AspectTcp, FeedKind::WfmHttp, FeedKind::Loxysoft, FeedKind::Nice, FeedKind::StatisticsReceiver];

    /// The `(type, provider)` pairs whose accounts this kind of feed carries; its
    /// integration's connection test serves the same pairs.
    pub fn handles(self) -> &'static [(&'static str, &'static str)] {
        match self {
            FeedKind::AspectTcp => &[("wfm", "aspect_tcp")],
            FeedKind::WfmHttp => &[("wfm", "http_post")],
            FeedKind::Loxysoft => &[("loxysoft", "default")],
            FeedKind::Nice => &[("nice", "default")],
            FeedKind::StatisticsReceiver => &[("statistics_receiver", "default")],
        }
    }

    /// The feed kind of an account type and provider, or `None` when it pushes nothing.
    pub fn of(type_key: &str, provider: &str) -> Option<FeedKind> {
        FeedKind::ALL.into_iter().find(|kind| kind.handles().contains(&(type_key, provider)))
    }

    /// The kind as the API names it (`aspect_tcp`, ...).
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

/// A property the feed cannot use. Names the property, never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("properties.{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.to_owned(), message: message.into() }
}

/// Not Ready reason text -> numeric code.
pub type ReasonCodes = HashMap<String, u32>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AspectConfig {
    pub interval: Duration,
    pub host: String,
    pub port: u16,
    pub sizes: RecordFieldSizes,
    pub reason_codes: ReasonCodes,
}

/// Where an HTTP feed posts, and how it authenticates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpTarget {
    pub url: Url,
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Auth {
    None,
    Bearer(SecretString),
    Basic { username: String, password: SecretString },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WfmHttpConfig {
    pub interval: Duration,
    pub target: HttpTarget,
    pub reason_codes: ReasonCodes,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoxysoftConfig {
    pub interval: Duration,
    pub target: HttpTarget,
    pub skills: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NiceConfig {
    pub keep_alive: Duration,
    pub target: HttpTarget,
    pub agent_id_prefix: String,
    pub extension_prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatsConfig {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FeedConfig {
    Aspect(AspectConfig),
    WfmHttp(WfmHttpConfig),
    Loxysoft(LoxysoftConfig),
    Nice(NiceConfig),
    Stats(StatsConfig),
}

impl FeedConfig {
    pub fn parse(kind: FeedKind, spec: &FeedSpec) -> Result<FeedConfig, ConfigError> {
        let provider = catalog()
            .provider(&spec.type_key, &spec.provider)
            .ok_or_else(|| bad("provider", format!("{}/{} is not in the catalog", spec.type_key, spec.provider)))?;
        let p = Props { spec, provider };
        Ok(match kind {
            FeedKind::AspectTcp => FeedConfig::Aspect(AspectConfig {
                interval: p.seconds(aspect_tcp::PERIODIC_UPDATE_INTERVAL)?,
                host: p.host(aspect_tcp::HOST_NAME)?,
                port: p.port(aspect_tcp::PORT)?,
                sizes: p.field_sizes(aspect_tcp::RECORD_FIELD_SIZES)?,
                reason_codes: p.reason_codes(aspect_tcp::REASON_CODES_MAPPING)?,
            }),
            FeedKind::WfmHttp => FeedConfig::WfmHttp(WfmHttpConfig {
                interval: p.seconds(http_post::PERIODIC_UPDATE_INTERVAL)?,
                target: HttpTarget {
                    url: p.url(http_post::URL)?,
                    auth: p.secret(http_post::TOKEN).map_or(Auth::None, Auth::Bearer),
                },
                reason_codes: p.reason_codes(http_post::REASON_CODES_MAPPING)?,
            }),
            FeedKind::Loxysoft => FeedConfig::Loxysoft(LoxysoftConfig {
                interval: p.seconds(loxysoft::PERIODIC_UPDATE_INTERVAL)?,
                target: HttpTarget {
                    url: p.url(loxysoft::URL)?,
                    auth: Auth::Bearer(p.secret(loxysoft::TOKEN).ok_or_else(|| bad(loxysoft::TOKEN, "required"))?),
                },
                skills: p.text_mapping(loxysoft::SKILLS_MAPPING)?,
            }),
            FeedKind::Nice => FeedConfig::Nice(NiceConfig {
                keep_alive: p.seconds(nice::KEEP_ALIVE_UPDATE_INTERVAL)?,
                target: HttpTarget {
                    url: p.url(nice::URL)?,
                    auth: Auth::Basic {
                        username: p.text(nice::USERNAME).ok_or_else(|| bad(nice::USERNAME, "required"))?.to_owned(),
                        password: p.secret(nice::PASSWORD).ok_or_else(|| bad(nice::PASSWORD, "required"))?,
                    },
                },
                agent_id_prefix: p.text(nice::AGENT_ID_PREFIX).unwrap_or_default().to_owned(),
                extension_prefix: p.text(nice::EXTENSION_PREFIX).unwrap_or_default().to_owned(),
            }),
            FeedKind::StatisticsReceiver => FeedConfig::Stats(StatsConfig {
                host: p.host(statistics_receiver::HOST_NAME)?,
                port: p.port(statistics_receiver::PORT)?,
            }),
        })
    }
}

/// One account's properties, read with its provider's catalog entry: defaults, ranges and
/// record fields are the catalog's.
struct Props<'a> {
    spec: &'a FeedSpec,
    provider: &'static Provider,
}

impl Props<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.spec.properties.get(key).filter(|v| !v.is_null())
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    fn secret(&self, key: &str) -> Option<SecretString> {
        self.spec.secrets.get(key).filter(|s| !s.expose().is_empty()).cloned()
    }

    /// The catalog's description of `key` (the key constants are checked against the
    /// catalog, so this fails only for a spec whose provider lacks the field).
    fn field(&self, key: &str) -> Result<&'static Field, ConfigError> {
        self.provider.field(key).ok_or_else(|| bad(key, "is not a property of this provider"))
    }

    /// An integer property within the catalog's range, and the catalog's default.
    fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        let field = self.field(key)?;
        let FieldKind::Integer { min, max, .. } = field.kind else {
            return Err(bad(key, "is not an integer property"));
        };
        match self.get(key).or(field.default.as_ref()) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(bad(key, format!("must be an integer from {min} to {max}"))),
            },
        }
    }

    fn seconds(&self, key: &str) -> Result<Duration, ConfigError> {
        let secs = self.int(key)?.ok_or_else(|| bad(key, "required"))?;
        Ok(Duration::from_secs(u64::try_from(secs).map_err(|_| bad(key, "must not be negative"))?))
    }

    fn host(&self, key: &str) -> Result<String, ConfigError> {
        self.text(key).map(str::to_owned).ok_or_else(|| bad(key, "required"))
    }

    fn port(&self, key: &str) -> Result<u16, ConfigError> {
        let n = self.int(key)?.ok_or_else(|| bad(key, "required"))?;
        u16::try_from(n).map_err(|_| bad(key, "is not a port number"))
    }

    fn url(&self, key: &str) -> Result<Url, ConfigError> {
        let text = self.text(key).ok_or_else(|| bad(key, "required"))?;
        let url = Url::parse(text).map_err(|e| bad(key, format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(key, "must start with https:// or http://"));
        }
        Ok(url)
    }

    fn object(&self, key: &str) -> Result<Option<&Map<String, Value>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(bad(key, "must be an object")),
        }
    }

    /// Record field sizes: the catalog's record fields, their ranges and defaults.
    fn field_sizes(&self, key: &str) -> Result<RecordFieldSizes, ConfigError> {
        let FieldKind::RecordFieldSizes { fields } = &self.field(key)?.kind else {
            return Err(bad(key, "is not a record field sizes property"));
        };
        let mut sizes = RecordFieldSizes::default();
        let Some(map) = self.object(key)? else { return Ok(sizes) };
        for (name, value) in map {
            let field = fields.iter().find(|f| f.key == name.as_str());
            let (Some(field), Some(slot)) = (field, sizes.slot(name)) else {
                return Err(bad(&format!("{key}.{name}"), "is not a record field"));
            };
            let (min, max) = (u64::from(field.min), u64::from(field.max));
            match value.as_u64() {
                Some(n) if (min..=max).contains(&n) => *slot = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(bad(&format!("{key}.{name}"), format!("must be an integer from {min} to {max}"))),
            }
        }
        Ok(sizes)
    }

    /// Not Ready reason -> code, codes in the catalog's range (numbers or digit strings).
    fn reason_codes(&self, key: &str) -> Result<ReasonCodes, ConfigError> {
        let FieldKind::Mapping { value: MappingValue::Integer { min, max }, .. } = self.field(key)?.kind else {
            return Err(bad(key, "is not a mapping to integers"));
        };
        let Some(map) = self.object(key)? else { return Ok(ReasonCodes::new()) };
        map.iter()
            .map(|(reason, code)| {
                let n = match code {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                match n.filter(|n| (min..=max).contains(n)).and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => Ok((reason.clone(), n)),
                    None => Err(bad(&format!("{key}.{reason}"), format!("must be an integer from {min} to {max}"))),
                }
            })
            .collect()
    }

    fn text_mapping(&self, key: &str) -> Result<HashMap<String, String>, ConfigError> {
        let Some(map) = self.object(key)? else { return Ok(HashMap::new()) };
        map.iter()
            .map(|(name, code)| match code.as_str() {
                Some(code) if !code.is_empty() => Ok((name.clone(), code.to_owned())),
                _ => Err(bad(&format!("{key}.{name}"), "must be a non-empty string")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(type_key: &str, provider: &str, properties: Value, secrets: &[(&str, &str)]) -> FeedSpec {
        FeedSpec {
            account_id: "acc".into(),
            tenant: "t".into(),
            type_key: type_key.into(),
            provider: provider.into(),
            properties: properties.as_object().unwrap().clone(),
            secrets: secrets.iter().map(|(k, v)| (k.to_string(), SecretString::from(*v))).collect(),
        }
    }

    #[test]
    fn only_pushing_types_are_feeds() {
        assert_eq!(FeedKind::of("wfm", "aspect_tcp"), Some(FeedKind::AspectTcp));
        assert_eq!(FeedKind::of("wfm", "http_post"), Some(FeedKind::WfmHttp));
        assert_eq!(FeedKind::of("loxysoft", "default"), Some(FeedKind::Loxysoft));
        assert_eq!(FeedKind::of("nice", "default"), Some(FeedKind::Nice));
        assert_eq!(FeedKind::of("statistics_receiver", "default"), Some(FeedKind::StatisticsReceiver));
        assert_eq!(FeedKind::of("aws", "default"), None);
        assert_eq!(FeedKind::of("wfm", "soap"), None);
    }

    #[test]
    fn every_pair_a_kind_handles_is_a_provider_of_the_catalog() {
        for kind in FeedKind::ALL {
            for &(type_key, provider) in kind.handles() {
                assert!(catalog().provider(type_key, provider).is_some(), "{kind:?}: {type_key}/{provider}");
            }
        }
    }

    #[test]
    fn every_catalog_record_field_has_a_width_defaulting_to_the_catalogs() {
        let provider = catalog().provider("wfm", "aspect_tcp").unwrap();
        let Some(FieldKind::RecordFieldSizes { fields }) =
            provider.field(aspect_tcp::RECORD_FIELD_SIZES).map(|f| &f.kind)
        else {
            panic!("wfm/aspect_tcp has no record field sizes");
        };
        let mut sizes = RecordFieldSizes::default();
        for field in fields {
            let default = field.default as usize;
            assert_eq!(sizes.slot(field.key).map(|w| *w), Some(default), "{}", field.key);
        }
        assert!(sizes.slot("agent").is_none());
    }

    #[test]
    fn aspect_defaults_follow_the_catalog() {
        let s = spec("wfm", "aspect_tcp", json!({ aspect_tcp::HOST_NAME: "rta", aspect_tcp::PORT: 7000 }), &[]);
        let FeedConfig::Aspect(c) = FeedConfig::parse(FeedKind::AspectTcp, &s).unwrap() else { panic!() };
        let provider = catalog().provider("wfm", "aspect_tcp").unwrap();
        let interval = provider.field(aspect_tcp::PERIODIC_UPDATE_INTERVAL).and_then(|f| f.default.as_ref());
        assert_eq!(Some(c.interval.as_secs()), interval.and_then(Value::as_u64));
        assert_eq!(c.sizes, RecordFieldSizes::default());
        assert!(c.reason_codes.is_empty());
    }

    #[test]
    fn nice_keep_alive_defaults_to_the_catalogs() {
        let s = spec(
            "nice",
            "default",
            json!({ nice::URL: "https://n.example", nice::USERNAME: "u" }),
            &[(nice::PASSWORD, "pw")],
        );
        let FeedConfig::Nice(c) = FeedConfig::parse(FeedKind::Nice, &s).unwrap() else { panic!() };
        let keep_alive = catalog().provider("nice", "default").unwrap().field(nice::KEEP_ALIVE_UPDATE_INTERVAL);
        assert_eq!(Some(c.keep_alive.as_secs()), keep_alive.and_then(|f| f.default.as_ref()).and_then(Value::as_u64));
    }

    #[test]
    fn bad_properties_are_named_without_values_of_secrets() {
        let cases = [
            (json!({ aspect_tcp::PORT: 7000 }), "properties.host_name: required"),
            (
                json!({ aspect_tcp::HOST_NAME: "h", aspect_tcp::PORT: 0 }),
                "properties.port: must be an integer from 1 to 65535",
            ),
            (
                json!({ aspect_tcp::HOST_NAME: "h", aspect_tcp::PORT: 1, aspect_tcp::PERIODIC_UPDATE_INTERVAL: 0 }),
                "properties.periodic_update_interval: must be an integer from 1 to 86400",
            ),
            (
                json!({ aspect_tcp::HOST_NAME: "h", aspect_tcp::PORT: 1, aspect_tcp::RECORD_FIELD_SIZES: {"agent_mode": 1} }),
                "properties.record_field_sizes.agent_mode: must be an integer from 2 to 8",
            ),
            (
                json!({ aspect_tcp::HOST_NAME: "h", aspect_tcp::PORT: 1, aspect_tcp::RECORD_FIELD_SIZES: {"agent": 1} }),
                "properties.record_field_sizes.agent: is not a record field",
            ),
            (
                json!({ aspect_tcp::HOST_NAME: "h", aspect_tcp::PORT: 1, aspect_tcp::REASON_CODES_MAPPING: {"Lunch": "soon"} }),
                "properties.reason_codes_mapping.Lunch: must be an integer from 0 to 99999",
            ),
        ];
        for (props, want) in cases {
            let err = FeedConfig::parse(FeedKind::AspectTcp, &spec("wfm", "aspect_tcp", props, &[])).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let lox = spec("loxysoft", "default", json!({ loxysoft::URL: "https://l.example/x" }), &[]);
        assert_eq!(FeedConfig::parse(FeedKind::Loxysoft, &lox).unwrap_err().to_string(), "properties.token: required");
        let nice = spec(
            "nice",
            "default",
            json!({ nice::URL: "ftp://n.example", nice::USERNAME: "u" }),
            &[(nice::PASSWORD, "pw")],
        );
        assert_eq!(
            FeedConfig::parse(FeedKind::Nice, &nice).unwrap_err().to_string(),
            "properties.url: must start with https:// or http://"
        );
    }
}
