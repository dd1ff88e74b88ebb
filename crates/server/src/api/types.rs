//! `GET /api/v1/integration-types`: the catalog, with a JSON Schema per provider.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, _who: Principal) -> Json<Value> {
    let types: Vec<Value> = state
        .catalog
        .types
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
            if let Some(providers) = v["providers"].as_array_mut() {
                for (p, provider) in providers.iter_mut().zip(&t.providers) {
                    p["json_schema"] = provider.json_schema();
                }
            }
            v
        })
        .collect();
    Json(json!({ "items": types }))
}
