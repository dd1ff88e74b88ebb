//! What a feed is asked to do: the account as the supervisor receives it (`FeedSpec`) and
//! its typed configuration per feed kind, read from the account's properties with the
//! catalog's keys and defaults. Secrets stay `SecretString` until the request that sends them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use patchbay_vault::SecretString;
use reqwest::Url;
use serde_json::{Map, Value};

use crate::aspect::RecordFieldSizes;

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
    /// The feed kind of an account type and provider, or `None` when it pushes nothing.
    pub fn of(type_key: &str, provider: &str) -> Option<FeedKind> {
        match (type_key, provider) {
            ("wfm", "aspect_tcp") => Some(FeedKind::AspectTcp),
            ("wfm", "http_post") => Some(FeedKind::WfmHttp),
            ("loxysoft", _) => Some(FeedKind::Loxysoft),
            ("nice", _) => Some(FeedKind::Nice),
            ("statistics_receiver", _) => Some(FeedKind::StatisticsReceiver),
            _ => None,
        }
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
        let p = Props { spec };
        Ok(match kind {
            FeedKind::AspectTcp => FeedConfig::Aspect(AspectConfig {
                interval: p.seconds("periodic_update_interval", 10)?,
                host: p.host("host_name")?,
                port: p.port("port")?,
                sizes: p.field_sizes("record_field_sizes")?,
                reason_codes: p.reason_codes("reason_codes_mapping")?,
            }),
            FeedKind::WfmHttp => FeedConfig::WfmHttp(WfmHttpConfig {
                interval: p.seconds("periodic_update_interval", 10)?,
                target: HttpTarget { url: p.url("url")?, auth: p.secret("token").map_or(Auth::None, Auth::Bearer) },
                reason_codes: p.reason_codes("reason_codes_mapping")?,
            }),
            FeedKind::Loxysoft => FeedConfig::Loxysoft(LoxysoftConfig {
                interval: p.seconds("periodic_update_interval", 10)?,
                target: HttpTarget {
                    url: p.url("url")?,
                    auth: Auth::Bearer(p.secret("token").ok_or_else(|| bad("token", "required"))?),
                },
                skills: p.text_mapping("skills_mapping")?,
            }),
            FeedKind::Nice => FeedConfig::Nice(NiceConfig {
                keep_alive: p.seconds("keep_alive_update_interval", 60)?,
                target: HttpTarget {
                    url: p.url("url")?,
                    auth: Auth::Basic {
                        username: p.text("username").ok_or_else(|| bad("username", "required"))?.to_owned(),
                        password: p.secret("password").ok_or_else(|| bad("password", "required"))?,
                    },
                },
                agent_id_prefix: p.text("agent_id_prefix").unwrap_or_default().to_owned(),
                extension_prefix: p.text("extension_prefix").unwrap_or_default().to_owned(),
            }),
            FeedKind::StatisticsReceiver => {
                FeedConfig::Stats(StatsConfig { host: p.host("host_name")?, port: p.port("port")? })
            }
        })
    }
}

struct Props<'a> {
    spec: &'a FeedSpec,
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

    fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(bad(key, format!("must be an integer from {min} to {max}"))),
            },
        }
    }

    fn seconds(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        let secs = self.int(key, 1, 86_400)?.map_or(default, |n| n as u64);
        Ok(Duration::from_secs(secs))
    }

    fn host(&self, key: &str) -> Result<String, ConfigError> {
        self.text(key).map(str::to_owned).ok_or_else(|| bad(key, "required"))
    }

    fn port(&self, key: &str) -> Result<u16, ConfigError> {
        self.int(key, 1, 65_535)?.map(|n| n as u16).ok_or_else(|| bad(key, "required"))
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

    fn field_sizes(&self, key: &str) -> Result<RecordFieldSizes, ConfigError> {
        let mut sizes = RecordFieldSizes::default();
        let Some(map) = self.object(key)? else { return Ok(sizes) };
        for (name, value) in map {
            let (slot, min, max) = match name.as_str() {
                "agent_id" => (&mut sizes.agent_id, 1, 255),
                "extension" => (&mut sizes.extension, 1, 255),
                "agent_mode" => (&mut sizes.agent_mode, 2, 8),
                "reason_code" => (&mut sizes.reason_code, 1, 255),
                "service" => (&mut sizes.service, 1, 255),
                "timestamp" => (&mut sizes.timestamp, 14, 32),
                _ => return Err(bad(&format!("{key}.{name}"), "is not a record field")),
            };
            match value.as_u64() {
                Some(n) if (min..=max).contains(&n) => *slot = n as usize,
                _ => return Err(bad(&format!("{key}.{name}"), format!("must be an integer from {min} to {max}"))),
            }
        }
        Ok(sizes)
    }

    fn reason_codes(&self, key: &str) -> Result<ReasonCodes, ConfigError> {
        let Some(map) = self.object(key)? else { return Ok(ReasonCodes::new()) };
        map.iter()
            .map(|(reason, code)| {
                let n = match code {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if n <= 99_999 => Ok((reason.clone(), n as u32)),
                    _ => Err(bad(&format!("{key}.{reason}"), "must be an integer from 0 to 99999")),
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
    }

    #[test]
    fn aspect_defaults_follow_the_catalog() {
        let s = spec("wfm", "aspect_tcp", json!({"host_name": "rta", "port": 7000}), &[]);
        let FeedConfig::Aspect(c) = FeedConfig::parse(FeedKind::AspectTcp, &s).unwrap() else { panic!() };
        assert_eq!(c.interval, Duration::from_secs(10));
        assert_eq!(c.sizes, RecordFieldSizes::default());
        assert!(c.reason_codes.is_empty());
    }

    #[test]
    fn bad_properties_are_named_without_values_of_secrets() {
        let cases = [
            (json!({"port": 7000}), "properties.host_name: required"),
            (json!({"host_name": "h", "port": 0}), "properties.port: must be an integer from 1 to 65535"),
            (
                json!({"host_name": "h", "port": 1, "record_field_sizes": {"agent_mode": 1}}),
                "properties.record_field_sizes.agent_mode: must be an integer from 2 to 8",
            ),
            (
                json!({"host_name": "h", "port": 1, "reason_codes_mapping": {"Lunch": "soon"}}),
                "properties.reason_codes_mapping.Lunch: must be an integer from 0 to 99999",
            ),
        ];
        for (props, want) in cases {
            let err = FeedConfig::parse(FeedKind::AspectTcp, &spec("wfm", "aspect_tcp", props, &[])).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let lox = spec("loxysoft", "default", json!({"url": "https://l.example/x"}), &[]);
        assert_eq!(FeedConfig::parse(FeedKind::Loxysoft, &lox).unwrap_err().to_string(), "properties.token: required");
        let nice = spec("nice", "default", json!({"url": "ftp://n.example", "username": "u"}), &[("password", "pw")]);
        assert_eq!(
            FeedConfig::parse(FeedKind::Nice, &nice).unwrap_err().to_string(),
            "properties.url: must start with https:// or http://"
        );
    }
}
