//! `GET /api/v1/integration-types`: the catalog, with a JSON Schema per provider.

use axum::extract::State;
use axum::Json;
use patchbay_api::IntegrationTypes;

use crate::auth::Principal;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, _who: Principal) -> Json<IntegrationTypes> {
    Json(IntegrationTypes::from_catalog(state.catalog))
}
