//! The bounded ingest queue and its single writer.
//!
//! Admission is a semaphore taken before the body is even read: at most `max_inflight` batches are being
//! decoded, queued or written at once, so memory stays bounded and a full collector answers 503 at once rather
//! than buffering. The writer drains whatever is queued into one store call (group commit: many probes' batches
//! share one fsync) and answers each batch only after that commit returned. While one group commits, the next is
//! gathered and prepared (`Store::prepare_write`: ClickHouse looks up which of its ids are stored already).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::{IngestBatch, PreparedWrite, Store, StoreError, WriteOutcome};

/// Admission to the queue: hold it from before reading the body until the batch is answered.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// Every ingest slot is taken; answer 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("ingest queue is full")]
pub struct QueueFull;

/// A batch that was admitted but not stored.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The store refused or failed the commit; nothing of the batch is stored.
    #[error("store failed: {message}")]
    Store {
        /// The store's error text.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// The writer has stopped (shutdown in progress).
    #[error("the collector is shutting down")]
    ShuttingDown,
}

struct Job {
    batch: IngestBatch,
    reply: oneshot::Sender<Result<WriteOutcome, SubmitError>>,
    _admission: Admission,
}

/// Handle to the ingest queue; cheap to clone.
#[derive(Clone)]
pub struct IngestQueue {
    slots: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// Starts the writer task. The task ends once every handle is dropped and the queue is drained.
    pub fn start(
        store: Arc<dyn Store>,
        max_inflight: usize,
        max_group_measurements: usize,
        metrics: Arc<crate::metrics::CollectorMetrics>,
    ) -> (Self, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel(max_inflight.max(1));
        let writer = tokio::spawn(run_writer(store, receiver, max_group_measurements.max(1), metrics));
        let queue = IngestQueue {
            slots: Arc::new(Semaphore::new(max_inflight.max(1))),
            jobs,
        };
        (queue, writer)
    }

    /// Takes a slot, or says the queue is full.
    pub fn admit(&self) -> Result<Admission, QueueFull> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map(|permit| Admission { _permit: permit })
            .map_err(|_| QueueFull)
    }

    /// Hands a validated batch to the writer and waits until it is durably stored.
    pub async fn submit(&self, admission: Admission, batch: IngestBatch) -> Result<WriteOutcome, SubmitError> {
        let (reply, answer) = oneshot::channel();
        // Capacity equals the number of admissions, so this never waits for long.
        self.jobs
            .send(Job {
                batch,
                reply,
                _admission: admission,
            })
            .await
            .map_err(|_| SubmitError::ShuttingDown)?;
        answer.await.map_err(|_| SubmitError::ShuttingDown)?
    }
}

/// A group of batches written in one store call, and where each batch's answer goes.
struct Group {
    batches: Vec<IngestBatch>,
    replies: Vec<(oneshot::Sender<Result<WriteOutcome, SubmitError>>, Admission)>,
    measurements: usize,
}

impl Group {
    /// `first` and whatever else is queued, up to `max_group` measurements.
    fn gather(first: Job, receiver: &mut mpsc::Receiver<Job>, max_group: usize) -> Self {
        let mut group = Group {
            batches: Vec::new(),
            replies: Vec::new(),
            measurements: 0,
        };
        group.push(first);
        while group.measurements < max_group {
            match receiver.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        group
    }

    fn push(&mut self, job: Job) {
        self.measurements += job.batch.measurements().len();
        self.batches.push(job.batch);
        self.replies.push((job.reply, job._admission));
    }
}

async fn run_writer(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<Job>,
    max_group: usize,
    metrics: Arc<crate::metrics::CollectorMetrics>,
) {
    // The next group, gathered and prepared (ClickHouse: its id lookup) while the one before it commits. A
    // store with nothing to prepare gets each group gathered when the one before has committed: the largest.
    let pipelined = store.prepares_writes();
    let mut next: Option<(Group, Result<PreparedWrite, StoreError>)> = None;
    loop {
        let (group, prepared) = match next.take() {
            Some(ready) => ready,
            None => {
                let Some(first) = receiver.recv().await else { break };
                let group = Group::gather(first, &mut receiver, max_group);
                let prepared = store.prepare_write(&group.batches).await;
                (group, prepared)
            }
        };
        let commit = commit_group(store.as_ref(), group, prepared, &metrics);
        if !pipelined {
            commit.await;
            continue;
        }
        tokio::pin!(commit);
        tokio::select! {
            biased;
            _ = &mut commit => {}
            job = receiver.recv() => {
                let Some(first) = job else {
                    commit.await;
                    break;
                };
                let group = Group::gather(first, &mut receiver, max_group);
                let (committed, prepared) = tokio::join!(&mut commit, store.prepare_write(&group.batches));
                // After a failed write its rows may or may not be stored: look again.
                let prepared = if committed { prepared } else { store.prepare_write(&group.batches).await };
                next = Some((group, prepared));
            }
        }
    }
}

/// Commits one prepared group and answers each of its batches; says whether the commit succeeded.
async fn commit_group(
    store: &dyn Store,
    group: Group,
    prepared: Result<PreparedWrite, StoreError>,
    metrics: &crate::metrics::CollectorMetrics,
) -> bool {
    let Group {
        batches,
        replies,
        measurements,
    } = group;
    let count = batches.len();
    let writing = std::time::Instant::now();
    let written = match prepared {
        Ok(prepared) => store.write_prepared(batches, prepared).await,
        Err(err) => Err(err),
    };
    metrics.store_write_seconds.observe(writing.elapsed().as_secs_f64());
    if written.is_err() {
        metrics.store_write_errors.inc();
    }
    match written {
        Ok(outcomes) if outcomes.len() == count => {
            tracing::debug!(batches = count, measurements, "group committed");
            for ((reply, _admission), outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
            true
        }
        Ok(outcomes) => {
            tracing::error!(
                expected = count,
                got = outcomes.len(),
                "store returned a wrong number of outcomes"
            );
            let err = SubmitError::Store {
                message: "store returned a wrong number of outcomes".to_owned(),
                retryable: false,
            };
            for (reply, _admission) in replies {
                let _ = reply.send(Err(err.clone()));
            }
            false
        }
        Err(err) => {
            tracing::error!(error = %err, batches = count, "group commit failed");
            let err = SubmitError::Store {
                message: err.to_string(),
                retryable: err.is_retryable(),
            };
            for (reply, _admission) in replies {
                let _ = reply.send(Err(err.clone()));
            }
            false
        }
    }
}
