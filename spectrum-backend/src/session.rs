//! The connection's table of sessions: which user has which session, the
//! duplicate-LOGIN rules, the bounds on queued input, stopping a session
//! that does not keep up, and logging everyone out at shutdown.
//!
//! The reader never waits for a handler. An event for a session at rest
//! becomes a [`Job`] that the connection polls at once (see `runner`); an
//! event for a session whose handler runs waits in that session's queue,
//! so PING is answered while any handler runs, users never wait for each
//! other, and a user's events are handled one at a time, in arrival order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use spectrum_proto::{self as proto, ConnectionError, Payload};

use crate::backend_ctx::BackendCtx;
use crate::bell::Bell;
use crate::ctx::Ctx;
use crate::events::Event;
use crate::handler::Backend;
use crate::reply::{self, Reply as _};
use crate::runner::{Job, Runner, runner};
use crate::session_cell::{Budget, Cell, SessionMsg};
use crate::session_run::{Input, Start, Tally};

pub(crate) use crate::session_run::orphan;

/// What an event is taken to cost in memory while queued, besides its frame:
/// the box, the message struct and its strings' headers.
pub(crate) const EVENT_OVERHEAD: usize = 256;

/// How much queued input the backend holds; see [`crate::Runtime::input_limits`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) per_user: usize,
    pub(crate) total: usize,
    /// A user whose full queue has held reading up this long (while the main
    /// instance reads us) has a handler that cannot keep up.
    pub(crate) stuck_after: std::time::Duration,
}

struct Entry<B> {
    cell: Arc<Cell<B>>,
    /// Since when the queue has been full with input waiting for it, until
    /// it is next seen empty.
    full_since: Option<Instant>,
    /// A LOGOUT is queued: the session is ending.
    logging_out: bool,
    ctx: Ctx,
}

/// Where an event went.
pub(crate) enum Routed {
    /// Queued, or handed to a job (see [`Sessions::take_job`]).
    Queued,
    /// No session for its user: answer it as an orphan.
    NoSession(Box<Event>),
    /// The user's queue is full; the event is given back, with since when
    /// the queue has been full (not counting time the main instance held
    /// us back, see [`Sessions::not_stuck`]).
    UserFull(Box<Event>, Instant),
    /// Every session's queues together are full; the event is given back.
    TotalFull(Box<Event>),
}

/// How a shutdown went, for its one summary line.
pub(crate) struct ShutdownReport {
    pub(crate) logged_out: usize,
    pub(crate) abandoned: usize,
}

/// The sessions of one connection, owned by the connection thread.
pub(crate) struct Sessions<B> {
    /// Keyed by the user's JID; hashed with foldhash (seeded per process),
    /// a fifth of the cost of SipHash on the path of every event.
    map: HashMap<String, Entry<B>, foldhash::fast::RandomState>,
    next_generation: u64,
    backend: BackendCtx,
    limits: Limits,
    budget: Arc<Budget>,
    tally: Arc<Tally>,
    /// Sessions to run now, in order.
    jobs: std::collections::VecDeque<Job<B>>,
    /// The runner for the next job, unless a thread that was replaced
    /// while running a job kept it.
    runner: Option<Box<dyn Runner<B>>>,
    /// At shutdown: the sessions still to be told to log out. One at a
    /// time, as jobs are taken: building every logout's future at once
    /// costs thousands of fresh pages.
    to_log_out: std::collections::VecDeque<(String, Entry<B>)>,
    /// At shutdown: every session told to log out.
    leaving: Vec<(Arc<Cell<B>>, Ctx)>,
}

