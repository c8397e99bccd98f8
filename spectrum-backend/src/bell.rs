//! Wakes the connection thread out of its wait on the socket, with a
//! system call only when it is really asleep.
//!
//! Most rings come from handlers polled on the connection thread itself
//! (a reply appended to the outbox), which is awake and flushes before it
//! waits again: those cost one atomic operation. A ring from another
//! thread while the connection thread waits costs one `eventfd` write.

use std::sync::atomic::{AtomicU8, Ordering};

/// Something happened since the connection thread last looked.
const RUNG: u8 = 1;
/// The connection thread waits (or is about to) in `epoll_wait`.
const ASLEEP: u8 = 2;

pub(crate) struct Bell {
    state: AtomicU8,
    waker: mio::Waker,
}

impl Bell {
    pub(crate) fn new(waker: mio::Waker) -> Self {
        Bell {
            state: AtomicU8::new(0),
            waker,
        }
    }

    /// Tells the connection thread to look again at what it serves.
    pub(crate) fn ring(&self) {
        let before = self.state.fetch_or(RUNG, Ordering::SeqCst);
        if before == ASLEEP
            && let Err(e) = self.waker.wake()
        {
            tracing::error!("cannot wake the connection thread: {e}");
        }
    }

    /// Called before waiting: false if a ring came since [`Bell::woke`], so
    /// the caller must look again instead of waiting.
    pub(crate) fn may_sleep(&self) -> bool {
        self.state
            .compare_exchange(0, ASLEEP, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Called after waiting (or instead of it): rings from now on are new.
    pub(crate) fn woke(&self) {
        self.state.store(0, Ordering::SeqCst);
    }
}
