//! Polling a session's future on the connection thread, and moving it to
//! the pool when it does not finish there.
//!
//! Most handlers finish in one poll (they encode a reply into the outbox
//! and return): polled where the frame was read, they cost no thread hop
//! and no wake-up. A future that returns `Pending` is spawned on the pool,
//! which polls it again at once; the first poll used a no-op waker, which
//! is sound because that second poll registers the pool task's own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::task::AbortHandle;
use tracing::Instrument as _;

use crate::ctx::Ctx;

thread_local! {
    /// This thread is polling a future inline (not as a pool task).
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A session's future, with what the connection tells its session.
pub(crate) struct Job {
    pub(crate) future: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The session's context, whose span is entered while the future is
    /// polled.
    ///
    /// The context rather than a clone of its span: cloning and dropping a
    /// span costs the subscriber two lookups per event (about 430
    /// instructions at the `info` level, when session spans are on), a
    /// context one reference count.
    pub(crate) ctx: Ctx,
    pub(crate) runs: Arc<dyn Runs>,
    /// Run it on the pool straight away: its handler has held the
    /// connection thread before.
    pub(crate) pool_only: bool,
}

/// What the connection reports to the session a job belongs to.
pub(crate) trait Runs: Send + Sync {
    /// The job continues as a pool task.
    fn spawned(&self, task: AbortHandle);
    /// Its handler held the connection thread past the watchdog's limit.
    fn held_the_thread(&self);
}

impl Job {
    /// Polls the job once on this thread; true if it finished.
    pub(crate) fn poll_inline(&mut self) -> bool {
        let _span = self.ctx.span().enter();
        INLINE.with(|i| i.set(true));
        let mut cx = Context::from_waker(Waker::noop());
        let done = self.future.as_mut().poll(&mut cx).is_ready();
        INLINE.with(|i| i.set(false));
        done
    }

    /// Continues the job as a task of `pool`.
    pub(crate) fn spawn(self, pool: &tokio::runtime::Handle) {
        let task = pool.spawn(self.future.instrument(self.ctx.span().clone()));
        self.runs.spawned(task.abort_handle());
    }
}

/// Resolves at once on the pool; polled inline, it makes the inline poll
/// return `Pending` so that what follows runs on the pool.
///
/// A session that had events queued behind a slow handler drains them on
/// the pool: the connection thread, polling it inline, must get back to
/// the socket after one event.
pub(crate) fn to_pool() -> impl Future<Output = ()> {
    let mut moved = false;
    std::future::poll_fn(move |_| {
        if !moved && INLINE.with(|i| i.get()) {
            moved = true;
            return Poll::Pending;
        }
        Poll::Ready(())
    })
}
