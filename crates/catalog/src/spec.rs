//! The functional spec as data: one function per integration type, in the spec's order.
//! Labels and help texts are the spec's; where the spec defers to a vendor's guide (the CRM
//! types), the properties are those the vendor's public API documentation requires.

use serde_json::{json, Value};

use crate::keys;
use crate::model::*;
use crate::property_key;

pub(crate) fn build() -> Catalog {
    Catalog {
        types: vec![
            aws(),
            chat_bot(),
            external_kb(),
            loxysoft(),
            messenger(),
            nice(),
            nlu(),
            next_caller(),
            oracle_service_cloud(),
            rightnow(),
            salesforce(),
            servicenow(),
            sso(),
            stt(),
            statistics_receiver(),
            tts(),
            tdg(),
            wfm(),
            zapier(),
            zendesk(),
        ],
    }
}

const HTTPS: &[&str] = &["https"];
const HTTP_OR_HTTPS: &[&str] = &["https", "http"];
const WSS: &[&str] = &["wss"];
const TEXT_MAX: usize = 255;
const SECRET_MAX: usize = 4096;

fn field(label: &'static str, help: &'static str, kind: FieldKind) -> Field {
    Field {
        key: property_key(label),
        label,
        help,
        kind,
        default: None,
        fixed: false,
        required: Required::Never,
        example: None,
        target: false,
        loopback_http: false,
        addition: None,
    }
}

fn text(label: &'static str, help: &'static str) -> Field {
    field(label, help, FieldKind::Text { max_len: TEXT_MAX, rule: None })
}

fn text_rule(label: &'static str, help: &'static str, rule: TextRule) -> Field {
    let max_len = if rule == TextRule::PemCertificate { 65_536 } else { TEXT_MAX };
    field(label, help, FieldKind::Text { max_len, rule: Some(rule) })
}

fn secret(label: &'static str, help: &'static str) -> Field {
    field(label, help, FieldKind::Secret { max_len: SECRET_MAX })
}

fn url(label: &'static str, help: &'static str, schemes: &'static [&'static str]) -> Field {
    field(label, help, FieldKind::Url { schemes })
}

fn integer(label: &'static str, help: &'static str, min: i64, max: i64, unit: Option<&'static str>) -> Field {
    field(label, help, FieldKind::Integer { min, max, unit })
}

fn seconds(label: &'static str, help: &'static str) -> Field {
    integer(label, help, 1, 86_400, Some("s"))
}

fn boolean(label: &'static str, help: &'static str) -> Field {
    field(label, help, FieldKind::Bool).default(json!(false))
}

fn choice(label: &'static str, help: &'static str, choices: &[(&'static str, &'static str)]) -> Field {
    let choices = choices.iter().map(|&(value, label)| Choice { value, label }).collect();
    field(label, help, FieldKind::Enum { choices })
}

fn port(help: &'static str) -> Field {
    integer("Port", help, 1, 65_535, None).required().target()
}

fn reason_codes_mapping() -> Field {
    field(
        "Reason codes mapping",
        "Optional. Configures Not Ready reasons as numerical codes in real-time data. In Bright \
         Pattern Contact Center software, reason codes are defined as text; WFM only accepts \
         reason codes as numbers. Define a numerical code for each Not Ready reason to account \
         for reason codes in real-time reporting on the WFM side.",
        FieldKind::Mapping {
            key_label: "Not Ready reason",
            value_label: "Code",
            value: MappingValue::Integer { min: 0, max: 99_999 },
        },
    )
    .default(json!({}))
}

fn field_mapping(vendor: &'static str) -> Field {
    let help = match vendor {
        "next_caller" => {
            "Adds internal or external fields to contact data forms; Next Caller populates these \
             fields with suggested data found on the cloud. Each row maps a Next Caller field to a \
             contact field (or to none), chosen from categories (addresses, phone by type, phones \
             by order, social links by order, emails by type, emails by order) or basic types \
             (Title, First name, Last name, Position, Segment, Summary, Date of birth, Messengers, \
             Status, a custom field)."
        }
        _ => {
            "Adds internal or external fields to contact data forms; The Data Group populates these \
             fields with suggested data found on the cloud. Each row maps a Data Group field to a \
             contact field (or to none), chosen from categories (addresses, phone by type, phones \
             by order, social links by order, emails by type, emails by order) or basic types \
             (Title, First name, Last name, Position, Segment, Summary, Date of birth, Messengers, \
             Status, a custom field)."
        }
    };
    field("Field Mapping", help, FieldKind::ContactFieldMapping).default(json!([]))
}

impl Field {
    fn required(mut self) -> Self {
        self.required = Required::Always;
        self
    }

    fn required_if(mut self, field: &'static str, equals: Value) -> Self {
        self.required = Required::If { field, equals };
        self
    }

    fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }

    /// Shown, not editable: the value is always `value`.
    fn fixed(mut self, value: Value) -> Self {
        self.default = Some(value);
        self.fixed = true;
        self
    }

    fn example(mut self, example: &'static str) -> Self {
        self.example = Some(example);
        self
    }

    /// The value decides where the secrets are sent (see `Field::target`).
    fn target(mut self) -> Self {
        self.target = true;
        self
    }

    /// An https URL that may be http:// on a loopback host when the operator allows it
    /// (see `Field::loopback_http`).
    fn loopback_http(mut self) -> Self {
        self.loopback_http = true;
        self
    }

    /// A field the spec does not have, and why patchbay needs it.
    fn addition(mut self, why: &'static str) -> Self {
        self.addition = Some(why);
        self
    }
}

