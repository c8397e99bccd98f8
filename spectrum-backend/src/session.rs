//! Sessions: one task per logged-in user, fed in order by the reader.
//!
//! The reader never waits for a handler. It pushes each event onto the
//! user's queue and goes back to the socket, so PING is answered while any
//! handler runs, and users never wait for each other. A user's events are
//! handled one at a time, in arrival order.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::FutureExt as _;
use spectrum_proto::{self as proto, ConnectionError};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::Error;
use crate::backend_ctx::BackendCtx;
use crate::ctx::{Ctx, VCardReply, vcard_payload};
use crate::events::Event;
use crate::handler::Backend;
use crate::reply::{self, Reply as _};
use crate::session_queue;

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

/// Bytes of input queued for every session together.
pub(crate) struct Budget {
    used: AtomicUsize,
    /// Signalled whenever queued input is taken or dropped.
    freed: Notify,
}

impl Budget {
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Resolves after some queued input was released.
    pub(crate) async fn freed(&self) {
        self.freed.notified().await;
    }
}

/// One user's queued input.
#[derive(Default)]
struct UserQueue {
    bytes: AtomicUsize,
    events: AtomicUsize,
}

/// The memory one queued event holds; released when the event leaves the
/// queue, or is dropped with it.
pub(crate) struct Ticket {
    cost: usize,
    user: Arc<UserQueue>,
    budget: Arc<Budget>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.user.bytes.fetch_sub(self.cost, Ordering::AcqRel);
        self.user.events.fetch_sub(1, Ordering::AcqRel);
        self.budget.used.fetch_sub(self.cost, Ordering::AcqRel);
        self.budget.freed.notify_one();
    }
}

/// What a session's queue carries; boxed so an idle queue stays small.
pub(crate) enum SessionMsg {
    Event(Box<Event>, Ticket),
    /// The logout, and whether it is part of a shutdown (logged quietly:
    /// thousands of sessions must not mean thousands of lines).
    Logout(Box<proto::Logout>, bool),
}

struct Entry {
    queue: session_queue::Sender<SessionMsg>,
    queued: Arc<UserQueue>,
    /// Since when the queue has been full with input waiting for it, until
    /// it is next seen empty.
    full_since: Option<std::time::Instant>,
    task: JoinHandle<()>,
    generation: u64,
    legacy_name: String,
    /// A LOGOUT is queued: the session is ending.
    logging_out: bool,
    ctx: Ctx,
}

/// Where an event went.
pub(crate) enum Routed {
    Queued,
    /// No session for its user: answer it as an orphan.
    NoSession(Event),
    /// The user's queue is full; the event is given back, with since when
    /// the queue has been full (not counting time the main instance held
    /// us back, see [`Sessions::not_stuck`]).
    UserFull(Event, std::time::Instant),
    /// Every session's queues together are full; the event is given back.
    TotalFull(Event),
}

/// How a shutdown went, for its one summary line.
pub(crate) struct ShutdownReport {
    pub(crate) logged_out: usize,
    pub(crate) abandoned: usize,
}

/// The sessions of one connection, owned by the reader.
pub(crate) struct Sessions<B> {
    map: HashMap<String, Entry>,
    next_generation: u64,
    backend: BackendCtx,
    /// Where session tasks run: the caller's runtime, not the I/O thread.
    pool: tokio::runtime::Handle,
    ended_tx: mpsc::UnboundedSender<(String, u64)>,
    limits: Limits,
    budget: Arc<Budget>,
    _backend: std::marker::PhantomData<fn() -> B>,
}

