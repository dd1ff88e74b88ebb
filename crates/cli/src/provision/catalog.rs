//! Provisioning reads the catalog the server validates with (`patchbay_catalog`): types and
//! whether they are gated, providers, each property's kind and fixed value, and the form
//! the server stores values in (`Provider::stored_form`). This module only lists keys for
//! messages.

use patchbay_catalog::{Catalog, IntegrationType, Provider};

fn joined<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    keys.collect::<Vec<_>>().join(", ")
}

pub(super) fn type_keys(catalog: &Catalog) -> String {
    joined(catalog.types.iter().map(|t| t.key))
}

pub(super) fn gated_keys(catalog: &Catalog) -> String {
    joined(catalog.types.iter().filter(|t| t.gated).map(|t| t.key))
}

pub(super) fn provider_keys(ty: &IntegrationType) -> String {
    joined(ty.providers.iter().map(|p| p.key))
}

pub(super) fn field_keys(provider: &Provider) -> String {
    joined(provider.fields.iter().map(|f| f.key.as_str()))
}