fn provider(key: &'static str, label: &'static str, fields: Vec<Field>, test: TestSupport) -> Provider {
    Provider { key, label, fields, test, actions: Vec::new(), default_group: None, inbound: None }
}

fn probe(probe: &'static str) -> TestSupport {
    TestSupport::Supported { probe }
}

fn no_test(reason: &'static str) -> TestSupport {
    TestSupport::None { reason }
}

fn action(key: &'static str, label: &'static str, help: &'static str) -> Action {
    Action { key, label, help, params: Vec::new() }
}

fn aws() -> IntegrationType {
    IntegrationType {
        key: "aws",
        label: "Amazon AWS",
        description: "Amazon Web Services (AWS) S3 can be used for storing audio recordings, where \
            files are uploaded to or downloaded from an Amazon S3 account for storage or playback. \
            S3 access credentials are stored in integration accounts in order to enable \
            Interaction Records Search playback for recordings stored in S3.",
        notes: vec![
            "This integration option must be enabled for your contact center by the service provider.",
            "To support BPO operations, multiple integration accounts are possible.",
            "Export of recordings is configured for specific services (Periodic Recording Export Jobs).",
            "Instead of using AWS, you can use this integration account to set up an S3-compatible local storage.",
        ],
        cardinality: Cardinality::Many,
        gated: true,
        providers: vec![provider(
            "default",
            "Amazon AWS",
            vec![
                boolean("Use private S3 storage", "Sets up an S3-compatible private storage instead of Amazon S3.")
                    .target(),
                url(
                    "Url",
                    "The URL path to your private S3 storage. The URL must be specified if Use \
                     private S3 storage is enabled.",
                    HTTP_OR_HTTPS,
                )
                .required_if("use_private_s3_storage", json!(true))
                .example("https://s3.example.com")
                .target(),
                text(
                    "Access Key ID",
                    "Part of your AWS access key, a security credential that allows you to sign \
                     programmatic requests to AWS. AWS access keys always consist of an access key \
                     ID and a secret access key.",
                )
                .required()
                .example("AKIAIOSFODNN7EXAMPLE"),
                secret(
                    "Secret Key",
                    "The other part of your AWS access key (the secret access key), a security \
                     credential that allows you to sign programmatic requests to AWS.",
                )
                .required(),
                text_rule(
                    "S3 bucket",
                    "The unique name of the Amazon S3 bucket that holds the audio recordings \
                     uploaded to or downloaded from S3.",
                    TextRule::BucketName,
                )
                .required()
                .example("acme-recordings"),
            ],
            probe(
                "A SigV4-signed ListObjectsV2 (max-keys=1) on the bucket: 403 means invalid credentials \
                 (AccessDenied for a valid key: permission), 404 an unknown bucket.",
            ),
        )],
    }
}

fn chat_bot() -> IntegrationType {
    let max_suggestions_help = "The maximum number of suggestions (e.g., 1, 2, or 3) that can be \
        delivered to the Agent Desktop.";
    let alterra = provider(
        "alterra",
        "Alterra",
        vec![
            url("Url", "For Alterra, the default Url value is https://dev.alterra.cc/demo/api.", HTTPS)
                .default(json!("https://dev.alterra.cc/demo/api"))
                .required()
                .target(),
            choice("Method", "The HTTP method is POST; the selector is disabled.", &[("POST", "POST")])
                .fixed(json!("POST")),
            secret("API key", "The API key required to access the service (optional). There is no default value."),
            boolean("Use url encode", "For Alterra, the URL encode is 0 and the checkbox is disabled.")
                .fixed(json!(false)),
            integer("Maximum suggestions", "For Alterra, the maximum number of suggestions is 1.", 1, 1, None)
                .fixed(json!(1)),
        ],
        probe("A POST to the Alterra URL with the API key: the URL must answer and accept the key."),
    );
    let watson = provider(
        "watson",
        "Watson Conversation",
        vec![
            url(
                "Url",
                "The URL prefix; the full URL is created within the provider (e.g., \
                 https://gateway.watsonplatform.net/conversation/api/v1/workspaces/).",
                HTTPS,
            )
            .required()
            .example("https://gateway.watsonplatform.net/conversation/api/v1/workspaces/")
            .target(),
            text("Workspace ID", "The ID of the Watson Conversation workspace associated with the service instance.")
                .required(),
            text(
                "Username",
                "The username used to authenticate the Watson Conversation API, from the service \
                 credentials of the service instance.",
            )
            .required(),
            secret(
                "Password",
                "The password used to authenticate the Watson Conversation API, from the service \
                 credentials of the service instance.",
            )
            .required(),
            integer("Max API calls per day", "The maximum number of calls per day.", 1, 100_000_000, None),
            integer("Maximum suggestions", max_suggestions_help, 1, 10, None).default(json!(3)),
        ],
        probe("GET {url}{workspace_id}?version=… with Basic auth: reads the workspace."),
    );
    IntegrationType {
        key: "chat_bot",
        label: "Bot / Chat suggestions engine",
        description: "Integrates with chat bots to provide meaningful suggestions to an agent during \
            a chat session and to provide pure bot functionality, in which customers can complete \
            self-service tasks without the help of a live agent.",
        notes: vec![
            "One bot/chat suggestion engine account can be selected as the suggestion engine per service, and one as the chat bot on the chat service launch point.",
            "In scenarios, any configured account can be selected with the Chat Bot Select block.",
        ],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![alterra, watson],
    }
}