impl<B: Backend> Sessions<B> {
    pub(crate) fn new(
        backend: BackendCtx,
        pool: tokio::runtime::Handle,
        limits: Limits,
    ) -> (Self, mpsc::UnboundedReceiver<(String, u64)>) {
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let sessions = Sessions {
            map: HashMap::new(),
            next_generation: 0,
            backend,
            pool,
            ended_tx,
            limits,
            budget: Arc::new(Budget {
                used: AtomicUsize::new(0),
                freed: Notify::new(),
            }),
            _backend: std::marker::PhantomData,
        };
        (sessions, ended_rx)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.budget
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
            && !old.queue.is_closed()
            && !old.ctx.is_ended()
            && old.legacy_name == login.legacy_name
        {
            tracing::info!(%user, "LOGIN for a user already logged in with that legacy name; ignored");
            return;
        }
        let previous = self.map.remove(&user).map(|old| {
            if old.logging_out {
                tracing::debug!(%user, "LOGIN after LOGOUT: waits for the old session to end");
            } else {
                tracing::info!(%user, "LOGIN with another legacy name: ending the old session first");
            }
            // A second LOGOUT behind the first one is never taken.
            let _ = old.queue.send(SessionMsg::Logout(
                Box::new(proto::Logout {
                    user: user.clone(),
                    legacy_name: old.legacy_name,
                }),
                false,
            ));
            old.task
        });
        self.next_generation += 1;
        let generation = self.next_generation;
        let (queue, mut rx) = session_queue::queue();
        let span = tracing::info_span!("session", user = %user);
        let ctx = Ctx::new(
            user.clone(),
            login.legacy_name.clone(),
            self.backend.clone(),
            span.clone(),
        );
        let ended_tx = self.ended_tx.clone();
        let legacy_name = login.legacy_name.clone();
        let session_ctx = ctx.clone();
        // Boxed until the login handler takes it: the task of an idle
        // session keeps no room for it.
        let login = Box::new(login);
        let task = self.pool.spawn(
            async move {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                run::<B>(&ctx, login, &mut rx).await;
                ctx.end();
                // Events queued behind a failed login or handler still get
                // the answers Spectrum 2 waits for.
                rx.close();
                while let Some(msg) = rx.try_recv() {
                    if let SessionMsg::Event(event, _) = msg {
                        orphan(ctx.backend(), *event);
                    }
                }
                let _ = ended_tx.send((ctx.user().to_owned(), generation));
            }
            .instrument(span),
        );
        self.map.insert(
            user,
            Entry {
                queue,
                queued: Arc::default(),
                full_since: None,
                task,
                generation,
                legacy_name,
                logging_out: false,
                ctx: session_ctx,
            },
        );
    }

    /// Queues an event for its user, within the limits; `cost` is its frame
    /// length. An event always fits an empty queue, however large.
    pub(crate) fn route(&mut self, event: Event, cost: usize) -> Routed {
        let cost = cost + EVENT_OVERHEAD;
        let Some(entry) = event.user().and_then(|user| self.map.get_mut(user)) else {
            return Routed::NoSession(event);
        };
        // A closed queue means the session task has ended.
        if entry.queue.is_closed() {
            return Routed::NoSession(event);
        }
        // The answer to a question (`Ctx::ask`) skips the queue: the asker
        // may be the Login handler the queue waits for.
        let Some(event) = entry.ctx.prompts().answer(event) else {
            return Routed::Queued;
        };
        let user_bytes = entry.queued.bytes.load(Ordering::Acquire);
        if user_bytes == 0 {
            entry.full_since = None;
        }
        if user_bytes > 0 && user_bytes + cost > self.limits.per_user {
            let since = *entry.full_since.get_or_insert_with(std::time::Instant::now);
            return Routed::UserFull(event, since);
        }
        let used = self.budget.used();
        if used > 0 && used + cost > self.limits.total {
            return Routed::TotalFull(event);
        }
        entry.queued.bytes.fetch_add(cost, Ordering::AcqRel);
        entry.queued.events.fetch_add(1, Ordering::AcqRel);
        self.budget.used.fetch_add(cost, Ordering::AcqRel);
        let ticket = Ticket {
            cost,
            user: Arc::clone(&entry.queued),
            budget: Arc::clone(&self.budget),
        };
        let _ = entry.queue.send(SessionMsg::Event(Box::new(event), ticket));
        Routed::Queued
    }

