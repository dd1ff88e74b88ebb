//! The feed: at every interval (default 10 s) the tenant's whole state posted to the
//! account URL with its token as a Bearer credential.

use super::format::LoxysoftEncoder;
use crate::config::LoxysoftConfig;
use crate::context::FeedContext;
use crate::transport::post_every;

pub(crate) async fn run(ctx: FeedContext, config: LoxysoftConfig) {
    let LoxysoftConfig { interval, target, skills } = config;
    let mut encoder = LoxysoftEncoder::new(skills);
    post_every(ctx, interval, target, move |snapshot, out| encoder.encode(snapshot, out)).await;
}
