//! Keeping deliveries: handlers queue verified deliveries (and refusals, for the accounts'
//! health) on one task, which takes everything waiting and writes it in one transaction. An
//! idle edge writes each delivery at once; a busy one commits many together (on SQLite one
//! log sync per batch). A delivery's handler waits for its commit before the vendor gets
//! the 200; a refusal's answer waits for its count too, so the account's health says what
//! the vendor was told.

use std::sync::Arc;

use patchbay_store::{Delivery, EdgeStore, Rejection, StoreError};
use tokio::sync::{mpsc, oneshot, Notify};

/// Jobs taken into one batch at most.
const BATCH: usize = 256;
/// Jobs waiting at most; past it handlers wait for room.
const QUEUE: usize = 4096;

enum Job {
    Keep(Delivery, oneshot::Sender<Result<(), String>>),
    Reject(Rejection, oneshot::Sender<()>),
}

pub(crate) struct Intake {
    jobs: mpsc::Sender<Job>,
    kept: Arc<Notify>,
}

impl Intake {
    pub(crate) fn start(store: Arc<dyn EdgeStore>) -> Intake {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let kept = Arc::new(Notify::new());
        tokio::spawn(write_batches(store, queue, kept.clone()));
        Intake { jobs, kept }
    }

    /// Woken after each commit that kept deliveries.
    pub(crate) fn kept(&self) -> Arc<Notify> {
        self.kept.clone()
    }

    /// Keeps the delivery; returns once it is committed.
    pub(crate) async fn keep(&self, delivery: Delivery) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        let gone = || StoreError::Corrupt("the edge intake stopped".into());
        self.jobs.send(Job::Keep(delivery, answer)).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?.map_err(StoreError::Corrupt)
    }

    /// Counts a refusal with the next batch; returns once it is written (or failed to be).
    pub(crate) async fn reject(&self, rejection: Rejection) {
        let (counted, written) = oneshot::channel();
        if self.jobs.send(Job::Reject(rejection, counted)).await.is_err() {
            tracing::warn!("the edge intake stopped; a refused delivery was not counted");
            return;
        }
        let _ = written.await;
    }
}

async fn write_batches(store: Arc<dyn EdgeStore>, mut queue: mpsc::Receiver<Job>, kept: Arc<Notify>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let mut deliveries = Vec::new();
        let mut answers = Vec::new();
        let mut rejections = Vec::new();
        let mut counted = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Keep(delivery, answer) => {
                    deliveries.push(delivery);
                    answers.push(answer);
                }
                Job::Reject(rejection, written) => {
                    rejections.push(rejection);
                    counted.push(written);
                }
            }
        }
        match store.write_deliveries(&deliveries, &rejections).await {
            Ok(_) => {
                for answer in answers {
                    let _ = answer.send(Ok(()));
                }
                if !deliveries.is_empty() {
                    kept.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, deliveries = deliveries.len(), "the edge could not keep deliveries; the vendors will send them again");
                for answer in answers {
                    let _ = answer.send(Err(format!("cannot keep the delivery: {e}")));
                }
            }
        }
        for written in counted {
            let _ = written.send(());
        }
    }
}
