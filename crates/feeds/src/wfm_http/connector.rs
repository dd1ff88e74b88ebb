//! The connection test: "sends POST with an empty agent and services list" (the spec), the
//! update the feed sends for a tenant with no agents and no services, with the token as a
//! Bearer token when one is set.

use async_trait::async_trait;
use patchbay_catalog::keys::wfm::http_post;
use patchbay_connectors::{Connector, Context, Failure, TestRun};

use super::format::encode_update;
use crate::config::{Auth, FeedKind, ReasonCodes};
use crate::probe;
use crate::state::Snapshot;

pub(crate) struct WfmHttpPost;

/// The feed's update of an empty state.
fn empty_update() -> Vec<u8> {
    let mut body = Vec::new();
    encode_update(&Snapshot::default(), &ReasonCodes::new(), &mut body);
    body
}

#[async_trait]
impl Connector for WfmHttpPost {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        FeedKind::WfmHttp.handles()
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(http_post::URL)?;
        let auth = cx.account.secret(http_post::TOKEN).map_or(Auth::None, |token| Auth::Bearer(token.into()));
        probe::post(cx, run, url, empty_update(), &auth, "WFM URL").await?;
        Ok("The WFM endpoint accepted an empty update.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_posts_an_empty_agent_and_services_list() {
        assert_eq!(empty_update(), br#"{"agents":[],"services":[]}"#);
    }
}
