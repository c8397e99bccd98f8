//! One session's input queue: unbounded here (the reader bounds it in
//! bytes, see `session`), one sender, one receiver.
//!
//! Smaller than a tokio channel, whose first block of 32 slots and padded
//! halves cost an idle session about 1.5 KiB: this is a `VecDeque` behind a
//! lock, empty (no allocation) until the first event, and a `Notify`. The
//! receiver is woken only when the queue turns non-empty.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Something was queued into an empty queue, or the sender is gone.
    ready: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    /// The receiver closed or dropped: sends fail.
    closed: bool,
    /// The sender dropped: the receiver ends once the queue is empty.
    sender_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A capacity kept for reuse when the queue empties; beyond it, a burst's
/// memory is given back.
const KEEP: usize = 8;

/// Sends to the session.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The session's end.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
            sender_gone: false,
        }),
        ready: Notify::new(),
    });
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back if the receiver is closed or gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut state = self.0.lock();
        if state.closed {
            return Err(item);
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(item);
        drop(state);
        if was_empty {
            self.0.ready.notify_one();
        }
        Ok(())
    }

    /// Whether the receiver is closed or gone (the session has ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.0.lock().closed
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.ready.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and all is taken.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.0.lock().sender_gone {
                return None;
            }
            // A permit stored by a send after the check makes this return
            // at once: no wake-up is lost.
            self.0.ready.notified().await;
        }
    }

    /// The next item if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        let mut state = self.0.lock();
        let item = state.items.pop_front();
        if state.items.is_empty() && state.items.capacity() > KEEP {
            state.items = VecDeque::new();
        }
        item
    }

    /// Refuses further sends; what is queued can still be taken.
    pub(crate) fn close(&mut self) {
        self.0.lock().closed = true;
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_arrive_in_order_and_the_end_is_seen() {
        let (tx, mut rx) = queue();
        for i in 0..100 {
            assert!(tx.send(i).is_ok());
        }
        for i in 0..100 {
            assert_eq!(rx.recv().await, Some(i));
        }
        let waiter = tokio::spawn(async move {
            let got = rx.recv().await;
            (got, rx.recv().await)
        });
        tokio::task::yield_now().await;
        assert!(tx.send(7).is_ok());
        drop(tx);
        assert_eq!(waiter.await.ok(), Some((Some(7), None)));
    }

    #[test]
    fn a_closed_or_dropped_receiver_refuses_sends() {
        let (tx, mut rx) = queue();
        assert!(!tx.is_closed());
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.send(1), Err(1));
        let (tx, rx) = queue::<u8>();
        drop(rx);
        assert!(tx.is_closed());
    }
}
