//! `GET /api/v1/integration-types`: the catalog, with a JSON Schema per provider. The
//! catalog is built in, so the answer is built and serialized once.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use patchbay_api::IntegrationTypes;

use crate::auth::Principal;

pub async fn list(_who: Principal) -> impl IntoResponse {
    static ANSWER: OnceLock<Bytes> = OnceLock::new();
    let body = ANSWER
        .get_or_init(|| {
            let types = IntegrationTypes::from_catalog(patchbay_catalog::catalog());
            Bytes::from(serde_json::to_vec(&types).unwrap_or_default())
        })
        .clone();
    ([(header::CONTENT_TYPE, "application/json")], body)
}