fn external_kb() -> IntegrationType {
    IntegrationType {
        key: "external_kb",
        label: "External Knowledge Base",
        description: "Enables the Agent Desktop to use and search a third-party knowledge base \
            such as Synthetix: search external KB topics, submit new topics, and so forth.",
        notes: vec![
            "Accounts of this type are only available when enabled for your contact center by the service provider.",
            "The only provider is Synthetix KB.",
        ],
        cardinality: Cardinality::Many,
        gated: true,
        providers: vec![provider(
            "synthetix",
            "Synthetix KB",
            vec![
                url("Url", "The Synthetix API URL.", HTTPS)
                    .default(json!("https://api.syn-finity.com/1.1/"))
                    .required()
                    .target(),
                secret("Consumer Key", "The consumer key for Synthetix.").required(),
                secret("Application Key", "The application key for Synthetix.").required(),
                boolean(
                    "Use as exclusive KB",
                    "When checked, the external KB is used to search KB topics, submit new topics, \
                     and so forth. When not checked, it is a supplementary provider only: Agent \
                     Desktop uses the native KB first and searches the external KB if nothing is \
                     found there.",
                ),
            ],
            probe("GET <URL>/external/views with the consumer and application keys."),
        )],
    }
}

fn loxysoft() -> IntegrationType {
    IntegrationType {
        key: "loxysoft",
        label: "Loxysoft WFM",
        description: "Integration with the Loxysoft WFM application provides automatically \
            generated reports for workforce scheduling and real-time monitoring of agents' \
            adherence to work schedules. Setup is only necessary for real-time adherence monitoring.",
        notes: vec!["You can only have one WFM integration account (WFM or Loxysoft WFM) in your contact center."],
        cardinality: Cardinality::OnePerTenant { group: "wfm" },
        gated: false,
        providers: vec![provider(
            "default",
            "Loxysoft WFM",
            vec![
                seconds(
                    "Periodic update interval",
                    "The period (in seconds) with which real-time metrics will be updated; the \
                     default interval is 10 seconds.",
                )
                .default(json!(10)),
                url(
                    "URL",
                    "The unique URL of your Loxysoft account, where the call flow data is submitted.",
                    HTTP_OR_HTTPS,
                )
                .required()
                .target(),
                secret("Token", "The authorization token for your Loxysoft account.").required(),
                field(
                    "Skills Mapping",
                    "Maps service names to corresponding Loxysoft codes.",
                    FieldKind::Mapping {
                        key_label: "Service",
                        value_label: "Loxysoft code",
                        value: MappingValue::Text { max_len: 64 },
                    },
                )
                .default(json!({})),
            ],
            probe("A POST of an empty update to the account URL with the token."),
        )],
    }
}

/// Why the messenger providers gain a secret the spec does not list.
const VERIFY_DELIVERIES: &str = "Needed to verify that a delivery to this account's inbound webhook comes from the \
     vendor; without it deliveries are refused.";

