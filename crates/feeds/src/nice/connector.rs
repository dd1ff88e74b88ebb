//! The connection test: a batch holding one keep-alive, the body the feed sends when nothing
//! happened, posted to the NICE URL with the account's Basic authentication.

use async_trait::async_trait;
use chrono::Utc;
use patchbay_catalog::keys::nice;
use patchbay_connectors::{Connector, Context, Failure, TestRun};

use super::format::NiceBatch;
use crate::config::{Auth, FeedKind};
use crate::probe;

pub(crate) struct Nice;

/// The `seq` of a test's batch: feeds number theirs from 1, so 0 belongs to no feed.
const TEST_SEQ: u64 = 0;

#[async_trait]
impl Connector for Nice {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        FeedKind::Nice.handles()
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(nice::URL)?;
        let username = cx.account.need_text(nice::USERNAME)?.to_owned();
        let password = cx.account.need_secret(nice::PASSWORD)?.into();
        let body = NiceBatch::keep_alive(TEST_SEQ, Utc::now()).to_bytes();
        probe::post(cx, run, url, body, &Auth::Basic { username, password }, "NICE URL").await?;
        Ok("The NICE endpoint accepted an authenticated keep-alive.".into())
    }
}
