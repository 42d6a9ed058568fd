//! Turns on the link the test lists use. An anchor cycle's HTTP checks are the probe's speed samples (the
//! collector's throttling test compares each with the probe's own earlier median, CLASSIFICATION.md §5.4 C2), so
//! the probe's own list fetches must not share the link with them: a list pass of 64 KiB pages beside an anchor
//! fetch halves its speed, and a list loop drifting across the anchor loop's phase reads as a slowdown lasting
//! several buckets. List URLs take shared turns; an anchor cycle takes the link alone — no list URL starts once it
//! asks, and it waits for those in flight, but only for a grace: a list URL hanging on a blocked site carries no
//! bytes, and an anchor cycle must keep its cadence. After the grace the cycle goes ahead beside what is still in
//! flight (on a throttled link that errs towards slower, never towards a slowdown that is not there).

use std::time::Duration;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The longest an anchor cycle waits for list URLs in flight: a quarter of the cycle, so its measurements stay
/// in their cycle's part of the bucket, and never more than this.
const MOST_GRACE: Duration = Duration::from_secs(5);

/// Who has the list uplink: list URLs together, or one anchor cycle alone.
#[derive(Debug, Default)]
pub(crate) struct LinkTurns {
    // Tokio's lock is fair: once a writer waits, new readers queue behind it.
    lock: RwLock<()>,
}

/// An anchor cycle's turn, held while its checks run.
pub(crate) struct AnchorTurn<'a> {
    /// The link held alone; none when list URLs still in flight after the grace share it.
    alone: Option<RwLockWriteGuard<'a, ()>>,
}

impl AnchorTurn<'_> {
    /// Whether the cycle has the link to itself.
    pub(crate) fn is_alone(&self) -> bool {
        self.alone.is_some()
    }
}

impl LinkTurns {
    /// A list URL's turn: waits while an anchor cycle has, or has asked for, the link.
    pub(crate) async fn list_url(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().await
    }

    /// An anchor cycle's turn on a cycle of `cycle`: stops new list URLs and waits for those in flight, for at
    /// most a quarter of the cycle (and [`MOST_GRACE`]).
    pub(crate) async fn anchors(&self, cycle: Duration) -> AnchorTurn<'_> {
        let grace = (cycle / 4).min(MOST_GRACE);
        match tokio::time::timeout(grace, self.lock.write()).await {
            Ok(guard) => AnchorTurn { alone: Some(guard) },
            Err(_) => {
                tracing::debug!(
                    grace_ms = grace.as_millis() as u64,
                    "list URLs still in flight after the grace: the anchor cycle shares the link"
                );
                AnchorTurn { alone: None }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_anchor_cycle_stops_new_list_urls_and_waits_for_those_in_flight_up_to_its_grace() {
        let turns = std::sync::Arc::new(LinkTurns::default());
        // A list URL in flight.
        let url = turns.list_url().await;
        let waiting = {
            let turns = std::sync::Arc::clone(&turns);
            tokio::spawn(async move { turns.anchors(Duration::from_secs(8)).await.is_alone() })
        };
        tokio::task::yield_now().await;
        // Once the cycle has asked, no new URL starts.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), turns.list_url())
                .await
                .is_err(),
            "a list URL started while an anchor cycle waited for the link"
        );
        drop(url);
        assert!(
            waiting.await.expect("join"),
            "the cycle got the link when the URL finished"
        );

        // A URL that hangs past the grace: the cycle goes ahead, sharing.
        let _hanging = turns.list_url().await;
        let started = tokio::time::Instant::now();
        assert!(!turns.anchors(Duration::from_secs(8)).await.is_alone());
        assert_eq!(started.elapsed(), Duration::from_secs(2), "a quarter of the cycle");
        // And list URLs are not held up after it gave up waiting.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), turns.list_url())
                .await
                .is_ok()
        );
    }
}