fn messenger() -> IntegrationType {
    let mut facebook = provider(
        "facebook",
        "Facebook Messenger",
        vec![
            text("Page Username", "The exact username of your Facebook Page.").required(),
            text("Page ID", "The exact page ID for your Facebook Page.").required(),
            secret("Token", "The Page Access Token for your Facebook Page.").required(),
            secret(
                "Webhook Verify Token",
                "The token used to confirm that Facebook is the real server, which is needed for \
                 Facebook to send you a message from the customer. If you do not have a token, \
                 click Generate random token.",
            ),
            secret(
                "App Secret",
                "The App Secret of the Facebook app that subscribes to the page (App settings > Basic). \
                 Facebook signs every message it delivers with it.",
            )
            .addition(VERIFY_DELIVERIES),
        ],
        probe("Graph API GET /debug_token with the page token: the token is valid and belongs to the page."),
    );
    facebook.inbound = Some(Inbound {
        proof: "GET handshake: hub.verify_token equals the Webhook Verify Token; POST: X-Hub-Signature-256 \
                is sha256= and the hex HMAC-SHA256 of the body keyed with the App Secret.",
        secrets: &[keys::messenger::facebook::WEBHOOK_VERIFY_TOKEN, keys::messenger::facebook::APP_SECRET],
    });
    facebook.actions.push(action(
        "generate_token",
        "Generate random token",
        "Creates a random webhook verify token that you can copy and paste into your Facebook App \
         management page in Webhooks > Edit Page Subscription > Verify Token.",
    ));
    let mut line = provider(
        "line",
        "LINE",
        vec![
            secret("Token", "The access token for your LINE@ account.").required(),
            secret(
                "Channel Secret",
                "The channel secret of your LINE Messaging API channel (LINE Developers Console > \
                 Basic settings). LINE signs every webhook it delivers with it.",
            )
            .addition(VERIFY_DELIVERIES),
        ],
        probe("GET /v2/bot/info with the channel access token."),
    );
    line.inbound = Some(Inbound {
        proof: "X-Line-Signature is the base64 HMAC-SHA256 of the body keyed with the Channel Secret.",
        secrets: &[keys::messenger::line::CHANNEL_SECRET],
    });
    let mut nexmo = provider(
        "nexmo",
        "Nexmo",
        vec![
            text(
                "Key",
                "The API key that was created when you created a Nexmo account (Nexmo Dashboard account settings).",
            )
            .required(),
            secret(
                "Secret",
                "The API secret that was created when you created a Nexmo account (Nexmo Dashboard account settings).",
            )
            .required(),
            secret(
                "Signature Secret",
                "The signature secret of your Vonage account (Dashboard > Settings > Signature secret, \
                 method SHA-256 HMAC). Vonage signs the webhooks of the Messages API with it.",
            )
            .addition(VERIFY_DELIVERIES),
        ],
        probe("GET /account/get-balance with the API key and secret."),
    );
    nexmo.inbound = Some(Inbound {
        proof: "Authorization: Bearer is a JWT signed HS256 with the Signature Secret whose payload_hash \
                is the hex SHA-256 of the body.",
        secrets: &[keys::messenger::nexmo::SIGNATURE_SECRET],
    });
    let mut telegram = provider(
        "telegram",
        "Telegram",
        vec![
            text("Bot Username", "The exact username of your Telegram bot.").required(),
            secret("Token", "The API token for your Telegram bot.").required(),
            url(
                "Webhook URL",
                "Where Set Webhook tells Telegram to deliver this bot's messages. Leave empty to use this \
                 account's own inbound webhook URL; set it only when a proxy in front of this service \
                 publishes that webhook under another address.",
                &["https"],
            )
            .addition("Set Webhook needs an address Telegram can reach; most accounts leave it empty."),
        ],
        probe("Bot API getMe with the token: the bot answers and its username matches."),
    );
    telegram.inbound = Some(Inbound {
        proof: "X-Telegram-Bot-Api-Secret-Token equals the secret patchbay derived from the account and its \
                token and passed to setWebhook as secret_token.",
        secrets: &[keys::messenger::telegram::TOKEN],
    });
    telegram.actions.push(action(
        "set_webhook",
        "Set Webhook",
        "Registers this account's inbound webhook URL (or the Webhook URL, when set) with Telegram, \
         which is needed for Telegram to send you a message from the customer, then reads it back. \
         You must get the token from Telegram; you cannot generate one here.",
    ));
    let mut viber = provider(
        "viber",
        "Viber",
        vec![
            text("Bot Username", "The exact name of your Viber Public Account username.").required(),
            secret("Token", "The password that is given to you after your Public Account application is approved.")
                .required(),
            text_rule(
                "Webhook url (host and port)",
                "The address of your server and port number (e.g., office.yourcompany.com:1234). If \
                 you do not know the server URL or port number, ask your system administrator.",
                TextRule::HostPort,
            )
            .example("office.yourcompany.com:1234"),
        ],
        probe("POST /pa/get_account_info with X-Viber-Auth-Token: status 0 and the account name."),
    );
    let mut set_webhook = action(
        "set_webhook",
        "Set Webhook",
        "Sets the webhook, which is necessary for Viber to send you a message from the customer, \
         then reads it back.",
    );
    set_webhook.params.push(
        text_rule(
            "Webhook url (host and port)",
            "The address of your server and port number (e.g., office.yourcompany.com:1234).",
            TextRule::HostPort,
        )
        .required()
        .example("office.yourcompany.com:1234"),
    );
    viber.actions.push(set_webhook);
    viber.inbound = Some(Inbound {
        proof: "X-Viber-Content-Signature is the hex HMAC-SHA256 of the body keyed with the Token.",
        secrets: &[keys::messenger::viber::TOKEN],
    });
    IntegrationType {
        key: "messenger",
        label: "Messenger",
        description: "Integration with messengers (Facebook Messenger, LINE, Telegram, Viber, \
            Nexmo) lets the Agent Desktop handle customer-initiated interactions from the messenger \
            application. Configuration links your organization's messenger account to your tenant.",
        notes: vec!["To add a messenger integration account, click the add \"+\" button and select the desired type of messenger."],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![facebook, line, nexmo, telegram, viber],
    }
}

fn nice() -> IntegrationType {
    IntegrationType {
        key: "nice",
        label: "NICE",
        description: "NICE recording integration provides quality management (QM) of your call \
            center by allowing reporting on call state and agent messages.",
        notes: vec!["This integration option must be enabled for your contact center by the service provider."],
        cardinality: Cardinality::Many,
        gated: true,
        providers: vec![provider(
            "default",
            "NICE",
            vec![
                seconds(
                    "Keep alive update interval",
                    "Sends periodic messages back to NICE servers to ensure the pathway stays open; \
                     the default interval is 60 seconds.",
                )
                .default(json!(60)),
                text(
                    "Username",
                    "The username used to authenticate the NICE account, provided when you sign up for NICE.",
                )
                .required(),
                secret(
                    "Password",
                    "The password used to authenticate the NICE account, provided when you sign up for NICE.",
                )
                .required(),
                text(
                    "Agent ID prefix",
                    "A prefix for agent ID data. Empty by default; when set, it is added to user \
                     IDs whenever they are reported.",
                )
                .default(json!("")),
                text(
                    "Extension prefix",
                    "A prefix for phone extension data. Empty by default; when set, it is added to \
                     extensions whenever they are reported.",
                )
                .default(json!("")),
                url("URL", "The URL the call flow data is submitted to.", HTTP_OR_HTTPS).required().target(),
            ],
            probe("An authenticated keep-alive to the NICE URL."),
        )],
    }
}

