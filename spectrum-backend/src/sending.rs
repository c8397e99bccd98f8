//! The future of one reply being sent.
//!
//! Written by hand rather than as an `async fn`: an `async fn` keeps its
//! arguments as well as what it makes of them, and each `async fn` it
//! awaits again, so sending one message took a 904-byte future, held
//! inside every handler's. Almost every send finds room in the outbox and
//! finishes in its first poll; only one that has to wait for room boxes
//! the waiting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::reply::Reply;
use crate::{Ctx, Result};

/// A reply being sent: [`Ctx::send`], [`Bound::send`](crate::Bound::send),
/// or a [`Bound`](crate::Bound) awaited. Nothing is sent before it is
/// awaited.
#[must_use = "a reply is sent only when awaited"]
pub struct Sending<'a, R> {
    ctx: &'a Ctx,
    state: State<'a, R>,
}

enum State<'a, R> {
    /// Not polled yet.
    Reply(R),
    /// The outbox was full: waiting for room.
    Waiting(Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>),
    Done,
}

// Nothing in it is ever pinned in place: the waiting part is pinned by its
// box, and the reply is only moved out.
impl<R> Unpin for Sending<'_, R> {}

impl<'a, R> Sending<'a, R> {
    pub(crate) fn new(ctx: &'a Ctx, reply: R) -> Self {
        Sending {
            ctx,
            state: State::Reply(reply),
        }
    }
}

impl<R: Reply> Future for Sending<'_, R> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if let State::Reply(_) = this.state {
            let State::Reply(reply) = std::mem::replace(&mut this.state, State::Done) else {
                unreachable!("matched just above");
            };
            let payload = reply.into_payload(this.ctx.user());
            if let Some(sent) = this.ctx.try_write_all(std::slice::from_ref(&payload)) {
                return Poll::Ready(sent);
            }
            // The outbox was full a moment ago: wait for room (the wait
            // tries again first, as room may have been made since).
            let ctx = this.ctx;
            this.state = State::Waiting(Box::pin(async move {
                ctx.wait_to_write_all(std::slice::from_ref(&payload)).await
            }));
        }
        match &mut this.state {
            State::Waiting(waiting) => {
                let polled = waiting.as_mut().poll(cx);
                if polled.is_ready() {
                    this.state = State::Done;
                }
                polled
            }
            State::Reply(_) | State::Done => panic!("`Sending` polled after it completed"),
        }
    }
}

impl<R> std::fmt::Debug for Sending<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Reply(_) => "not polled",
            State::Waiting(_) => "waiting for room",
            State::Done => "done",
        };
        f.debug_struct("Sending")
            .field("user", &self.ctx.user())
            .field("state", &state)
            .finish()
    }
}
