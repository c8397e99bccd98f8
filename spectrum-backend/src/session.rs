//! Sessions: one task per logged-in user, fed in order by the reader.
//!
//! The reader never waits for a handler. It pushes each event onto the
//! user's queue and goes back to the socket, so PING is answered while any
//! handler runs, and users never wait for each other. A user's events are
//! handled one at a time, in arrival order.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use spectrum_proto::{self as proto, ConnectionError, Payload};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::ctx::{new_participant, vcard_payload};
use crate::handler::Backend;
use crate::handler::VCardReply;
use crate::runtime::BackendCtx;
use crate::{Ctx, Error, Event};

/// What a session's queue carries; boxed so an idle queue stays small.
pub(crate) enum SessionMsg {
    Event(Box<Event>),
    Logout(Box<proto::Logout>),
}

struct Entry {
    queue: mpsc::UnboundedSender<SessionMsg>,
    task: JoinHandle<()>,
    generation: u64,
    legacy_name: String,
    ctx: Ctx,
}

/// The sessions of one connection, owned by the reader.
pub(crate) struct Sessions<B> {
    map: HashMap<String, Entry>,
    next_generation: u64,
    backend: BackendCtx,
    /// Where session tasks run: the caller's runtime, not the I/O thread.
    pool: tokio::runtime::Handle,
    ended_tx: mpsc::UnboundedSender<(String, u64)>,
    _backend: std::marker::PhantomData<fn() -> B>,
}

impl<B: Backend> Sessions<B> {
    pub(crate) fn new(
        backend: BackendCtx,
        pool: tokio::runtime::Handle,
    ) -> (Self, mpsc::UnboundedReceiver<(String, u64)>) {
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let sessions = Sessions {
            map: HashMap::new(),
            next_generation: 0,
            backend,
            pool,
            ended_tx,
            _backend: std::marker::PhantomData,
        };
        (sessions, ended_rx)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Starts a session. A LOGIN for a user we already serve (a move or a
    /// reconnect) logs the old session out first; the new login waits for it.
    pub(crate) fn login(&mut self, login: proto::Login) {
        let user = login.user.clone();
        let previous = self.map.remove(&user).map(|old| {
            tracing::info!(%user, "LOGIN for a user with a session: ending the old one first");
            let _ = old.queue.send(SessionMsg::Logout(Box::new(proto::Logout {
                user: user.clone(),
                legacy_name: old.legacy_name,
            })));
            old.task
        });
        self.next_generation += 1;
        let generation = self.next_generation;
        let (queue, mut rx) = mpsc::unbounded_channel();
        let ctx = Ctx::new(
            user.clone(),
            login.legacy_name.clone(),
            self.backend.clone(),
        );
        let ended_tx = self.ended_tx.clone();
        let legacy_name = login.legacy_name.clone();
        let span = tracing::info_span!("session", user = %user);
        let session_ctx = ctx.clone();
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
                while let Ok(msg) = rx.try_recv() {
                    if let SessionMsg::Event(event) = msg {
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
                task,
                generation,
                legacy_name,
                ctx: session_ctx,
            },
        );
    }

    /// Queues an event for its user; gives it back if there is no session.
    // The event is handed back by value on the hot path; boxing it would cost
    // an allocation per event.
    #[allow(clippy::result_large_err)]
    pub(crate) fn route(&mut self, event: Event) -> Result<(), Event> {
        match event.user().and_then(|user| self.map.get(user)) {
            // A closed queue means the session task has ended.
            Some(entry) if !entry.queue.is_closed() => {
                let _ = entry.queue.send(SessionMsg::Event(Box::new(event)));
                Ok(())
            }
            _ => Err(event),
        }
    }

    /// Queues the logout; false if the user has no session.
    pub(crate) fn logout(&mut self, logout: proto::Logout) -> bool {
        match self.map.get(&logout.user) {
            Some(entry) => entry
                .queue
                .send(SessionMsg::Logout(Box::new(logout)))
                .is_ok(),
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
    pub(crate) async fn shutdown(&mut self, grace: std::time::Duration) {
        let entries: Vec<(String, Entry)> = self.map.drain().collect();
        let mut tasks = Vec::with_capacity(entries.len());
        let mut ctxs = Vec::with_capacity(entries.len());
        for (user, entry) in entries {
            ctxs.push(entry.ctx);
            let _ = entry.queue.send(SessionMsg::Logout(Box::new(proto::Logout {
                user,
                legacy_name: entry.legacy_name,
            })));
            tasks.push(entry.task);
        }
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(grace, futures_util::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::warn!("sessions still busy after {grace:?} of shutdown; abandoning them");
            for abort in aborts {
                abort.abort();
            }
            // Tasks of abandoned sessions wait on `ctx.ended()` too.
            for ctx in ctxs {
                ctx.end();
            }
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
    login: proto::Login,
    rx: &mut mpsc::UnboundedReceiver<SessionMsg>,
) {
    let legacy_name = login.legacy_name.clone();
    let mut session = match guarded(Box::pin(B::login(ctx, login))).await {
        Ok(session) => session,
        Err(failure) => {
            disconnect(ctx, &failure, "LOGIN").await;
            return;
        }
    };
    tracing::info!("logged in");
    if let Err(e) = ctx.connected().await {
        tracing::warn!("could not send CONNECTED: {e}");
    }
    let logout = loop {
        match rx.recv().await {
            Some(SessionMsg::Event(event)) => {
                let name = event.name();
                tracing::debug!(event = name, "handling");
                if let Err(failure) = guarded(Box::pin(session.handle(ctx, *event))).await {
                    disconnect(ctx, &failure, name).await;
                    if let Failure::Panic(_) = failure {
                        // The session's state is unknown after a panic: drop it.
                        return;
                    }
                    break proto::Logout {
                        user: ctx.user().to_owned(),
                        legacy_name,
                    };
                }
            }
            Some(SessionMsg::Logout(logout)) => break *logout,
            None => {
                break proto::Logout {
                    user: ctx.user().to_owned(),
                    legacy_name,
                };
            }
        }
    };
    match guarded(Box::pin(session.logout(ctx, logout))).await {
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
        Event::JoinRoom(room) => {
            let mut own = new_participant(&room.user_name, room.room, room.nickname);
            own.flag = proto::ParticipantFlag::RoomNotFound.bit();
            own.status = proto::StatusType::StatusNone as i32;
            own.status_message = Some("you are not logged in to the legacy network".to_owned());
            Payload::ParticipantChanged(own)
        }
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