fn nlu() -> IntegrationType {
    IntegrationType {
        key: "nlu",
        label: "Natural Language Understanding",
        description: "IBM Watson Natural Language Understanding integration provides sentiment \
            analysis for services.",
        notes: vec![],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Watson Natural Language Understanding",
            vec![
                url("Url", "The Watson Natural Language Understanding analyze URL.", HTTPS)
                    .default(json!(
                        "https://gateway.watsonplatform.net/natural-language-understanding/api/v1/analyze?version=2017-02-27"
                    ))
                    .required()
                    .target(),
                choice("Method", "For this integration account, the HTTP method is POST.", &[("POST", "POST")])
                    .fixed(json!("POST")),
                text(
                    "Username",
                    "The username used to authenticate the Watson Natural Language Understanding \
                     API with Basic Authentication.",
                )
                .required(),
                secret(
                    "Password",
                    "The password used to authenticate the Watson Natural Language Understanding \
                     API with Basic Authentication.",
                )
                .required(),
                integer("Limit", "The limit is 100.", 100, 100, None).fixed(json!(100)),
            ],
            probe("A POST of a one-word analyze request with Basic auth."),
        )],
    }
}

fn next_caller() -> IntegrationType {
    IntegrationType {
        key: "next_caller",
        label: "Next Caller",
        description: "Next Caller identifies unknown callers from incoming chats and augments \
            contact data with new information available on the cloud.",
        notes: vec![],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Next Caller",
            vec![
                boolean("Sandbox Mode", "Select if this account is to be used in Sandbox mode.").target(),
                text(
                    "Username",
                    "The username used to authenticate the Next Caller API via Basic Access authentication.",
                )
                .required(),
                secret("Password", "The password used to authenticate the Next Caller API.").required(),
                field_mapping("next_caller"),
            ],
            probe("GET /v2.1/records?phone=… with Basic auth (the sandbox host in Sandbox mode)."),
        )],
    }
}

fn crm_notes(guide: &'static str) -> Vec<&'static str> {
    vec![
        guide,
        "The spec defers these properties to the vendor's guide; patchbay asks for what the vendor's public API documentation requires to authenticate: the instance URL, the authentication method and its credentials.",
        "You can configure multiple accounts of this type for access to different systems.",
    ]
}

fn oracle_fields(site_example: &'static str) -> Vec<Field> {
    vec![
        url(
            "Site URL",
            "The URL of your Oracle Service Cloud (RightNow) site, e.g. https://yoursite.custhelp.com.",
            HTTPS,
        )
        .required()
        .example(site_example)
        .target(),
        text("Username", "The staff account used for the Connect REST API (Basic authentication).").required(),
        secret("Password", "The password of that staff account.").required(),
        text("API Version", "The Connect REST API version, as in /services/rest/connect/v1.4/.").default(json!("v1.4")),
    ]
}

fn oracle_service_cloud() -> IntegrationType {
    IntegrationType {
        key: "oracle_service_cloud",
        label: "Oracle Service Cloud",
        description: "Integration with Oracle Service Cloud customer relationship management \
            applications provides the integrated Agent Desktop, access to CRM data from scenarios, \
            screen-pop, and activity history functions.",
        notes: crm_notes("See the Oracle Service Cloud Integration Guide for detailed integration instructions."),
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Oracle Service Cloud",
            oracle_fields("https://yoursite.custhelp.com"),
            probe("GET {site}/services/rest/connect/{version}/accounts?limit=1 with Basic auth."),
        )],
    }
}

fn rightnow() -> IntegrationType {
    IntegrationType {
        key: "rightnow",
        label: "RightNow",
        description: "Integration with RightNow (the former name of Oracle Service Cloud) CRM \
            sites provides the integrated Agent Desktop, access to CRM data from scenarios, \
            screen-pop, and activity history functions.",
        notes: crm_notes("See the Oracle Service Cloud Integration Guide for detailed integration instructions."),
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "RightNow",
            oracle_fields("https://yoursite.rightnowdemo.com"),
            probe("GET {site}/services/rest/connect/{version}/accounts?limit=1 with Basic auth."),
        )],
    }
}

