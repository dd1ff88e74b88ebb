//! The OpenAPI components derived from the API types: each type's JSON Schema (draft
//! 2020-12, the dialect of OpenAPI 3.1), with references into `#/components/schemas`.

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{Map, Value};

use crate::*;

/// The component schemas of the types the API sends and takes, by type name.
pub fn component_schemas() -> Map<String, Value> {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    register::<AccountList>(&mut generator);
    register::<AccountCreate>(&mut generator);
    register::<AccountUpdate>(&mut generator);
    register::<AccountTest>(&mut generator);
    register::<ActionRequest>(&mut generator);
    register::<ActionResult>(&mut generator);
    register::<ActionFailure>(&mut generator);
    register::<AuditPage>(&mut generator);
    register::<BulkTestReport>(&mut generator);
    register::<FeedList>(&mut generator);
    register::<IntegrationTypes>(&mut generator);
    register::<TenantList>(&mut generator);
    register::<TenantCreate>(&mut generator);
    register::<TenantUpdate>(&mut generator);
    register::<IntakeReport>(&mut generator);
    register::<KeyStatus>(&mut generator);
    register::<Live>(&mut generator);
    register::<Problem>(&mut generator);
    register::<ResealReport>(&mut generator);
    register::<Role>(&mut generator);
    register::<Token>(&mut generator);
    register::<TokenList>(&mut generator);
    register::<TokenCreated>(&mut generator);
    register::<TokenCreate>(&mut generator);
    register::<WhoAmI>(&mut generator);
    generator.take_definitions(true).into_iter().collect()
}

/// Adds `T` (and what it refers to) to the generator's definitions.
fn register<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) {
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
        let roles: Vec<&str> =
            schemas["Role"]["oneOf"].as_array().expect("a oneOf").iter().filter_map(|r| r["const"].as_str()).collect();
        assert_eq!(roles, Role::ALL.map(Role::as_str));
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
