//! The feed: agent and call state messages as they happen, and a keep-alive every
//! `keep_alive_update_interval`, posted to the account URL with Basic authentication.
//! Changes come from the tenant's journal, so a call that starts and ends between two posts
//! is still reported; a feed that falls behind the journal, or whose post failed, sends a
//! full resynchronisation next.

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use super::format::{NiceBatch, NiceEncoder, NiceMessage};
use crate::config::NiceConfig;
use crate::context::{FeedContext, Ticker};
use crate::state::Journaled;
use crate::transport;
use crate::wire::Rfc3339;

pub(crate) async fn run(ctx: FeedContext, config: NiceConfig) {
    let encoder = NiceEncoder { agent_id_prefix: config.agent_id_prefix, extension_prefix: config.extension_prefix };
    let capacity = ctx.state.limits().journal_capacity;
    let mut journal = ctx.view().subscribe(capacity);
    let mut keep_alive = Ticker::starting(Instant::now() + config.keep_alive, config.keep_alive);
    let mut backoff = ctx.backoff();
    let mut seq = 0u64;
    let mut cursor = 0u64;
    let mut resync = true;
    loop {
        let mut messages = Vec::new();
        let sending_resync = resync;
        if resync {
            journal = ctx.view().subscribe(capacity);
            let snapshot = ctx.view().snapshot();
            cursor = snapshot.version;
            messages = encoder.resync(&snapshot.agents);
        } else {
            tokio::select! {
                _ = keep_alive.tick() => messages.push(NiceMessage::KeepAlive { at: Rfc3339(ctx.clock.now()) }),
                entry = journal.recv() => match entry {
                    Ok(entry) => {
                        take(&encoder, &entry, &mut cursor, &mut messages);
                        while messages.len() < ctx.options.nice_batch_max {
                            match journal.try_recv() {
                                Ok(entry) => take(&encoder, &entry, &mut cursor, &mut messages),
                                Err(TryRecvError::Lagged(_)) => {
                                    resync = true;
                                    break;
                                }
                                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                            }
                        }
                    }
                    Err(RecvError::Lagged(_) | RecvError::Closed) => resync = true,
                },
            }
            if resync || messages.is_empty() {
                continue;
            }
        }
        seq += 1;
        let batch = NiceBatch { seq, sent_at: Rfc3339(ctx.clock.now()), resync: sending_resync, messages };
        let body = batch.to_bytes();
        let bytes = body.len() as u64;
        ctx.health.pending(body.len());
        match transport::post(&ctx, &config.target, body).await {
            Ok(()) => {
                ctx.succeeded(1, bytes, true);
                resync = false;
                backoff.reset();
            }
            Err(e) => {
                ctx.failed(&e, false);
                resync = true;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Adds the message of a journal entry the feed has not reported yet.
fn take(encoder: &NiceEncoder, entry: &Journaled, cursor: &mut u64, messages: &mut Vec<NiceMessage>) {
    if entry.version <= *cursor {
        return;
    }
    *cursor = entry.version;
    messages.extend(encoder.change(&entry.change));
}