fn salesforce() -> IntegrationType {
    let password_flow = || json!("password");
    IntegrationType {
        key: "salesforce",
        label: "Salesforce.com",
        description: "Integration with Salesforce.com (SFDC) provides the integrated Agent Desktop, \
            single sign-on, access to CRM data from scenarios, screen pop, activity history, and \
            click-to-dial functions; calling lists can be created from SFDC contact records and \
            campaign results exported to SFDC.",
        notes: crm_notes("See the Salesforce.com Integration Guide for detailed integration instructions."),
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Salesforce.com",
            vec![
                url(
                    "Login URL",
                    "The OAuth 2.0 authorization server: https://login.salesforce.com, \
                     https://test.salesforce.com for sandboxes, or your My Domain URL.",
                    HTTPS,
                )
                .default(json!("https://login.salesforce.com"))
                .required()
                .target(),
                choice(
                    "Authentication method",
                    "The OAuth 2.0 flow used to obtain an access token for the connected app.",
                    &[("client_credentials", "Client credentials"), ("password", "Username and password")],
                )
                .default(json!("client_credentials"))
                .required(),
                text("Consumer Key", "The connected app's consumer key (OAuth client id).").required(),
                secret("Consumer Secret", "The connected app's consumer secret (OAuth client secret).").required(),
                text("Username", "The integration user's username (Username and password flow).")
                    .required_if("authentication_method", password_flow()),
                secret("Password", "The integration user's password (Username and password flow).")
                    .required_if("authentication_method", password_flow()),
                secret(
                    "Security Token",
                    "The user's security token, appended to the password when the org requires it.",
                ),
                text("API Version", "The REST API version used for data access.").default(json!("v59.0")),
            ],
            probe("OAuth 2.0 token request, then GET /services/data/{version}/limits with the token."),
        )],
    }
}

fn servicenow() -> IntegrationType {
    let oauth = || json!("oauth");
    IntegrationType {
        key: "servicenow",
        label: "ServiceNow",
        description: "Integration with ServiceNow IT service management applications provides the \
            integrated Agent Desktop, softphone and click-to-call, access to CRM data from \
            scenarios, screen-pop, and activity stream functions.",
        notes: crm_notes("See the ServiceNow Integration Guide for detailed integration instructions."),
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "ServiceNow",
            vec![
                url("Instance URL", "Your ServiceNow instance, e.g. https://yourinstance.service-now.com.", HTTPS)
                    .required()
                    .example("https://yourinstance.service-now.com")
                    .target(),
                choice(
                    "Authentication method",
                    "Basic authentication, or OAuth 2.0 (password grant with an application registry client).",
                    &[("basic", "Basic"), ("oauth", "OAuth 2.0")],
                )
                .default(json!("basic"))
                .required(),
                text("Username", "The integration user's username.").required(),
                secret("Password", "The integration user's password.").required(),
                text("Client ID", "The OAuth application registry client id.")
                    .required_if("authentication_method", oauth()),
                secret("Client Secret", "The OAuth application registry client secret.")
                    .required_if("authentication_method", oauth()),
            ],
            probe("GET /api/now/table/sys_user?sysparm_limit=1 with the credentials."),
        )],
    }
}

fn sso() -> IntegrationType {
    let common = || {
        vec![
            boolean("Enable Single Sign-On", "Select the checkbox to enable single sign-on functionality."),
            url("Identity Provider Single Sign-On URL", "The single sign-on URL of your identity provider.", HTTPS)
                .required_if("enable_single_sign_on", json!(true))
                .loopback_http()
                .target(),
            text("Identity Provider Issuer", "The issuer (entity id) of your identity provider.")
                .required_if("enable_single_sign_on", json!(true)),
            text_rule(
                "Identity Provider Certificate",
                "The signing certificate of your identity provider (PEM). During a certificate rollover, \
                 paste both certificates: a response signed with either is accepted.",
                TextRule::PemCertificate,
            )
            .required_if("enable_single_sign_on", json!(true)),
            boolean(
                "Enable Just-in-time user provisioning",
                "Automatically creates call center users on the first SSO login attempt authorized \
                 by the identity provider.",
            ),
            boolean("Use Template", "SSO templates are disabled.").fixed(json!(false)),
            boolean(
                "Allow IdP-initiated sign-in",
                "Accept sign-ins started at the identity provider (unsolicited responses). Off, only \
                 sign-ins started here are accepted, which stops a response from being replayed into \
                 another browser.",
            )
            .addition(SAML_SERVICE_PROVIDER),
        ]
    };
    let mut admin = common();
    admin.extend([
        text("Role attribute", "The SAML attribute whose values decide a new user's role (just-in-time provisioning).")
            .default(json!("role"))
            .addition(SAML_SERVICE_PROVIDER),
        text(
            "Administrator role values",
            "Values of the role attribute, separated by commas, that make a new user a tenant admin; \
             any other user becomes a viewer.",
        )
        .default(json!("admin"))
        .addition(SAML_SERVICE_PROVIDER),
        boolean(
            "Require single sign-on",
            "The admin screen refuses sign-in with this tenant's API tokens; its people sign in \
             through the identity provider. API calls with tokens keep working.",
        )
        .addition(SAML_SERVICE_PROVIDER),
    ]);
    let mut desktop = common();
    desktop.push(
        text(
            "Allowed return URLs",
            "Where the agent desktop may ask to be sent back after sign-in, separated by spaces or \
             commas (https://, or http:// on loopback). The desktop receives a one-time code there.",
        )
        .required_if("enable_single_sign_on", json!(true))
        .addition(SAML_SERVICE_PROVIDER),
    );
    let probe_text = "The IdP certificate parses and is in date (a warning within 30 days of its end), the SSO URL \
                      answers, and where the service provider's metadata is.";
    IntegrationType {
        key: "sso",
        label: "Single Sign-On",
        description: "Integrates with SAML 2.0 identity providers such as Okta and ForgeRock for \
            single sign-on to the Agent Desktop (AD) or the Contact Center Administrator (Admin). \
            Just-in-time (JIT) user provisioning creates call center users on their first SSO login.",
        notes: vec!["Only one instance can be created per tenant for each of Agent Desktop and Admin SSO."],
        cardinality: Cardinality::OnePerProvider,
        gated: false,
        providers: vec![
            provider("agent_desktop", "Agent Desktop SSO", desktop, probe(probe_text)),
            provider("admin", "Admin SSO", admin, probe(probe_text)),
        ],
    }
}