    /// The user's full queue is the main instance's doing (it does not read
    /// what we send, so handlers wait to send): it counts from now.
    pub(crate) fn not_stuck(&mut self, user: &str) {
        if let Some(entry) = self.map.get_mut(user) {
            entry.full_since = Some(std::time::Instant::now());
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Ends the session of a user whose handler does not keep up: its task
    /// is stopped, its queued events are dropped (and counted in the log),
    /// and the user is told with DISCONNECTED. Spectrum 2 then logs the user
    /// out and, for this code, in again: a fresh session.
    pub(crate) fn evict(&mut self, user: &str) {
        let Some(entry) = self.map.remove(user) else {
            return;
        };
        let events = entry.queued.events.load(Ordering::Acquire);
        let bytes = entry.queued.bytes.load(Ordering::Acquire);
        tracing::warn!(
            %user,
            queued_events = events,
            queued_bytes = bytes,
            limit = self.limits.per_user,
            "the session's handler does not keep up (its full input queue held reading \
             up for {:?}): session stopped, its queued events dropped, user disconnected",
            self.limits.stuck_after
        );
        entry.task.abort();
        entry.ctx.end();
        let ctx = entry.ctx;
        let text = format!(
            "the backend stopped this session: its handler did not keep up (its queue \
             stayed full for {:?}) and {events} events were waiting ({bytes} bytes); \
             they were dropped",
            self.limits.stuck_after
        );
        self.pool.spawn(
            async move {
                if let Err(e) = ctx.disconnect(ConnectionError::OtherError, text).await {
                    tracing::warn!("could not send DISCONNECTED: {e}");
                }
            }
            .in_current_span(),
        );
    }

    /// Queues the logout; false if the user has no session.
    pub(crate) fn logout(&mut self, logout: proto::Logout) -> bool {
        match self.map.get_mut(&logout.user) {
            Some(entry) => {
                let queued = entry
                    .queue
                    .send(SessionMsg::Logout(Box::new(logout), false))
                    .is_ok();
                entry.logging_out |= queued;
                queued
            }
            None => false,
        }
    }

    /// Forgets a session that ended by itself, unless a newer one replaced it.
    pub(crate) fn ended(&mut self, user: &str, generation: u64) {
        if self
            .map
            .get(user)
            .is_some_and(|e| e.generation == generation)
        {
            self.map.remove(user);
        }
    }

    /// Logs every session out (after the events already queued) and waits
    /// for them, at most `grace`; sessions still running are then aborted.
    pub(crate) async fn shutdown(&mut self, grace: std::time::Duration) -> ShutdownReport {
        let entries: Vec<(String, Entry)> = self.map.drain().collect();
        let mut tasks = Vec::with_capacity(entries.len());
        let mut ctxs = Vec::with_capacity(entries.len());
        for (user, entry) in entries {
            ctxs.push(entry.ctx);
            let _ = entry.queue.send(SessionMsg::Logout(
                Box::new(proto::Logout {
                    user,
                    legacy_name: entry.legacy_name,
                }),
                true,
            ));
            tasks.push(entry.task);
        }
        let total = tasks.len();
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let mut abandoned = 0;
        // One after the other, not `join_all`: with thousands of handles,
        // join_all re-polls them after each task's cooperative budget runs
        // out, and that cost grows with their number; awaiting in turn is
        // linear (handles of sessions that ended meanwhile are ready).
        let all_ended = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(grace, all_ended).await.is_err() {
            abandoned = aborts.iter().filter(|a| !a.is_finished()).count();
            for abort in aborts {
                abort.abort();
            }
            // Tasks of abandoned sessions wait on `ctx.ended()` too.
            for ctx in ctxs {
                ctx.end();
            }
        }
        ShutdownReport {
            logged_out: total - abandoned,
            abandoned,
        }
    }
}

/// Why a handler did not succeed.
enum Failure {
    Error(Error),
    Panic(String),
}

impl Failure {
    fn code_and_text(&self, during: &str) -> (ConnectionError, String) {
        match self {
            Failure::Error(e) => (e.code(), e.report()),
            // A panic is a bug in this backend, like a crashed backend process;
            // answer as Spectrum 2 does for those: OtherError, retried.
            Failure::Panic(msg) => (
                ConnectionError::OtherError,
                format!("internal error in the backend while handling {during}: {msg}"),
            ),
        }
    }
}

async fn guarded<T>(
    fut: impl std::future::Future<Output = crate::Result<T>>,
) -> Result<T, Failure> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::Error(e)),
        Err(panic) => Err(Failure::Panic(panic_message(&*panic))),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
}

