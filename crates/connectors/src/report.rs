//! The result of a connection test: step by step, with a failure category a user can act on.

use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};
pub use patchbay_api::{Category, Outcome, StepStatus, TestReport, TestStep};

use crate::scrub::Scrubber;

/// Why a probe failed. The message must never carry a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub category: Category,
    pub message: String,
}

impl Failure {
    pub fn new(category: Category, message: impl Into<String>) -> Failure {
        Failure { category, message: message.into() }
    }

    /// The usual meaning of an HTTP status from a vendor API; `what` names the target
    /// ("bucket", "workspace", "page") for 404s.
    pub fn from_status(status: u16, what: &str) -> Failure {
        match status {
            401 => Failure::new(Category::InvalidCredentials, "the credentials were refused (HTTP 401)"),
            403 => Failure::new(Category::Permission, "the credentials lack permission (HTTP 403)"),
            404 => Failure::new(Category::NotFound, format!("the {what} was not found (HTTP 404)")),
            408 | 504 => Failure::new(Category::Timeout, format!("the service timed out (HTTP {status})")),
            429 => Failure::new(Category::RateLimited, "the service is rate limiting (HTTP 429); try again later"),
            500..=599 => Failure::new(Category::VendorError, format!("the service failed (HTTP {status})")),
            s => Failure::new(Category::UnexpectedResponse, format!("unexpected HTTP status {s}")),
        }
    }
}

/// Records the steps of one test as they run. Every detail and message it records is
/// scrubbed of the account's secrets (in every form `Scrubber` knows), so a vendor echoing a
/// token, or a URL path that carries one (Telegram's `/bot<token>/`), cannot leak it into a
/// report.
pub struct TestRun {
    started: Instant,
    tested_at: DateTime<Utc>,
    steps: Vec<TestStep>,
    scrubber: Scrubber,
}

impl Default for TestRun {
    fn default() -> Self {
        TestRun::new()
    }
}

impl TestRun {
    pub fn new() -> TestRun {
        TestRun::scrubbing(Scrubber::default())
    }

    /// A run that replaces the secrets `scrubber` knows with `[secret]` wherever it records text.
    pub fn scrubbing(scrubber: Scrubber) -> TestRun {
        TestRun { started: Instant::now(), tested_at: Utc::now(), steps: Vec::new(), scrubber }
    }

    /// `text` with every secret of the run replaced.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }

    /// Runs one step; its `Ok` value's detail comes from `detail`.
    pub async fn step<T>(
        &mut self,
        name: &str,
        work: impl Future<Output = Result<T, Failure>>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = work.await;
        let duration_ms = elapsed_ms(started);
        let (status, detail) = match &result {
            Ok(value) => (StepStatus::Ok, detail(value)),
            Err(f) => (StepStatus::Failed, f.message.clone()),
        };
        let detail = self.scrub(&detail);
        self.steps.push(TestStep { name: name.into(), status, detail, duration_ms });
        result
    }

    /// Records a check that needs no waiting (e.g. reading a response already received).
    pub fn check<T>(
        &mut self,
        name: &str,
        result: Result<T, Failure>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, Failure> {
        let (status, detail) = match &result {
            Ok(v) => (StepStatus::Ok, detail(v)),
            Err(f) => (StepStatus::Failed, f.message.clone()),
        };
        let detail = self.scrub(&detail);
        self.steps.push(TestStep { name: name.into(), status, detail, duration_ms: 0 });
        result
    }

    pub fn steps(&self) -> &[TestStep] {
        &self.steps
    }

    pub fn finish(self, result: Result<String, Failure>) -> TestReport {
        let (status, category, message) = match result {
            Ok(message) => (Outcome::Ok, None, self.scrub(&message)),
            Err(f) => (Outcome::Failed, Some(f.category), self.scrub(&f.message)),
        };
        TestReport {
            status,
            category,
            message,
            steps: self.steps,
            tested_at: self.tested_at,
            duration_ms: elapsed_ms(self.started),
        }
    }

    pub fn unsupported(reason: &str) -> TestReport {
        TestReport {
            status: Outcome::Unsupported,
            category: None,
            message: reason.to_owned(),
            steps: Vec::new(),
            tested_at: Utc::now(),
            duration_ms: 0,
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recorded_text_is_scrubbed_of_the_accounts_secrets() {
        let mut run = TestRun::scrubbing(Scrubber::new(vec!["123456:ABC-token".into()]));
        let _ = run
            .step("request", async { Ok::<_, Failure>(()) }, |_| {
                "GET https://api.example/bot123456:ABC-token/getMe".into()
            })
            .await;
        let _ = run.check(
            "read",
            Err::<(), _>(Failure::new(Category::UnexpectedResponse, "echo 123456:ABC-token")),
            |_| String::new(),
        );
        let report = run.finish(Err(Failure::new(Category::InvalidCredentials, "token 123456:ABC-token refused")));
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains("123456:ABC-token"), "{text}");
        assert!(text.contains("bot[secret]/getMe"), "{text}");
    }
}