/// Why the SSO accounts have fields the spec lacks.
const SAML_SERVICE_PROVIDER: &str = "patchbay is the SAML service provider and needs these to decide who may sign in.";

fn stt() -> IntegrationType {
    let default_account = || {
        boolean("Default account", "Select if this integration account is to be the default STT integration account.")
    };
    let mut watson = provider(
        "watson",
        "Watson",
        vec![
            url("URL", "The default URL is wss://stream.watsonplatform.net. Only the wss:// prefix is allowed.", WSS)
                .default(json!("wss://stream.watsonplatform.net"))
                .required()
                .target(),
            text("Username", "The Watson account username.").required(),
            secret("Password", "The Watson account password.").required(),
            default_account(),
        ],
        probe("A WebSocket (wss) handshake with {url}/speech-to-text/api/v1/recognize using the credentials."),
    );
    watson.default_group = Some("stt");
    let mut govivace = provider(
        "govivace",
        "GoVivace",
        vec![
            url(
                "URL",
                "The default URL is wss://services.govivace.com/telephony. Only the wss:// prefix is allowed.",
                WSS,
            )
            .default(json!("wss://services.govivace.com/telephony"))
            .required()
            .target(),
            secret("API Key", "The GoVivace API key.").required(),
            default_account(),
        ],
        probe("A WebSocket (wss) handshake with the URL using the API key."),
    );
    govivace.default_group = Some("stt");
    IntegrationType {
        key: "stt",
        label: "Speech To Text",
        description: "Speech To Text (STT) integration transcribes voice calls and saves the \
            transcriptions to interaction records; transcripts are searchable and include \
            sentiment attributes when Natural Language Understanding is enabled.",
        notes: vec!["At most one STT account of a tenant is the default account."],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![watson, govivace],
    }
}

fn statistics_receiver() -> IntegrationType {
    IntegrationType {
        key: "statistics_receiver",
        label: "Statistics Data Receiver",
        description: "Sends service statistics to a receiver over TCP.",
        notes: vec![],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Statistics Data Receiver",
            vec![
                choice("Protocol", "The protocol is TCP.", &[("TCP", "TCP")]).fixed(json!("TCP")),
                text_rule("Host name", "The host name of the receiver.", TextRule::Hostname).required().target(),
                port("The port number of the receiver."),
            ],
            probe("A TCP connect to host:port."),
        )],
    }
}

fn tts() -> IntegrationType {
    let voice = || text("Voice", "The voice used for prompts, chosen from the list Load Voices offers.");
    let load_voices =
        || action("load_voices", "Load Voices", "Loads the voices this account can use, to choose a voice type from.");
    let mut watson = provider(
        "watson",
        "IBM Watson",
        vec![
            url("URL", "The Watson Text to Speech service URL.", HTTPS)
                .default(json!("https://stream.watsonplatform.net/text-to-speech/api/v1/"))
                .required()
                .target(),
            text("User name", "The Watson account username.").required(),
            secret("Password", "The Watson account password.").required(),
            voice(),
        ],
        probe("GET {url}voices with Basic auth; success reads \"Account credentials appear to be valid.\""),
    );
    watson.actions.push(load_voices());
    let mut google = provider(
        "google",
        "Google Cloud",
        vec![
            url("URL", "The Google Cloud scope URL.", HTTPS)
                .default(json!("https://www.googleapis.com/auth/cloud-platform"))
                .required(),
            secret("API Key", "The Google Cloud Service API Key.").required(),
            voice(),
        ],
        probe("GET https://texttospeech.googleapis.com/v1/voices?key=…; success reads \"Account credentials appear to be valid.\""),
    );
    google.actions.push(load_voices());
    IntegrationType {
        key: "tts",
        label: "Text To Speech",
        description: "Integrates with text-to-speech providers IBM Watson and Google Cloud for \
            creating voice prompts, so call prompts may use a variety of voices, accents, and languages.",
        notes: vec![],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![watson, google],
    }
}

fn tdg() -> IntegrationType {
    IntegrationType {
        key: "tdg",
        label: "The Data Group (TDG)",
        description: "The Data Group identifies unknown callers from incoming chats and augments \
            contact data with new information available on the cloud.",
        notes: vec![],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "The Data Group",
            vec![
                text("Username", "The username used to authenticate The Data Group REST API, provided when you register for an API key.")
                    .required(),
                secret("Password", "The password used to authenticate The Data Group REST API, provided when you register for an API key.")
                    .required(),
                secret("API Key", "The API key needed to access The Data Group REST API, provided after registration.")
                    .required(),
                field_mapping("tdg"),
            ],
            no_test("The spec gives The Data Group accounts no Test connection button."),
        )],
    }
}

