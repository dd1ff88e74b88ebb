//! The feed: the tenant's service statistics over a kept-open TCP connection to
//! `host_name:port`, one line every `statistics_every` (5 s by default) and right after each
//! connect.

use tokio::time::Instant;

use super::format::encode_line;
use crate::config::StatsConfig;
use crate::context::{FeedContext, Ticker};
use crate::transport;

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