impl<B: Backend> Sessions<B> {
    pub(crate) fn new(backend: BackendCtx, limits: Limits, bell: Arc<Bell>) -> Self {
        Sessions {
            map: HashMap::default(),
            next_generation: 0,
            backend,
            limits,
            budget: Arc::new(Budget::new(Arc::clone(&bell))),
            tally: Arc::new(Tally::new(bell)),
            jobs: std::collections::VecDeque::new(),
            runner: None,
            to_log_out: std::collections::VecDeque::new(),
            leaving: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// The next session to run, if an event (or the shutdown) started one.
    pub(crate) fn take_job(&mut self) -> Option<Job<B>> {
        loop {
            if let Some(job) = self.jobs.pop_front() {
                return Some(job);
            }
            let (user, entry) = self.to_log_out.pop_front()?;
            let logout = proto::Logout {
                user,
                legacy_name: entry.ctx.legacy_name().to_owned(),
            };
            let _ = self.dispatch(
                &entry.cell,
                &entry.ctx,
                SessionMsg::Logout(Box::new(logout), true),
            );
            self.leaving.push((entry.cell, entry.ctx));
        }
    }

    /// The runner to run jobs with, taken while they run.
    pub(crate) fn take_runner(&mut self) -> Box<dyn Runner<B>> {
        self.runner
            .take()
            .unwrap_or_else(|| runner(Arc::clone(&self.tally)))
    }

    /// Keeps `runner` for the next job.
    pub(crate) fn keep_runner(&mut self, runner: Box<dyn Runner<B>>) {
        self.runner = Some(runner);
    }

    /// Gives `input` to the session: runs it now if it is at rest, queues
    /// it otherwise; gives it back if the session is over.
    fn dispatch(
        &mut self,
        cell: &Arc<Cell<B>>,
        ctx: &Ctx,
        input: SessionMsg,
    ) -> Result<(), SessionMsg> {
        let mut st = cell.lock();
        if st.closed {
            return Err(input);
        }
        match st.session.take() {
            Some(session) if !st.running => {
                st.running = true;
                let pool_only = st.pool_only();
                drop(st);
                let start = Start::Resume(session, input.into());
                self.jobs.push_back(Job::new(cell, ctx, start, pool_only));
            }
            other => {
                st.session = other;
                st.queue.push_back(input);
            }
        }
        Ok(())
    }

    /// Starts a session for a LOGIN.
    ///
    /// A LOGIN for a user already served with the same legacy name is a
    /// duplicate (Spectrum 2 sends one when a user joins a room of an
    /// auto-registering transport): it is logged and ignored, as Spectrum
    /// 2's own backends do. With another legacy name, the old session is
    /// logged out first and the new login waits for it. A LOGIN right
    /// after a LOGOUT (as Spectrum 2 retries a session) is not a duplicate,
    /// even while the old session is still logging out: it waits for it.
    pub(crate) fn login(&mut self, login: proto::Login) {
        let user = login.user.clone();
        if let Some(old) = self.map.get(&user)
            && !old.logging_out
            && !old.cell.is_finished()
            && !old.ctx.is_ended()
            && old.ctx.legacy_name() == login.legacy_name
        {
            tracing::info!(%user, "LOGIN for a user already logged in with that legacy name; ignored");
            return;
        }
        let previous = match self.map.remove(&user) {
            Some(old) => {
                if old.logging_out {
                    tracing::debug!(%user, "LOGIN after LOGOUT: waits for the old session to end");
                } else {
                    tracing::info!(%user, "LOGIN with another legacy name: ending the old session first");
                }
                // A second LOGOUT behind the first one is never taken.
                let logout = proto::Logout {
                    user: user.clone(),
                    legacy_name: old.ctx.legacy_name().to_owned(),
                };
                let _ = self.dispatch(
                    &old.cell,
                    &old.ctx,
                    SessionMsg::Logout(Box::new(logout), false),
                );
                old.cell.when_finished()
            }
            None => None,
        };
        self.next_generation += 1;
        let span = tracing::info_span!("session", user = %user);
        let ctx = Ctx::new(
            user.clone(),
            login.legacy_name.clone(),
            self.backend.clone(),
            span,
        );
        let cell = Arc::new(Cell::logging_in(self.next_generation));
        self.tally.started();
        let start = Start::Login(Box::new(login), previous);
        self.jobs.push_back(Job::new(&cell, &ctx, start, false));
        self.map.insert(
            user,
            Entry {
                cell,
                full_since: None,
                logging_out: false,
                ctx,
            },
        );
    }

    /// Gives an event to its user's session, within the limits; `cost` is
    /// its frame length. An event always fits an empty queue, however
    /// large; an event for a session at rest is not queued at all.
    pub(crate) fn route(&mut self, event: Box<Event>, cost: usize) -> Routed {
        let cost = cost + EVENT_OVERHEAD;
        let Some(entry) = event.user().and_then(|user| self.map.get_mut(user)) else {
            return Routed::NoSession(event);
        };
        // The answer to a question (`Ctx::ask`) skips the queue: the asker
        // may be the Login handler the queue waits for.
        let Some(event) = entry.ctx.prompts().answer(event) else {
            return Routed::Queued;
        };
        // Fields borrowed apart, not through methods: the cell and context
        // are cloned once, into the job, on a path taken for every frame.
        let mut st = entry.cell.lock();
        if st.closed {
            return Routed::NoSession(event);
        }
        if !st.running
            && let Some(session) = st.session.take()
        {
            st.running = true;
            let pool_only = st.pool_only();
            drop(st);
            entry.full_since = None;
            let start = Start::Resume(session, Input::Event(event));
            self.jobs
                .push_back(Job::new(&entry.cell, &entry.ctx, start, pool_only));
            return Routed::Queued;
        }
        if st.bytes == 0 {
            entry.full_since = None;
        }
        if st.bytes > 0 && st.bytes + cost > self.limits.per_user {
            let since = *entry.full_since.get_or_insert_with(Instant::now);
            return Routed::UserFull(event, since);
        }
        let used = self.budget.used();
        if used > 0 && used + cost > self.limits.total {
            return Routed::TotalFull(event);
        }
        st.bytes += cost;
        let ticket = self.budget.take(cost);
        st.queue.push_back(SessionMsg::Event(event, ticket));
        Routed::Queued
    }

    /// The user's full queue is the main instance's doing (it does not read
    /// what we send, so handlers wait to send): it counts from now.
    pub(crate) fn not_stuck(&mut self, user: &str) {
        if let Some(entry) = self.map.get_mut(user) {
            entry.full_since = Some(Instant::now());
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Ends the session of a user whose handler does not keep up: it is
    /// stopped, its queued events are dropped (and counted in the log),
    /// and the user is told with DISCONNECTED. Spectrum 2 then logs the user
    /// out and, for this code, in again: a fresh session.
    ///
    /// Returns the DISCONNECTED, for the connection to send (or hold, with
    /// reading paused, until the outbox has room).
    pub(crate) fn evict(&mut self, user: &str) -> Option<Payload> {
        let entry = self.map.remove(user)?;
        let bytes = entry.cell.lock().bytes;
        let (queued, task, first) = entry.cell.close();
        let events = queued
            .iter()
            .filter(|m| matches!(m, SessionMsg::Event(..)))
            .count();
        drop(queued);
        tracing::warn!(
            %user,
            queued_events = events,
            queued_bytes = bytes,
            limit = self.limits.per_user,
            "the session's handler does not keep up (its full input queue held reading \
             up for {:?}): session stopped, its queued events dropped, user disconnected",
            self.limits.stuck_after
        );
        if let Some(task) = task {
            task.abort();
        }
        if first {
            self.tally.over(None);
        }
        entry.ctx.end();
        let text = format!(
            "the backend stopped this session: its handler did not keep up (its queue \
             stayed full for {:?}) and {events} events were waiting ({bytes} bytes); \
             they were dropped",
            self.limits.stuck_after
        );
        Some(reply::Disconnect::new(ConnectionError::OtherError, text).into_payload(user))
    }

    /// Queues the logout; false if the user has no session.
    pub(crate) fn logout(&mut self, logout: proto::Logout) -> bool {
        let Some(entry) = self.map.get_mut(&logout.user) else {
            return false;
        };
        let (cell, ctx) = (Arc::clone(&entry.cell), entry.ctx.clone());
        let queued = self
            .dispatch(&cell, &ctx, SessionMsg::Logout(Box::new(logout), false))
            .is_ok();
        if let Some(entry) = self.map.get_mut(ctx.user()) {
            entry.logging_out |= queued;
        }
        queued
    }

    /// Forgets the sessions that ended by themselves, unless a newer one
    /// replaced them.
    pub(crate) fn forget_ended(&mut self) {
        // Called for every frame; something ended for almost none.
        if !self.tally.any_ended() {
            return;
        }
        for (user, generation) in self.tally.take_ended() {
            if self
                .map
                .get(&user)
                .is_some_and(|e| e.cell.generation == generation)
            {
                self.map.remove(&user);
            }
        }
    }

    /// Logs every session out, after the events already queued, as jobs
    /// are taken; then [`Sessions::live`] counts down to 0.
    pub(crate) fn log_everyone_out(&mut self) {
        self.leaving.reserve(self.map.len());
        self.to_log_out.extend(self.map.drain());
    }

    /// Sessions not over yet.
    pub(crate) fn live(&self) -> usize {
        self.tally.live()
    }

    /// Stops the sessions still running after the grace period.
    pub(crate) fn abandon(&mut self) -> ShutdownReport {
        let total = self.leaving.len();
        let mut abandoned = 0;
        for (cell, ctx) in self.leaving.drain(..) {
            let (_, task, first) = cell.close();
            if first {
                abandoned += 1;
                if let Some(task) = task {
                    task.abort();
                }
                // Tasks of abandoned sessions wait on `ctx.ended()` too.
                ctx.end();
            }
        }
        ShutdownReport {
            logged_out: total - abandoned,
            abandoned,
        }
    }
}