fn wfm() -> IntegrationType {
    let interval = || {
        seconds("Periodic update interval", "The period (in seconds) with which real-time metrics will be updated.")
            .default(json!(10))
    };
    let protocol = |value: &'static str| {
        choice(
            "Protocol",
            "The communication protocol (read-only): TCP (Aspect WFM) or HTTP POST.",
            &[("tcp", "TCP (Aspect WFM)"), ("http_post", "HTTP POST")],
        )
        .fixed(json!(value))
    };
    let record_fields = vec![
        RecordField { key: "agent_id", label: "Agent ID", default: 16, min: 1, max: 255 },
        RecordField { key: "extension", label: "Extension", default: 10, min: 1, max: 255 },
        RecordField { key: "agent_mode", label: "Agent mode", default: 2, min: 2, max: 8 },
        RecordField { key: "reason_code", label: "Reason code", default: 24, min: 1, max: 255 },
        RecordField { key: "service", label: "Service", default: 32, min: 1, max: 255 },
        RecordField { key: "timestamp", label: "Timestamp", default: 14, min: 14, max: 32 },
    ];
    let default_sizes: serde_json::Map<String, Value> =
        record_fields.iter().map(|f| (f.key.to_owned(), json!(f.default))).collect();
    let aspect = provider(
        "aspect_tcp",
        "TCP (Aspect WFM)",
        vec![
            interval(),
            protocol("tcp"),
            text_rule(
                "Host name",
                "The name or IP address of the host where the Aspect Real-Time Adherence server (RTA) is run.",
                TextRule::Hostname,
            )
            .required()
            .target(),
            port(
                "The TCP port assigned to the Aspect RTA server on the above host; it must \
                 correspond to the port configured on the RTA side.",
            ),
            field(
                "Record field sizes",
                "The lengths of the data fields communicated to Aspect RTA; the defaults correspond \
                 to the default settings of the same fields on the RTA side; if they are changed on \
                 the RTA side, they must be changed accordingly here.",
                FieldKind::RecordFieldSizes { fields: record_fields },
            )
            .default(Value::Object(default_sizes)),
            reason_codes_mapping(),
        ],
        probe("A TCP connect to host:port."),
    );
    let http_post = provider(
        "http_post",
        "HTTP POST",
        vec![
            interval(),
            protocol("http_post"),
            url("URL", "The unique URL of your WFM account.", HTTP_OR_HTTPS).required().target(),
            secret("Token", "Optional. The access token for your WFM account."),
            reason_codes_mapping(),
        ],
        probe("Sends POST with an empty agent and services list."),
    );
    IntegrationType {
        key: "wfm",
        label: "WFM",
        description: "Integration with the WFM workforce management application provides \
            automatically generated reports for workforce scheduling and real-time monitoring of \
            agents' adherence to work schedules. Typically the Universal interface of the Aspect \
            Real-Time Adherence server (RTA) receives the data feed; its Unicode checkbox must be \
            selected (ASCII is not supported). With HTTP POST, errors are ignored and the next \
            request is done after the defined interval.",
        notes: vec!["You can only have one WFM integration account (WFM or Loxysoft WFM) in your contact center."],
        cardinality: Cardinality::OnePerTenant { group: "wfm" },
        gated: false,
        providers: vec![aspect, http_post],
    }
}

fn zapier() -> IntegrationType {
    IntegrationType {
        key: "zapier",
        label: "Zapier",
        description: "Lets Zapier use your contact center's data to automate workflow events \
            called \"zaps\"; scenarios define how data is retrieved.",
        notes: vec!["Zapier signs in to patchbay with these credentials; there is nothing to test outbound."],
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Zapier",
            vec![
                text("Username", "The username Zapier will use to access data.").required(),
                secret("Password", "The password Zapier will use to access data.").required(),
            ],
            no_test("Zapier calls in with these credentials; the spec gives Zapier accounts no Test connection."),
        )],
    }
}

fn zendesk() -> IntegrationType {
    let api_token = || json!("api_token");
    IntegrationType {
        key: "zendesk",
        label: "Zendesk",
        description: "Integration with the Zendesk customer relationship management application \
            provides the integrated Agent Desktop, single sign-on, access to CRM data from \
            scenarios, screen pop, activity history, and click-to-dial functions.",
        notes: crm_notes("See the Zendesk Integration Guide for detailed integration instructions."),
        cardinality: Cardinality::Many,
        gated: false,
        providers: vec![provider(
            "default",
            "Zendesk",
            vec![
                url("Subdomain URL", "Your Zendesk URL, e.g. https://yourcompany.zendesk.com.", HTTPS)
                    .required()
                    .example("https://yourcompany.zendesk.com")
                    .target(),
                choice(
                    "Authentication method",
                    "An agent's email address with an API token, or an OAuth access token.",
                    &[("api_token", "Email and API token"), ("oauth", "OAuth access token")],
                )
                .default(json!("api_token"))
                .required(),
                text_rule("Email", "The email address of the Zendesk agent the API token belongs to.", TextRule::Email)
                    .required_if("authentication_method", api_token()),
                secret("API Token", "A Zendesk API token (Admin Center > Apps and integrations > Zendesk API).")
                    .required_if("authentication_method", api_token()),
                secret("OAuth Access Token", "An OAuth access token with the read scope.")
                    .required_if("authentication_method", json!("oauth")),
            ],
            probe("GET /api/v2/users/me.json with the credentials."),
        )],
    }
}