async fn disconnect(ctx: &Ctx, failure: &Failure, during: &str) {
    // Ended before the user is told: Spectrum 2 may answer with LOGOUT and a
    // new LOGIN at once, and that LOGIN must start a new session, not be
    // taken for a duplicate of this one.
    ctx.end();
    let (code, text) = failure.code_and_text(during);
    if ctx.backend().outbox().is_closed() {
        // The connection is gone (shutdown or a vanished main instance):
        // a failed send is the expected end, and nobody can be told.
        tracing::debug!("session ends with the connection: {text}");
        return;
    }
    match failure {
        Failure::Panic(_) => tracing::error!(code = code.as_str_name(), "{text}"),
        Failure::Error(_) => tracing::warn!(code = code.as_str_name(), "session ends: {text}"),
    }
    if let Err(e) = ctx.disconnect(code, text).await {
        tracing::warn!("could not send DISCONNECTED: {e}");
    }
}

/// One session's life: login, events in order, logout.
async fn run<B: Backend>(
    ctx: &Ctx,
    login: Box<proto::Login>,
    rx: &mut session_queue::Receiver<SessionMsg>,
) {
    let legacy_name = login.legacy_name.clone();
    let mut session = match guarded(Box::pin(B::login(ctx, *login))).await {
        Ok(session) => session,
        Err(failure) => {
            Box::pin(disconnect(ctx, &failure, "LOGIN")).await;
            return;
        }
    };
    tracing::info!("logged in");
    // Futures awaited once in a session's life are boxed: inline, they
    // would size every idle session's task for them (about 0.7 KiB each).
    if let Err(e) = Box::pin(ctx.connected()).await {
        tracing::warn!("could not send CONNECTED: {e}");
    }
    let logout = loop {
        match rx.recv().await {
            Some(SessionMsg::Event(event, ticket)) => {
                // Out of the queue: its memory is the handler's now.
                drop(ticket);
                let name = event.name();
                tracing::debug!(event = name, "handling");
                let event = match ctx.before_handler(*event).await {
                    Ok(Some(event)) => event,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(event = name, "could not answer: {e}");
                        continue;
                    }
                };
                let leaving = Ctx::leaving(&event);
                let handled = guarded(Box::pin(session.handle(ctx, event))).await;
                ctx.left(leaving);
                if let Err(failure) = handled {
                    Box::pin(disconnect(ctx, &failure, name)).await;
                    if let Failure::Panic(_) = failure {
                        // The session's state is unknown after a panic: drop it.
                        return;
                    }
                    break (
                        proto::Logout {
                            user: ctx.user().to_owned(),
                            legacy_name,
                        },
                        false,
                    );
                }
            }
            Some(SessionMsg::Logout(logout, shutdown)) => break (*logout, shutdown),
            None => {
                break (
                    proto::Logout {
                        user: ctx.user().to_owned(),
                        legacy_name,
                    },
                    false,
                );
            }
        }
    };
    let (logout, shutdown) = logout;
    match guarded(Box::pin(session.logout(ctx, logout))).await {
        Ok(()) if shutdown => tracing::debug!("logged out"),
        Ok(()) => tracing::info!("logged out"),
        Err(Failure::Error(e)) => tracing::warn!("logout handler failed: {e}"),
        Err(Failure::Panic(msg)) => tracing::error!("logout handler panicked: {msg}"),
    }
}

/// Answers an event for a user with no session, as Spectrum 2 expects: an
/// empty vCard for a vCard request, an error presence for a room join.
/// The answer is sent by a task of its own so the caller never waits.
pub(crate) fn orphan(backend: &BackendCtx, event: Event) {
    match event.user() {
        Some(user) => {
            tracing::info!(%user, event = event.name(), "event for a user who is not logged in")
        }
        None => tracing::warn!(
            event = event.name(),
            "event names no user (RAW_XML without `from`); ignored"
        ),
    }
    let reply = match event {
        Event::VCard(req) => {
            vcard_payload(req.user_name, req.buddy_name, req.id, VCardReply::default())
        }
        Event::JoinRoom(room) => reply::Participant::new(room.room, room.nickname)
            .flag(proto::ParticipantFlag::RoomNotFound)
            .left()
            .status_message("you are not logged in to the legacy network")
            .into_payload(&room.user_name),
        _ => return,
    };
    let backend = backend.clone();
    tokio::spawn(
        async move {
            if let Err(e) = backend.outbox().send(&reply).await {
                tracing::warn!("could not answer: {e}");
            }
        }
        .in_current_span(),
    );
}
