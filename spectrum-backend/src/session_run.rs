//! A session's life as one future: login, then each event in order, then
//! logout; a failure or panic ends only this session.
//!
//! The same future runs inline on the connection thread or on the pool
//! (see `inline`): it handles the input it was started with, then drains
//! what was queued meanwhile, then puts the session back to rest.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use spectrum_proto::{self as proto, ConnectionError, Payload};
use tokio::sync::oneshot;

use crate::Error;
use crate::bell::Bell;
use crate::ctx::{Ctx, VCardReply, vcard_payload};
use crate::events::Event;
use crate::handler::Backend;
use crate::inline::to_pool;
use crate::reply::{self, Reply as _};
use crate::session_cell::{Cell, Next, SessionMsg};

/// Sessions not over yet, and those that ended by themselves, for the
/// connection to forget.
pub(crate) struct Tally {
    live: AtomicUsize,
    ended: Mutex<Vec<(String, u64)>>,
    /// Something was put in `ended` since it was last taken: the
    /// connection looks after every frame, and a lock each time cost more
    /// than routing the frame.
    any_ended: AtomicBool,
    bell: Arc<Bell>,
}

impl Tally {
    pub(crate) fn new(bell: Arc<Bell>) -> Self {
        Tally {
            live: AtomicUsize::new(0),
            ended: Mutex::new(Vec::new()),
            any_ended: AtomicBool::new(false),
            bell,
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn started(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
    }

    /// A session is over; `forget` names it for the connection's table.
    pub(crate) fn over(&self, forget: Option<(String, u64)>) {
        if let Some(ended) = forget {
            crate::locks::lock(&self.ended).push(ended);
            self.any_ended.store(true, Ordering::Release);
        }
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.bell.ring();
    }

    /// Whether a session may have ended since [`Tally::take_ended`] was
    /// last called: a load, where taking is a full barrier.
    pub(crate) fn any_ended(&self) -> bool {
        self.any_ended.load(Ordering::Acquire)
    }

    /// The sessions that ended since the last call.
    pub(crate) fn take_ended(&self) -> Vec<(String, u64)> {
        if !self.any_ended.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *crate::locks::lock(&self.ended))
    }
}

/// What a session's future starts with.
pub(crate) enum Start<B> {
    /// A login, after the user's previous session (if one is ending).
    Login(Box<proto::Login>, Option<oneshot::Receiver<()>>),
    /// Input for a session at rest.
    Resume(B, Input),
}

/// One piece of a session's input.
pub(crate) enum Input {
    Event(Box<Event>),
    /// The logout, and whether it is part of a shutdown.
    Logout(proto::Logout, bool),
}

impl From<SessionMsg> for Input {
    fn from(msg: SessionMsg) -> Self {
        match msg {
            // Out of the queue: its memory is the handler's now.
            SessionMsg::Event(event, _ticket) => Input::Event(event),
            SessionMsg::Logout(logout, shutdown) => Input::Logout(*logout, shutdown),
        }
    }
}

/// Runs the session from `start` until it rests or ends.
///
/// Not an `async fn`, for the reason given at [`step`].
#[allow(clippy::manual_async_fn)] // see above: an `async fn` keeps its arguments twice
pub(crate) fn drive<B: Backend>(
    cell: Arc<Cell<B>>,
    ctx: Ctx,
    start: Start<B>,
    tally: Arc<Tally>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let mut session = match start {
            Start::Login(login, previous) => {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                Box::pin(login_flow(&ctx, *login)).await
            }
            Start::Resume(session, input) => step(&ctx, session, input).await,
        };
        while let Some(s) = session {
            match cell.next_or_rest(s) {
                Next::Rested => return,
                Next::Closed(_) => break,
                Next::Input(s, msg) => {
                    // Polled inline, the rest runs on the pool: the connection
                    // thread goes back to the socket after one event.
                    to_pool().await;
                    session = step(&ctx, s, msg.into()).await;
                }
            }
        }
        ctx.end();
        let (queued, _, first) = cell.close();
        // Events queued behind a failed login or handler still get the
        // answers Spectrum 2 waits for. They are sent here rather than by
        // tasks of their own: a main instance that does not read then holds
        // this session's end up, and each event keeps its share of the
        // input budget until its answer is queued.
        for msg in queued {
            if let SessionMsg::Event(event, _) = msg
                && let Some(answer) = orphan(*event)
                && let Err(e) = ctx.backend().outbox().send(&answer).await
            {
                tracing::warn!("could not answer: {e}");
            }
        }
        if first {
            tally.over(Some((ctx.user().to_owned(), cell.generation)));
        }
    }
}

async fn login_flow<B: Backend>(ctx: &Ctx, login: proto::Login) -> Option<B> {
    match guarded(B::login(ctx, login)).await {
        Ok(session) => {
            tracing::info!("logged in");
            if let Err(e) = ctx.connected().await {
                tracing::warn!("could not send CONNECTED: {e}");
            }
            Some(session)
        }
        Err(failure) => {
            disconnect(ctx, &failure, "LOGIN").await;
            None
        }
    }
}

