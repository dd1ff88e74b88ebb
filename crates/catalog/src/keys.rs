//! Typed property keys: one constant per property of every provider, for the code outside
//! the catalog that reads or writes account properties (connectors, feeds, recordings, the
//! CLI, tests), so none of it spells a key as a string literal.
//!
//! Modules mirror the catalog: `keys::<type>` when the type has one provider,
//! `keys::<type>::<provider>` when it has several, and a module that says it describes
//! several providers (e.g. [`sso`], [`tcp_receiver`]) for code shared between them. The
//! catalog stays the description (keys are derived from labels in `spec.rs`); the tests
//! below check that every constant names a field each of its providers really has, and
//! that every field of every provider has a constant.

/// The bool property that marks the one default account of a provider's
/// [`default_group`](crate::Provider::default_group).
pub const DEFAULT_ACCOUNT: &str = "default_account";

/// The providers a key module describes and the keys it declares (for the tests).
#[cfg(test)]
pub(crate) struct Described {
    pub owners: &'static [(&'static str, &'static str)],
    pub keys: &'static [&'static str],
}

/// Declares one key module: its doc, the `(type, provider)` pairs every one of its keys
/// belongs to, and the keys.
macro_rules! provider_keys {
    ($(#[doc = $doc:literal])* $name:ident for [$(($t:literal, $p:literal)),+ $(,)?] {
        $($key:ident = $value:literal,)+
    }) => {
        $(#[doc = $doc])*
        pub mod $name {
            $(pub const $key: &str = $value;)+

            #[cfg(test)]
            pub(crate) const DESCRIBED: $crate::keys::Described =
                $crate::keys::Described { owners: &[$(($t, $p)),+], keys: &[$($value),+] };
        }
    };
}

provider_keys! {
    /// Amazon AWS.
    aws for [("aws", "default")] {
        USE_PRIVATE_S3_STORAGE = "use_private_s3_storage",
        URL = "url",
        ACCESS_KEY_ID = "access_key_id",
        SECRET_KEY = "secret_key",
        S3_BUCKET = "s3_bucket",
    }
}

/// Bot / Chat suggestions engine: one module per provider.
pub mod chat_bot {
    provider_keys! {
        /// Alterra.
        alterra for [("chat_bot", "alterra")] {
            URL = "url",
            METHOD = "method",
            API_KEY = "api_key",
            USE_URL_ENCODE = "use_url_encode",
            MAXIMUM_SUGGESTIONS = "maximum_suggestions",
        }
    }
    provider_keys! {
        /// Watson Conversation.
        watson for [("chat_bot", "watson")] {
            URL = "url",
            WORKSPACE_ID = "workspace_id",
            USERNAME = "username",
            PASSWORD = "password",
            MAX_API_CALLS_PER_DAY = "max_api_calls_per_day",
            MAXIMUM_SUGGESTIONS = "maximum_suggestions",
        }
    }
}

provider_keys! {
    /// External Knowledge Base.
    external_kb for [("external_kb", "synthetix")] {
        URL = "url",
        CONSUMER_KEY = "consumer_key",
        APPLICATION_KEY = "application_key",
        USE_AS_EXCLUSIVE_KB = "use_as_exclusive_kb",
    }
}

provider_keys! {
    /// Loxysoft WFM.
    loxysoft for [("loxysoft", "default")] {
        PERIODIC_UPDATE_INTERVAL = "periodic_update_interval",
        URL = "url",
        TOKEN = "token",
        SKILLS_MAPPING = "skills_mapping",
    }
}

/// Messenger: one module per provider.
pub mod messenger {
    provider_keys! {
        /// Facebook Messenger.
        facebook for [("messenger", "facebook")] {
            PAGE_USERNAME = "page_username",
            PAGE_ID = "page_id",
            TOKEN = "token",
            WEBHOOK_VERIFY_TOKEN = "webhook_verify_token",
            APP_SECRET = "app_secret",
        }
    }
    provider_keys! {
        /// LINE.
        line for [("messenger", "line")] {
            TOKEN = "token",
            CHANNEL_SECRET = "channel_secret",
        }
    }
    provider_keys! {
        /// Nexmo.
        nexmo for [("messenger", "nexmo")] {
            KEY = "key",
            SECRET = "secret",
            SIGNATURE_SECRET = "signature_secret",
        }
    }
    provider_keys! {
        /// Telegram.
        telegram for [("messenger", "telegram")] {
            BOT_USERNAME = "bot_username",
            TOKEN = "token",
            WEBHOOK_URL = "webhook_url",
        }
    }
    provider_keys! {
        /// Viber.
        viber for [("messenger", "viber")] {
            BOT_USERNAME = "bot_username",
            TOKEN = "token",
            WEBHOOK_URL_HOST_AND_PORT = "webhook_url_host_and_port",
        }
    }
}

provider_keys! {
    /// Next Caller.
    next_caller for [("next_caller", "default")] {
        SANDBOX_MODE = "sandbox_mode",
        USERNAME = "username",
        PASSWORD = "password",
        FIELD_MAPPING = "field_mapping",
    }
}

provider_keys! {
    /// NICE.
    nice for [("nice", "default")] {
        KEEP_ALIVE_UPDATE_INTERVAL = "keep_alive_update_interval",
        USERNAME = "username",
        PASSWORD = "password",
        AGENT_ID_PREFIX = "agent_id_prefix",
        EXTENSION_PREFIX = "extension_prefix",
        URL = "url",
    }
}

provider_keys! {
    /// Natural Language Understanding.
    nlu for [("nlu", "default")] {
        URL = "url",
        METHOD = "method",
        USERNAME = "username",
        PASSWORD = "password",
        LIMIT = "limit",
    }
}

provider_keys! {
    /// Oracle Service Cloud and RightNow (its former name): the same fields, one connector.
    oracle_service_cloud for [("oracle_service_cloud", "default"), ("rightnow", "default")] {
        SITE_URL = "site_url",
        USERNAME = "username",
        PASSWORD = "password",
        API_VERSION = "api_version",
    }
}
provider_keys! {
    /// Salesforce.com.
    salesforce for [("salesforce", "default")] {
        LOGIN_URL = "login_url",
        AUTHENTICATION_METHOD = "authentication_method",
        CONSUMER_KEY = "consumer_key",
        CONSUMER_SECRET = "consumer_secret",
        USERNAME = "username",
        PASSWORD = "password",
        SECURITY_TOKEN = "security_token",
        API_VERSION = "api_version",
    }
}

provider_keys! {
    /// ServiceNow.
    servicenow for [("servicenow", "default")] {
        INSTANCE_URL = "instance_url",
        AUTHENTICATION_METHOD = "authentication_method",
        USERNAME = "username",
        PASSWORD = "password",
        CLIENT_ID = "client_id",
        CLIENT_SECRET = "client_secret",
    }
}

provider_keys! {
    /// Single Sign-On: Agent Desktop and Admin SSO have the same fields.
    sso for [("sso", "agent_desktop"), ("sso", "admin")] {
        ENABLE_SINGLE_SIGN_ON = "enable_single_sign_on",
        IDENTITY_PROVIDER_SINGLE_SIGN_ON_URL = "identity_provider_single_sign_on_url",
        IDENTITY_PROVIDER_ISSUER = "identity_provider_issuer",
        IDENTITY_PROVIDER_CERTIFICATE = "identity_provider_certificate",
        ENABLE_JUST_IN_TIME_USER_PROVISIONING = "enable_just_in_time_user_provisioning",
        USE_TEMPLATE = "use_template",
        ALLOW_IDP_INITIATED_SIGN_IN = "allow_idp_initiated_sign_in",
    }
}
provider_keys! {
    /// Admin SSO's own fields.
    sso_admin for [("sso", "admin")] {
        ROLE_ATTRIBUTE = "role_attribute",
        ADMINISTRATOR_ROLE_VALUES = "administrator_role_values",
        REQUIRE_SINGLE_SIGN_ON = "require_single_sign_on",
    }
}
provider_keys! {
    /// Agent Desktop SSO's own fields.
    sso_agent_desktop for [("sso", "agent_desktop")] {
        ALLOWED_RETURN_URLS = "allowed_return_urls",
    }
}
provider_keys! {
    /// Statistics Data Receiver.
    statistics_receiver for [("statistics_receiver", "default")] {
        PROTOCOL = "protocol",
        HOST_NAME = "host_name",
        PORT = "port",
    }
}

/// Speech To Text: one module per provider.
pub mod stt {
    provider_keys! {
        /// Watson.
        watson for [("stt", "watson")] {
            URL = "url",
            USERNAME = "username",
            PASSWORD = "password",
            DEFAULT_ACCOUNT = "default_account",
        }
    }
    provider_keys! {
        /// GoVivace.
        govivace for [("stt", "govivace")] {
            URL = "url",
            API_KEY = "api_key",
            DEFAULT_ACCOUNT = "default_account",
        }
    }
}

provider_keys! {
    /// The Data Group (TDG).
    tdg for [("tdg", "default")] {
        USERNAME = "username",
        PASSWORD = "password",
        API_KEY = "api_key",
        FIELD_MAPPING = "field_mapping",
    }
}

/// Text To Speech: one module per provider.
pub mod tts {
    provider_keys! {
        /// IBM Watson.
        watson for [("tts", "watson")] {
            URL = "url",
            USER_NAME = "user_name",
            PASSWORD = "password",
            VOICE = "voice",
        }
    }
    provider_keys! {
        /// Google Cloud.
        google for [("tts", "google")] {
            URL = "url",
            API_KEY = "api_key",
            VOICE = "voice",
        }
    }
}

/// WFM: one module per provider.
pub mod wfm {
    provider_keys! {
        /// TCP (Aspect WFM).
        aspect_tcp for [("wfm", "aspect_tcp")] {
            PERIODIC_UPDATE_INTERVAL = "periodic_update_interval",
            PROTOCOL = "protocol",
            HOST_NAME = "host_name",
            PORT = "port",
            RECORD_FIELD_SIZES = "record_field_sizes",
            REASON_CODES_MAPPING = "reason_codes_mapping",
        }
    }
    provider_keys! {
        /// HTTP POST.
        http_post for [("wfm", "http_post")] {
            PERIODIC_UPDATE_INTERVAL = "periodic_update_interval",
            PROTOCOL = "protocol",
            URL = "url",
            TOKEN = "token",
            REASON_CODES_MAPPING = "reason_codes_mapping",
        }
    }
}

provider_keys! {
    /// Zapier.
    zapier for [("zapier", "default")] {
        USERNAME = "username",
        PASSWORD = "password",
    }
}

provider_keys! {
    /// Zendesk.
    zendesk for [("zendesk", "default")] {
        SUBDOMAIN_URL = "subdomain_url",
        AUTHENTICATION_METHOD = "authentication_method",
        EMAIL = "email",
        API_TOKEN = "api_token",
        OAUTH_ACCESS_TOKEN = "oauth_access_token",
    }
}

provider_keys! {
    /// The receivers of a TCP stream (WFM over TCP and the statistics receiver): where the
    /// stream goes, for the code that connects to either.
    tcp_receiver for [("wfm", "aspect_tcp"), ("statistics_receiver", "default")] {
        HOST_NAME = "host_name",
        PORT = "port",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    const ALL: &[&Described] = &[
        &aws::DESCRIBED,
        &chat_bot::alterra::DESCRIBED,
        &chat_bot::watson::DESCRIBED,
        &external_kb::DESCRIBED,
        &loxysoft::DESCRIBED,
        &messenger::facebook::DESCRIBED,
        &messenger::line::DESCRIBED,
        &messenger::nexmo::DESCRIBED,
        &messenger::telegram::DESCRIBED,
        &messenger::viber::DESCRIBED,
        &next_caller::DESCRIBED,
        &nice::DESCRIBED,
        &nlu::DESCRIBED,
        &oracle_service_cloud::DESCRIBED,
        &salesforce::DESCRIBED,
        &servicenow::DESCRIBED,
        &sso::DESCRIBED,
        &sso_admin::DESCRIBED,
        &sso_agent_desktop::DESCRIBED,
        &statistics_receiver::DESCRIBED,
        &stt::watson::DESCRIBED,
        &stt::govivace::DESCRIBED,
        &tdg::DESCRIBED,
        &tts::watson::DESCRIBED,
        &tts::google::DESCRIBED,
        &wfm::aspect_tcp::DESCRIBED,
        &wfm::http_post::DESCRIBED,
        &zapier::DESCRIBED,
        &zendesk::DESCRIBED,
        &tcp_receiver::DESCRIBED,
    ];

    #[test]
    fn every_key_constant_names_a_field_of_each_of_its_providers() {
        for described in ALL {
            for &(type_key, provider) in described.owners {
                let p = catalog()
                    .provider(type_key, provider)
                    .unwrap_or_else(|| panic!("{type_key}/{provider} is not in the catalog"));
                for key in described.keys {
                    assert!(p.field(key).is_some(), "{type_key}/{provider} has no field `{key}`");
                }
            }
        }
    }

    #[test]
    fn every_field_of_every_provider_has_a_key_constant() {
        for t in &catalog().types {
            for p in &t.providers {
                for f in &p.fields {
                    let named =
                        ALL.iter().any(|d| d.owners.contains(&(t.key, p.key)) && d.keys.contains(&f.key.as_str()));
                    assert!(named, "{}/{} field `{}` has no constant in `keys`", t.key, p.key, f.key);
                }
            }
        }
    }

    #[test]
    fn every_provider_with_a_default_group_has_the_default_account_flag() {
        let grouped: Vec<_> =
            catalog().types.iter().flat_map(|t| &t.providers).filter(|p| p.default_group.is_some()).collect();
        assert!(!grouped.is_empty());
        for p in grouped {
            let field = p.field(DEFAULT_ACCOUNT).unwrap_or_else(|| panic!("{} has no `{DEFAULT_ACCOUNT}`", p.key));
            assert_eq!(field.kind, crate::FieldKind::Bool, "{}", p.key);
        }
    }

    #[test]
    fn every_action_parameter_has_a_key_constant_of_its_provider() {
        for t in &catalog().types {
            for p in &t.providers {
                for f in p.actions.iter().flat_map(|a| &a.params) {
                    let named =
                        ALL.iter().any(|d| d.owners.contains(&(t.key, p.key)) && d.keys.contains(&f.key.as_str()));
                    assert!(named, "{}/{} action parameter `{}` has no constant in `keys`", t.key, p.key, f.key);
                }
            }
        }
    }
}
