//! The connection test: the update the feed sends for a tenant with no agents and no
//! skills, posted to the account URL with the token.

use std::collections::HashMap;

use async_trait::async_trait;
use patchbay_catalog::keys::loxysoft;
use patchbay_connectors::{Connector, Context, Failure, TestRun};

use super::format::encode_update;
use crate::config::{Auth, FeedKind};
use crate::probe;
use crate::state::Snapshot;

pub(crate) struct Loxysoft;

/// The feed's update of an empty state.
fn empty_update() -> Vec<u8> {
    let mut body = Vec::new();
    encode_update(&Snapshot::default(), &HashMap::new(), &mut body);
    body
}

#[async_trait]
impl Connector for Loxysoft {
    fn handles(&self) -> &'static [(&'static str, &'static str)] {
        FeedKind::Loxysoft.handles()
    }

    async fn test(&self, cx: &Context<'_>, run: &mut TestRun) -> Result<String, Failure> {
        let url = cx.account.need_text(loxysoft::URL)?;
        let auth = Auth::Bearer(cx.account.need_secret(loxysoft::TOKEN)?.into());
        probe::post(cx, run, url, empty_update(), &auth, "Loxysoft URL").await?;
        Ok("The Loxysoft endpoint accepted an empty update.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_posts_no_agents_and_no_skills() {
        assert_eq!(empty_update(), br#"{"agents":[],"skills":[]}"#);
    }
}
