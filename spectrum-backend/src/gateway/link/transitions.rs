//! Every state a link goes through, for observers other than its owner:
//! a bounded history behind a watch channel, so that a quick drop and
//! return (Retrying, then Up a moment later) reaches an observer as two
//! transitions, not as the latest state only.

use std::collections::VecDeque;

use tokio::sync::watch;

use super::LinkState;

/// How many transitions an observer may fall behind before the oldest are
/// skipped. A link makes a few per reconnect, spaced by its backoff: only
/// an observer stuck for many reconnects falls this far behind.
const KEPT: usize = 32;

/// The transitions published so far: the latest [`KEPT`], and how many in
/// all (the number of the newest).
#[derive(Debug, Default)]
pub(super) struct History {
    count: u64,
    recent: VecDeque<LinkState>,
}

/// The writing end, kept by the link's task.
pub(super) type Publisher = watch::Sender<History>;

/// A publisher with no transition yet.
pub(super) fn publisher() -> Publisher {
    watch::Sender::new(History::default())
}

/// Records `state` as the newest transition.
pub(super) fn publish(publisher: &Publisher, state: LinkState) {
    publisher.send_modify(|h| {
        if h.recent.len() == KEPT {
            h.recent.pop_front();
        }
        h.recent.push_back(state);
        h.count += 1;
    });
}

/// The states of a [`Link`](super::Link), every transition in order, from
/// the state it is in when this is made ([`Link::states`](super::Link::states)).
///
/// Unlike [`Link::watch`](super::Link::watch), which shows the latest state
/// only, a drop followed at once by a reconnect is seen as
/// [`LinkState::Retrying`] and then [`LinkState::Up`]. Memory is bounded: an
/// observer that falls more than 32 transitions behind skips the oldest
/// (logged). [`Ctx::follow_link`](crate::Ctx::follow_link) reports them.
#[derive(Debug, Clone)]
pub struct LinkStates {
    rx: watch::Receiver<History>,
    /// The number of the last transition returned.
    seen: u64,
}

impl LinkStates {
    pub(super) fn new(rx: watch::Receiver<History>) -> LinkStates {
        // The current state comes first.
        let seen = rx.borrow().count.saturating_sub(1);
        LinkStates { rx, seen }
    }

    /// The next transition; `None` once the link's task has ended and every
    /// transition was returned.
    pub async fn next(&mut self) -> Option<LinkState> {
        loop {
            if let Some(state) = self.take() {
                return Some(state);
            }
            if self.rx.changed().await.is_err() {
                // The task ended: what it published last may be unread.
                return self.take();
            }
        }
    }

    /// The oldest transition not returned yet, if any.
    fn take(&mut self) -> Option<LinkState> {
        let history = self.rx.borrow_and_update();
        let unread = history.count - self.seen;
        if unread == 0 {
            return None;
        }
        let kept = history.recent.len() as u64;
        if unread > kept {
            tracing::debug!(
                skipped = unread - kept,
                "link transitions skipped: the observer fell behind"
            );
            self.seen = history.count - kept;
        }
        self.seen += 1;
        let index = usize::try_from(kept - (history.count - self.seen) - 1).ok()?;
        history.recent.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrying(attempt: u32) -> LinkState {
        LinkState::Retrying {
            attempt,
            delay: std::time::Duration::ZERO,
            reason: "reset".into(),
        }
    }

    #[tokio::test]
    async fn every_transition_in_order_from_the_current_one() {
        let publisher = publisher();
        publish(&publisher, LinkState::Connecting { attempt: 1 });
        let mut states = LinkStates::new(publisher.subscribe());
        publish(&publisher, LinkState::Up);
        publish(&publisher, retrying(1));
        publish(&publisher, LinkState::Up);
        drop(publisher);
        let mut seen = Vec::new();
        while let Some(state) = states.next().await {
            seen.push(state);
        }
        assert_eq!(
            seen,
            [
                LinkState::Connecting { attempt: 1 },
                LinkState::Up,
                retrying(1),
                LinkState::Up
            ]
        );
    }

    #[tokio::test]
    async fn an_observer_far_behind_skips_the_oldest_only() {
        let publisher = publisher();
        let mut states = LinkStates::new(publisher.subscribe());
        let total = KEPT as u32 + 5;
        for attempt in 1..=total {
            publish(&publisher, retrying(attempt));
        }
        assert_eq!(states.next().await, Some(retrying(6)));
        publish(&publisher, LinkState::Up);
        drop(publisher);
        let mut rest = Vec::new();
        while let Some(state) = states.next().await {
            rest.push(state);
        }
        assert_eq!(rest.len(), KEPT);
        assert_eq!(rest.last(), Some(&LinkState::Up));
    }
}
