//! The service's logs: the subscriber `patchbay serve` installs, also used by the tests that
//! check what it writes. The operator's filter decides what is logged, except that the
//! dependencies that print raw requests at their verbose levels are capped below them,
//! whatever the filter asks: no log level prints a secret.

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::filter::{FilterExt as _, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Dependency targets whose verbose levels print what goes over the wire, and the most
/// verbose level each may log at. tungstenite traces each WebSocket handshake request whole
/// (the URL with GoVivace's `?key=`, Watson's Basic credentials) and each message received;
/// reqwest's verbose connection log prints every byte sent. hyper and h2 log neither header
/// values nor bodies (checked by the trace-level sentinel test).
const CAPS: &[(&str, LevelFilter)] = &[
    ("tungstenite", LevelFilter::INFO),
    ("tokio_tungstenite", LevelFilter::INFO),
    ("reqwest::connect::verbose", LevelFilter::INFO),
];

/// The filter when the operator gives none (`PATCHBAY_LOG`).
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Lines as text or JSON (one object per line) to `writer`, filtered by `filter`
/// (`tracing` env-filter syntax; invalid directives are reported and skipped) and, whatever
/// it says, by the caps: both must let a line through, so no directive lifts a cap.
pub fn subscriber<W>(filter: &str, json: bool, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let lines = tracing_subscriber::fmt::layer().with_writer(writer);
    let lines = if json { lines.json().flatten_event(true).boxed() } else { lines.boxed() };
    let caps = Targets::new().with_default(LevelFilter::TRACE).with_targets(CAPS.iter().copied());
    tracing_subscriber::registry().with(lines.with_filter(EnvFilter::builder().parse_lossy(filter).and(caps)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_filter_lifts_the_caps_on_dependencies_that_print_requests() {
        let filters = [
            "trace",
            "tungstenite=trace",
            "trace,tungstenite::handshake::client=trace,tokio_tungstenite=trace",
            "[request]=trace",
        ];
        for (filter, json) in filters.iter().flat_map(|f| [(*f, false), (*f, true)]) {
            let file = tempfile::NamedTempFile::new().unwrap();
            let writer = file.reopen().unwrap();
            tracing::subscriber::with_default(subscriber(filter, json, move || writer.try_clone().unwrap()), || {
                tracing::info_span!("request").in_scope(|| {
                    tracing::trace!(target: "tungstenite::handshake::client", "Request: GET /?key=capped-1");
                    tracing::debug!(target: "tokio_tungstenite", "capped-2");
                    tracing::trace!(target: "reqwest::connect::verbose", "write: capped-3");
                    tracing::info!(target: "tungstenite::protocol", "info-passes");
                    tracing::trace!(target: "hyper::proto::h1::role", "trace-passes");
                });
            });
            let text = std::fs::read_to_string(file.path()).unwrap();
            assert!(!text.contains("capped-"), "{filter} (json {json}): {text}");
            assert!(text.contains("info-passes"), "{filter} (json {json}): {text}");
            if filter.starts_with("trace") {
                assert!(text.contains("trace-passes"), "{filter} (json {json}): {text}");
            }
        }
    }
}
