//! Running a session's input: the job, and the one future that runs jobs
//! on the connection thread, allocated once and reused.
//!
//! Input for a session at rest needs a future (`session_run::drive`: the
//! handler, then what was queued meanwhile), as large as the largest
//! handler's future: kilobytes. Allocated for every event and freed after
//! it, it cost a slow-path allocation per event (beyond the allocator's
//! small sizes) and the page it came from was emptied and retired each
//! time. The runner keeps the allocation: the next job's future is written
//! over the finished one (`Pin::set`). A job that does not finish takes the
//! allocation to the pool with it; the next job makes a new one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::ctx::Ctx;
use crate::handler::Backend;
use crate::inline;
use crate::session_cell::Cell;
use crate::session_run::{Start, Tally, drive};

/// Input for a session to run now: a login, or input for a session that
/// was at rest.
pub(crate) struct Job<B> {
    pub(crate) cell: Arc<Cell<B>>,
    pub(crate) ctx: Ctx,
    pub(crate) start: Start<B>,
    /// Run it on the pool straight away: its handler has held the
    /// connection thread before.
    pub(crate) pool_only: bool,
}

impl<B> Job<B> {
    /// `start` for the session of `cell` and `ctx`.
    pub(crate) fn new(cell: &Arc<Cell<B>>, ctx: &Ctx, start: Start<B>, pool_only: bool) -> Self {
        Job {
            cell: Arc::clone(cell),
            ctx: ctx.clone(),
            start,
            pool_only,
        }
    }
}

impl<B: Backend> Job<B> {
    /// Runs the job as a task of `pool`.
    pub(crate) fn spawn(self, pool: &tokio::runtime::Handle, tally: &Arc<Tally>) {
        let (ctx, cell) = (self.ctx.clone(), Arc::clone(&self.cell));
        let session = drive(self.cell, self.ctx, self.start, Arc::clone(tally));
        on_pool(pool, session, &ctx, &cell);
    }
}

/// Runs (or goes on running) a session's future as a task of `pool`, in
/// the span of its `ctx`, and tells its `cell`, which may have to stop it.
pub(crate) fn on_pool<B>(
    pool: &tokio::runtime::Handle,
    session: impl Future<Output = ()> + Send + 'static,
    ctx: &Ctx,
    cell: &Cell<B>,
) {
    let task = pool.spawn(session.instrument(ctx.span().clone()));
    cell.spawned(task.abort_handle());
}

/// A session future that is not finished, for the pool.
pub(crate) type Unfinished = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs jobs on the connection thread in one reused future.
pub(crate) trait Runner<B>: Send {
    /// Polls `job` once on this thread, in the span of `ctx` (the job's
    /// own context, which the future takes); true if it finished. If not,
    /// [`Runner::unfinished`] gives it up.
    fn poll(&mut self, job: Job<B>, ctx: &Ctx) -> bool;
    /// The job that did not finish; the runner allocates anew next time.
    fn unfinished(&mut self) -> Option<Unfinished>;
    /// What sessions report to when they end.
    fn tally(&self) -> &Arc<Tally>;
}

/// The runner for backend `B`.
pub(crate) fn runner<B: Backend>(tally: Arc<Tally>) -> Box<dyn Runner<B>> {
    let reports = Arc::clone(&tally);
    Box::new(Reused {
        future: None,
        make: move |job: Job<B>| drive(job.cell, job.ctx, job.start, Arc::clone(&reports)),
        tally,
    })
}

/// A runner over the future type `F` that `make` returns (named here,
/// where it can be inferred, and nowhere else).
struct Reused<F, M> {
    future: Option<Pin<Box<F>>>,
    make: M,
    tally: Arc<Tally>,
}

impl<B, F, M> Runner<B> for Reused<F, M>
where
    B: Backend,
    F: Future<Output = ()> + Send + 'static,
    M: FnMut(Job<B>) -> F + Send,
{
    fn poll(&mut self, job: Job<B>, ctx: &Ctx) -> bool {
        let next = (self.make)(job);
        let future = match &mut self.future {
            Some(future) => {
                future.as_mut().set(next);
                future
            }
            None => self.future.insert(Box::pin(next)),
        };
        inline::poll_inline(future.as_mut(), ctx).is_ready()
    }

    fn unfinished(&mut self) -> Option<Unfinished> {
        Some(self.future.take()?)
    }

    fn tally(&self) -> &Arc<Tally> {
        &self.tally
    }
}
