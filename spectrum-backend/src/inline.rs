//! Polling a future on the connection thread, and telling the futures
//! polled there that they are.
//!
//! Most handlers finish in one poll (they encode a reply into the outbox
//! and return): polled where the frame was read, they cost no thread hop
//! and no wake-up. A future that returns `Pending` is spawned on the pool,
//! which polls it again at once; the first poll used a no-op waker, which
//! is sound because that second poll registers the pool task's own.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::ctx::Ctx;

thread_local! {
    /// This thread is polling a future inline (not as a pool task).
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Polls `future` once on this thread, in the span of `ctx`'s session.
pub(crate) fn poll_inline<F: Future + ?Sized>(future: Pin<&mut F>, ctx: &Ctx) -> Poll<F::Output> {
    let _span = ctx.span().enter();
    INLINE.with(|i| i.set(true));
    let mut cx = Context::from_waker(Waker::noop());
    let polled = future.poll(&mut cx);
    INLINE.with(|i| i.set(false));
    polled
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
