//! The connection test: the receiver accepts a connection (the stream has no request to
//! probe with).

use async_trait::async_trait;
use patchbay_connectors::{Connector, Context, Failure, TestRun};

use crate::config::FeedKind;
use crate::probe;

pub(crate) struct StatisticsReceiver;

#[async_trait]
impl Connector for StatisticsReceiver {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        FeedKind::StatisticsReceiver.handles()
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        probe::connect(cx, run).await
    }
}
