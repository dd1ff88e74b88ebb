//! The feed: a kept-open TCP connection to the RTA server carrying a full snapshot on every
//! connect and every `snapshot_every`, the changed agents at each interval, a heartbeat when
//! nothing changed, and reconnects with backoff. Writes go out in chunks, so at most one
//! chunk waits in memory.

use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::format::{AspectEncoder, HealthFlag, RecordType, CHUNK_RECORDS};
use crate::config::AspectConfig;
use crate::context::{Backoff, FeedContext, Ticker};
use crate::transport;

pub(crate) async fn run(ctx: FeedContext, config: AspectConfig) {
    let encoder = AspectEncoder::new(config.sizes, config.reason_codes.clone());
    let mut backoff = ctx.backoff();
    let mut recovering = false;
    loop {
        let error = match transport::connect(&ctx, &config.host, config.port).await {
            Err(e) => e,
            Ok(stream) => {
                ctx.health.connected();
                let flag = if recovering { HealthFlag::Recovered } else { HealthFlag::Normal };
                let why = Session { ctx: &ctx, config: &config, encoder: &encoder, out: Vec::new() }
                    .run(stream, flag, &mut backoff)
                    .await;
                ctx.health.disconnected();
                why
            }
        };
        recovering = true;
        ctx.failed(&error, false);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

struct Session<'a> {
    ctx: &'a FeedContext,
    config: &'a AspectConfig,
    encoder: &'a AspectEncoder,
    out: Vec<u8>,
}

impl Session<'_> {
    /// Runs one connection until it fails; returns why.
    async fn run(mut self, stream: TcpStream, flag: HealthFlag, backoff: &mut Backoff) -> String {
        let (mut reader, mut writer) = stream.into_split();
        let mut cursor = match self.snapshot(&mut writer, flag).await {
            Ok(version) => version,
            Err(e) => return e,
        };
        backoff.reset();
        let mut last_snapshot = Instant::now();
        let period = self.config.interval;
        let mut ticks = Ticker::starting(Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                why = transport::closed(&mut reader) => return why,
            }
            let sent = if last_snapshot.elapsed() >= self.ctx.options.snapshot_every {
                last_snapshot = Instant::now();
                self.snapshot(&mut writer, HealthFlag::Normal).await
            } else {
                self.changes(&mut writer, cursor).await
            };
            match sent {
                Ok(version) => cursor = version,
                Err(e) => return e,
            }
        }
    }

    /// `B`, an `F` per logged-in agent, `E`; returns the version it reflects.
    async fn snapshot(&mut self, writer: &mut OwnedWriteHalf, flag: HealthFlag) -> Result<u64, String> {
        let snapshot = self.ctx.view().snapshot();
        let now = self.ctx.clock.now();
        self.out.clear();
        self.encoder.marker(&mut self.out, RecordType::SnapshotBegin, flag, now);
        let mut records = 1;
        for chunk in snapshot.agents.chunks(CHUNK_RECORDS) {
            for agent in chunk {
                self.encoder.agent(&mut self.out, RecordType::Full, flag, agent);
            }
            records += chunk.len();
            self.flush(writer, records as u64).await?;
            records = 0;
        }
        self.encoder.marker(&mut self.out, RecordType::SnapshotEnd, flag, now);
        self.flush(writer, records as u64 + 1).await?;
        Ok(snapshot.version)
    }

    /// A record per agent changed after `cursor`, or a heartbeat.
    async fn changes(&mut self, writer: &mut OwnedWriteHalf, cursor: u64) -> Result<u64, String> {
        let changes = self.ctx.view().changes_since(cursor);
        if changes.resync {
            return self.snapshot(writer, HealthFlag::Normal).await;
        }
        self.out.clear();
        if changes.agents.is_empty() {
            self.encoder.marker(&mut self.out, RecordType::Heartbeat, HealthFlag::Normal, self.ctx.clock.now());
            self.flush(writer, 1).await?;
            return Ok(changes.version);
        }
        for chunk in changes.agents.chunks(CHUNK_RECORDS) {
            for agent in chunk {
                let kind = match agent.state {
                    None => RecordType::Logout,
                    Some(_) if agent.login_version > cursor => RecordType::Login,
                    Some(_) => RecordType::State,
                };
                self.encoder.agent(&mut self.out, kind, HealthFlag::Normal, agent);
            }
            self.flush(writer, chunk.len() as u64).await?;
        }
        Ok(changes.version)
    }

    async fn flush(&mut self, writer: &mut OwnedWriteHalf, records: u64) -> Result<(), String> {
        self.ctx.health.pending(self.out.len());
        transport::write_all(writer, &self.out, self.ctx.io_timeout()).await?;
        self.ctx.succeeded(records, self.out.len() as u64, true);
        self.out.clear();
        Ok(())
    }
}
