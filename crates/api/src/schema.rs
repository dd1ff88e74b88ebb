//! The OpenAPI components derived from the API types: each type's JSON Schema (draft
//! 2020-12, the dialect of OpenAPI 3.1), with references into `#/components/schemas`.
//! Request bodies are described as the server reads them (a field with a default may be
//! left out), responses as it writes them (every field it always sends is required, `null`
//! where the value is absent).

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::*;

/// The component schemas of the types the API sends and takes, by type name.
///
/// # Panics
/// When a type that both a request and a response hold is described differently by the two:
/// it needs a field default or `skip_serializing_if` it does not have.
pub fn component_schemas() -> Map<String, Value> {
    let mut requests = generator(Contract::Deserialize);
    register::<AccountCreate>(&mut requests);
    register::<AccountUpdate>(&mut requests);
    register::<AccountTest>(&mut requests);
    register::<ActionRequest>(&mut requests);
    register::<Bindings>(&mut requests);
    register::<ConversationSettings>(&mut requests);
    register::<CrmSearchRequest>(&mut requests);
    register::<IdentifyRequest>(&mut requests);
    register::<KbArticleWrite>(&mut requests);
    register::<SentimentRequest>(&mut requests);
    register::<SpeechRequest>(&mut requests);
    register::<SuggestRequest>(&mut requests);
    register::<SubscriptionCreate>(&mut requests);
    register::<ReplyRequest>(&mut requests);
    register::<TranscribeControl>(&mut requests);
    register::<TranscriptRequest>(&mut requests);
    register::<TranscriptionSettings>(&mut requests);
    register::<ExportJobWrite>(&mut requests);
    register::<RecordingMeta>(&mut requests);
    register::<TenantCreate>(&mut requests);
    register::<TenantSettings>(&mut requests);
    register::<TenantUpdate>(&mut requests);
    register::<TokenCreate>(&mut requests);
    register::<UserCreate>(&mut requests);
    register::<UserUpdate>(&mut requests);
    register::<ZapierHookCreate>(&mut requests);
    register::<ZapierSendMessage>(&mut requests);
    let mut responses = generator(Contract::Serialize);
    register::<AccountList>(&mut responses);
    register::<ActionResult>(&mut responses);
    register::<ActionFailure>(&mut responses);
    register::<AuditPage>(&mut responses);
    register::<Bindings>(&mut responses);
    register::<BulkTestReport>(&mut responses);
    register::<Conversation>(&mut responses);
    register::<ConversationEventPage>(&mut responses);
    register::<ConversationMessage>(&mut responses);
    register::<ConversationSettings>(&mut responses);
    register::<Subscription>(&mut responses);
    register::<SubscriptionCreated>(&mut responses);
    register::<SubscriptionList>(&mut responses);
    register::<CrmContacts>(&mut responses);
    register::<ExportJobList>(&mut responses);
    register::<ExportJob>(&mut responses);
    register::<ExportJobSettings>(&mut responses);
    register::<ExportRun>(&mut responses);
    register::<ExportRunList>(&mut responses);
    register::<ExportFailureList>(&mut responses);
    register::<FeedList>(&mut responses);
    register::<IntegrationTypes>(&mut responses);
    register::<IntakeReport>(&mut responses);
    register::<Identity>(&mut responses);
    register::<KbArticle>(&mut responses);
    register::<KbArticleList>(&mut responses);
    register::<KbResults>(&mut responses);
    register::<KbTopicCreated>(&mut responses);
    register::<KeyStatus>(&mut responses);
    register::<Live>(&mut responses);
    register::<LiveEvent>(&mut responses);
    register::<LiveSnapshot>(&mut responses);
    register::<Problem>(&mut responses);
    register::<Recording>(&mut responses);
    register::<RecordingPage>(&mut responses);
    register::<ResealReport>(&mut responses);
    register::<Role>(&mut responses);
    register::<Sentiment>(&mut responses);
    register::<Suggestions>(&mut responses);
    register::<Tenant>(&mut responses);
    register::<TenantContents>(&mut responses);
    register::<TenantList>(&mut responses);
    register::<Token>(&mut responses);
    register::<TokenList>(&mut responses);
    register::<TokenCreated>(&mut responses);
    register::<TranscribeFailure>(&mut responses);
    register::<Transcript>(&mut responses);
    register::<TranscriptionSettings>(&mut responses);
    register::<TranscriptPiece>(&mut responses);
    register::<Usage>(&mut responses);
    register::<User>(&mut responses);
    register::<UserList>(&mut responses);
    register::<ZapierHook>(&mut responses);
    register::<ZapierMe>(&mut responses);
    register::<ZapierTrigger>(&mut responses);
    register::<HealthChange>(&mut responses);
    register::<WhoAmI>(&mut responses);
    let mut schemas: Map<String, Value> = responses.take_definitions(true).into_iter().collect();
    for (name, schema) in requests.take_definitions(true) {
        match schemas.get(&name) {
            Some(response) if *response != schema => {
                panic!("`{name}` is described differently as a request ({schema}) and as a response ({response})")
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    mark_tenant_bound_roles(&mut schemas);
    schemas
}

/// Marks each value of `Role` with `x-tenant-bound` ([`Role::is_tenant_bound`]): the admin
/// screen offers a tenant admin only the roles whose tokens belong to a tenant.
fn mark_tenant_bound_roles(schemas: &mut Map<String, Value>) {
    let choices = schemas.get_mut("Role").and_then(|r| r.get_mut("oneOf")).and_then(Value::as_array_mut);
    for choice in choices.into_iter().flatten() {
        let bound = choice["const"].as_str().and_then(Role::parse).map(Role::is_tenant_bound);
        if let (Some(bound), Some(choice)) = (bound, choice.as_object_mut()) {
            choice.insert("x-tenant-bound".into(), Value::Bool(bound));
        }
    }
}

/// The fields a request body of type `T` may hold, in the type's order: for the checks that
/// read a body field by field (to report every problem at once) and refuse the others.
pub fn request_fields<T: JsonSchema>() -> Vec<String> {
    let schema = generator(Contract::Deserialize).into_root_schema_for::<T>();
    schema.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.contract = contract;
        })
        .into_generator()
}

/// Adds `T` (and what it refers to) to the generator's definitions.
fn register<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_a_component_and_references_stay_inside_the_components() {
        let schemas = component_schemas();
        for name in [
            "KeyStatus",
            "KeyInfo",
            "ResealReport",
            "ResealFailure",
            "Problem",
            "FieldError",
            "Role",
            "Token",
            "TokenList",
            "TokenCreated",
            "TokenCreate",
            "WhoAmI",
        ] {
            assert!(schemas.contains_key(name), "{name} is missing: {:?}", schemas.keys().collect::<Vec<_>>());
        }
        let text = serde_json::to_string(&schemas).expect("JSON");
        for (at, _) in text.match_indices("\"$ref\":\"") {
            let target = &text[at + 8..];
            assert!(target.starts_with("#/components/schemas/"), "a reference outside the components: {target:.60}");
        }
        let required = |name: &str| -> Vec<&str> {
            schemas[name]["required"].as_array().expect("a list").iter().filter_map(Value::as_str).collect()
        };
        assert!(required("ExportRun").contains(&"finished_at"), "a response's null is sent, so required");
        assert!(!required("Recording").contains(&"exports"), "a response's skipped field is not required");
        assert_eq!(
            required("RecordingMeta"),
            ["global_interaction_id", "call_started_at", "agent_login", "direction", "service"],
            "a request's defaults may be left out"
        );
        assert_eq!(
            request_fields::<RecordingMeta>(),
            schemas["RecordingMeta"]["properties"].as_object().expect("properties").keys().cloned().collect::<Vec<_>>()
        );
        let roles: Vec<&str> =
            schemas["Role"]["oneOf"].as_array().expect("a oneOf").iter().filter_map(|r| r["const"].as_str()).collect();
        assert_eq!(roles, Role::ALL.map(Role::as_str));
        for (choice, role) in schemas["Role"]["oneOf"].as_array().expect("a oneOf").iter().zip(Role::ALL) {
            assert_eq!(choice["x-tenant-bound"], Value::Bool(role.is_tenant_bound()), "{role:?}");
        }
    }

    /// The admin screen names roles and explains failure categories from these.
    #[test]
    fn every_role_and_failure_category_has_a_title_and_a_description() {
        let schemas = component_schemas();
        for (name, count) in [("Role", Role::ALL.len()), ("Category", Category::ALL.len())] {
            let choices = schemas[name]["oneOf"].as_array().expect("a oneOf");
            assert_eq!(choices.len(), count, "{name}");
            for choice in choices {
                for key in ["const", "title", "description"] {
                    assert!(choice[key].as_str().is_some_and(|t| !t.is_empty()), "{name}: {key} missing in {choice}");
                }
            }
        }
    }
}
