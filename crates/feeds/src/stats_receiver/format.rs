//! The statistics line: the tenant's service statistics as one NDJSON line, services in the
//! shape WFM HTTP POST gives them. Owns the line format (docs/feeds.md).

use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::state::Service;
use crate::wfm_http::ServiceOut;
use crate::wire::Rfc3339;

/// One line: `{"type":"statistics","seq":..,"sent_at":..,"services":[..]}` and `\n`.
pub fn encode_line(seq: u64, sent_at: chrono::DateTime<chrono::Utc>, services: &[Arc<Service>], out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Line<'a> {
        #[serde(rename = "type")]
        ty: &'static str,
        seq: u64,
        sent_at: Rfc3339,
        services: List<'a>,
    }
    struct List<'a>(&'a [Arc<Service>]);
    impl Serialize for List<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
            for service in self.0 {
                seq.serialize_element(&ServiceOut::new(&service.name, service))?;
            }
            seq.end()
        }
    }
    let line = Line { ty: "statistics", seq, sent_at: Rfc3339(sent_at), services: List(services) };
    serde_json::to_writer(&mut *out, &line).expect("lines serialize to memory");
    out.push(b'\n');
}
