//! The Statistics Data Receiver feed: the tenant's service statistics over a kept-open TCP
//! connection to `host_name:port`, one NDJSON line every `statistics_every` (5 s by
//! default) and right after each connect. Owns the line format (docs/feeds.md).

use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::StatsConfig;
use crate::context::{FeedContext, Ticker};
use crate::state::Service;
use crate::transport;
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

pub(crate) async fn run(ctx: FeedContext, config: StatsConfig) {
    let mut backoff = ctx.backoff();
    let mut out = Vec::new();
    loop {
        let error = match transport::connect(&ctx, &config.host, config.port).await {
            Err(e) => e,
            Ok(stream) => {
                ctx.health.connected();
                let (mut reader, mut writer) = stream.into_split();
                let mut ticks = Ticker::starting(Instant::now(), ctx.options.statistics_every);
                let mut seq = 0u64;
                let why = loop {
                    tokio::select! {
                        _ = ticks.tick() => {}
                        why = transport::closed(&mut reader) => break why,
                    }
                    seq += 1;
                    out.clear();
                    encode_line(seq, ctx.clock.now(), &ctx.view().services(), &mut out);
                    ctx.health.pending(out.len());
                    if let Err(e) = transport::write_all(&mut writer, &out, ctx.io_timeout()).await {
                        break e;
                    }
                    ctx.succeeded(1, out.len() as u64, true);
                    backoff.reset();
                };
                ctx.health.disconnected();
                why
            }
        };
        ctx.failed(&error, false);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
