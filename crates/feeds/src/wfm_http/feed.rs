//! The feed: at every interval the tenant's whole state posted to the account URL, with
//! `Authorization: Bearer <token>` when the account has a token. Errors are counted and
//! logged, and the next request goes out after the interval, as the spec says.

use super::format::WfmEncoder;
use crate::config::WfmHttpConfig;
use crate::context::FeedContext;
use crate::transport::post_every;

pub(crate) async fn run(ctx: FeedContext, config: WfmHttpConfig) {
    let WfmHttpConfig { interval, target, reason_codes } = config;
    let mut encoder = WfmEncoder::new(reason_codes);
    post_every(ctx, interval, target, move |snapshot, out| encoder.encode(snapshot, out)).await;
}