/// Handles one input; the session if it goes on.
///
/// Not an `async fn`: its argument would be kept twice for the whole
/// future (as the argument and as the local it is moved to), and the event
/// a third time beside the handler's future, which holds it too; every
/// copy is a move per event, and room in a future allocated per event.
#[allow(clippy::manual_async_fn)] // see above: an `async fn` keeps its arguments twice
fn step<B: Backend>(
    ctx: &Ctx,
    session: B,
    input: Input,
) -> impl std::future::Future<Output = Option<B>> + '_ {
    async move {
        let mut session = session;
        let event = match input {
            Input::Event(event) if Ctx::tracks(&event) => {
                // Only room joins and leaves have anything done before their
                // handler; boxed, as they are rare.
                return Box::pin(tracked_step(ctx, session, *event)).await;
            }
            Input::Event(event) => event,
            Input::Logout(logout, shutdown) => {
                Box::pin(logout_flow(ctx, session, logout, shutdown)).await;
                return None;
            }
        };
        let name = event.name();
        tracing::debug!(event = name, "handling");
        // Unboxed into the handler's future: the one move it costs.
        let handled = guarded(session.handle(ctx, *event)).await;
        handled_or_failed(ctx, session, handled, name).await
    }
}

/// [`step`] for an event the runtime looks at before its handler.
async fn tracked_step<B: Backend>(ctx: &Ctx, mut session: B, event: Event) -> Option<B> {
    let name = event.name();
    tracing::debug!(event = name, "handling");
    let event = match ctx.before_handler(event).await {
        Ok(Some(event)) => event,
        Ok(None) => return Some(session),
        Err(e) => {
            tracing::warn!(event = name, "could not answer: {e}");
            return Some(session);
        }
    };
    let leaving = Ctx::leaving(&event);
    let handled = guarded(session.handle(ctx, event)).await;
    ctx.left(leaving);
    handled_or_failed(ctx, session, handled, name).await
}

/// The session after its handler for `name` returned `handled`.
async fn handled_or_failed<B: Backend>(
    ctx: &Ctx,
    session: B,
    handled: Result<(), Failure>,
    name: &'static str,
) -> Option<B> {
    match handled {
        Ok(()) => Some(session),
        // Boxed, as login and logout: the future of every event is
        // allocated with room for its largest state, and these are rare.
        Err(failure) => Box::pin(fail(ctx, session, failure, name)).await,
    }
}

/// Ends the session after its handler for `event` failed.
async fn fail<B: Backend>(ctx: &Ctx, session: B, failure: Failure, event: &str) -> Option<B> {
    disconnect(ctx, &failure, event).await;
    // The session's state is unknown after a panic: drop it.
    if let Failure::Error(_) = failure {
        let logout = proto::Logout {
            user: ctx.user().to_owned(),
            legacy_name: ctx.legacy_name().to_owned(),
        };
        logout_flow(ctx, session, logout, false).await;
    }
    None
}

async fn logout_flow<B: Backend>(ctx: &Ctx, session: B, logout: proto::Logout, shutdown: bool) {
    match guarded(session.logout(ctx, logout)).await {
        Ok(()) if shutdown => tracing::debug!("logged out"),
        Ok(()) => tracing::info!("logged out"),
        Err(Failure::Error(e)) => tracing::warn!("logout handler failed: {e}"),
        Err(Failure::Panic(msg)) => tracing::error!("logout handler panicked: {msg}"),
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

/// `fut`, with its error or panic as a [`Failure`].
///
/// Not an `async fn`: that one would hold `fut` twice (as its argument and
/// as the future it awaits), and a handler's future is the largest part of
/// a session's.
fn guarded<T>(
    fut: impl std::future::Future<Output = crate::Result<T>>,
) -> impl std::future::Future<Output = Result<T, Failure>> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .map(|outcome| match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::Error(e)),
            Err(panic) => Err(Failure::Panic(panic_message(&*panic))),
        })
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
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

/// The answer to an event for a user with no session, as Spectrum 2
/// expects one: an empty vCard for a vCard request, an error presence for
/// a room join; `None` for an event that needs none.
///
/// The caller sends it, or holds its input until it can: it is never left
/// to a task of its own, as a main instance that sends such events without
/// reading the answers would make those tasks pile up.
pub(crate) fn orphan(event: Event) -> Option<Payload> {
    match event.user() {
        Some(user) => {
            tracing::info!(%user, event = event.name(), "event for a user who is not logged in")
        }
        None => tracing::warn!(
            event = event.name(),
            "event names no user (RAW_XML without `from`); ignored"
        ),
    }
    match event {
        Event::VCard(req) => Some(vcard_payload(
            req.user_name,
            req.buddy_name,
            req.id,
            VCardReply::default(),
        )),
        Event::JoinRoom(room) => Some(
            reply::Participant::new(room.room, room.nickname)
                .flag(proto::ParticipantFlag::RoomNotFound)
                .left()
                .status_message("you are not logged in to the legacy network")
                .into_payload(&room.user_name),
        ),
        _ => None,
    }
}
