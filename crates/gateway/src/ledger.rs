//! The ledger: daily quota reservations and call outcomes, written in batches. Callers
//! queue their work on one task, which takes everything waiting and writes it in one
//! transaction: an idle gateway writes each call at once, a busy one commits many calls
//! together (on SQLite one log sync per batch instead of two per call). A reservation
//! waits for its commit; an outcome (usage and live health) does not.

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use patchbay_store::{CallOutcome, GatewayStore, Reserved, StoreError, UnitRequest};
use tokio::sync::{mpsc, oneshot};

/// Jobs taken into one batch at most.
const BATCH: usize = 512;
/// Jobs waiting at most; past it callers wait for room.
const QUEUE: usize = 8192;

enum Job {
    Reserve(UnitRequest, oneshot::Sender<Result<Reserved, String>>),
    Outcome(CallOutcome),
}

/// The handle callers use; the writing task ends when the last handle is dropped.
#[derive(Clone)]
pub struct Ledger {
    jobs: mpsc::Sender<Job>,
}

impl Ledger {
    /// Starts the writing task on the current runtime.
    pub fn start(store: Arc<dyn GatewayStore>) -> Ledger {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, queue));
        Ledger { jobs }
    }

    /// Reserves one unit; the answer comes once it is committed.
    pub async fn reserve(&self, request: UnitRequest) -> Result<Reserved, StoreError> {
        let (answer, answered) = oneshot::channel();
        let gone = || StoreError::Corrupt("the gateway ledger stopped".into());
        self.jobs.send(Job::Reserve(request, answer)).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?.map_err(StoreError::Corrupt)
    }

    /// Queues a call's outcome for the next batch.
    pub(crate) async fn record(&self, outcome: CallOutcome) {
        if self.jobs.send(Job::Outcome(outcome)).await.is_err() {
            tracing::warn!("the gateway ledger stopped; a call outcome was not recorded");
        }
    }
}

async fn write_batches(store: Arc<dyn GatewayStore>, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let mut requests = Vec::new();
        let mut answers = Vec::new();
        let mut outcomes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Reserve(request, answer) => {
                    requests.push(request);
                    answers.push(answer);
                }
                Job::Outcome(outcome) => outcomes.push(outcome),
            }
        }
        match store.write_ledger(&outcomes, &requests).await {
            Ok(reserved) => {
                for (answer, reserved) in answers.into_iter().zip(reserved) {
                    let _ = answer.send(Ok(reserved));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, outcomes = outcomes.len(), "gateway ledger write failed: reservations refused, outcomes lost");
                for answer in answers {
                    let _ = answer.send(Err(format!("quota reservation failed: {e}")));
                }
            }
        }
    }
}

/// The tenant's calendar day at `now`.
pub(crate) fn day_of(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// When the day after `day` starts in `zone`: its first instant (midnight, or the first
/// time after midnight that exists when a clock change skips midnight).
pub(crate) fn next_day_starts(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    (0..24 * 60)
        .find_map(|minute| {
            let local = next.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(minute);
            zone.from_local_datetime(&local).earliest()
        })
        .map_or_else(|| next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_day_is_the_tenants_calendar_day() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(day_of(berlin, at("2026-03-01T22:59:59Z")).to_string(), "2026-03-01");
        assert_eq!(day_of(berlin, at("2026-03-01T23:00:00Z")).to_string(), "2026-03-02");
        assert_eq!(day_of(Tz::UTC, at("2026-03-01T23:00:00Z")).to_string(), "2026-03-01");
    }

    #[test]
    fn the_next_day_starts_at_the_tenants_midnight_across_clock_changes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        assert_eq!(next_day_starts(berlin, day), at("2026-03-28T23:00:00Z"));
        // Summer time started on 2026-03-29 at 02:00: the next midnight is 22:00 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(next_day_starts(berlin, day), at("2026-03-29T22:00:00Z"));
        // In Santiago the clocks went from 00:00 to 01:00 on 2026-09-06: that day starts at 01:00.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 5).unwrap();
        assert_eq!(next_day_starts(santiago, day), at("2026-09-06T04:00:00Z"));
    }
}
