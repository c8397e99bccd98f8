//! Write backends for [Spectrum 2](https://spectrum.im), the XMPP transport,
//! as one impl block.
//!
//! Spectrum 2's main instance speaks XMPP to users and spawns backend
//! processes that connect them to a legacy network. A backend built on this
//! crate gets everything that is not about the legacy network for free: the
//! arguments and config file exactly as Spectrum 2 passes them, the
//! connection and framing, PING/PONG and memory STATS, BACKEND_CONFIG
//! derived from the handlers, one concurrent session per user with events in
//! order, typed replies, logging and a clean shutdown.
//!
//! ```no_run
//! use spectrum_backend::prelude::*;
//!
//! /// One logged-in user.
//! struct Echo;
//!
//! #[backend]
//! impl Echo {
//!     /// `Ok` means "connected"; an error is sent as DISCONNECTED.
//!     #[on(Login)]
//!     async fn login(_ctx: &Ctx, _login: Login) -> Result<Self> {
//!         Ok(Echo)
//!     }
//!
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
//!         ctx.message(msg.to(), msg.text()).await
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     spectrum_backend::main::<Echo>()
//! }
//! ```
//!
//! # The model
//!
//! * The type under [`#[backend]`](backend) is **one user's session**. The
//!   [`event::Login`] handler constructs it; [`event::Logout`] consumes it
//!   (the handler takes `self`), and the runtime runs it at shutdown too.
//! * Events of one user are handled one at a time, in order; users run
//!   concurrently. PING is answered by the runtime while handlers run.
//! * A handler returning an error, or panicking, ends only that user's
//!   session with a DISCONNECTED carrying the [`Error`]'s code.
//! * A LOGIN for a user already served with the same legacy name is a
//!   duplicate (Spectrum 2 sends those): logged and ignored. Another legacy
//!   name logs the old session out and starts a new one, and so does a LOGIN
//!   that follows a LOGOUT (Spectrum 2's retry after a DISCONNECTED).
//! * Input waiting for handlers is bounded ([`Runtime::input_limits`]): when
//!   it is full the backend stops reading (and keeps Spectrum 2 informed it
//!   is alive); a stuck handler's session is ended with DISCONNECTED.
//! * Handlers may take a [`view`] of what the user sent instead of the
//!   protocol message: `view::Message` says whether it is for a contact, a
//!   room or a room occupant, decodes the wire's empty-string conventions,
//!   and keeps the protocol message reachable.
//! * Replies are values ([`reply`]) that do not borrow anything: build them
//!   in a network read loop, store them, send them with [`Ctx::send`] or in
//!   one write with [`Ctx::send_all`]. [`Ctx`] has one helper per message,
//!   bound to the user, that is awaited to send: `ctx.message(to,
//!   text).await`. `Ctx` is `Clone + Send + 'static`: a session's own tasks
//!   keep a clone.
//! * A message that asks for a receipt gets CONV_MESSAGE_ACK when its
//!   handler succeeds ([`view::Message::defer_receipt`] sends it later).
//! * The session's rooms ([`Ctx::with_rooms`]) answer the JOIN_ROOM that
//!   Spectrum 2 replays after CONNECTED without calling the handler again.
//! * A connection to the legacy network ([`gateway::link`]) is reported to
//!   Spectrum 2 and the user by [`Ctx::follow_link`]; [`Ctx::ask`] asks the
//!   user a question (a one-time code) through a pseudo-contact.
//! * With the `store` feature, `ctx.store()` is the user's state that
//!   survives restarts, in an SQLite file in `service.working_dir` (or the
//!   directory of the config key `backend.store_dir`).
//!
//! The [`tutorial`] goes from the smallest backend to a networked one.
//!
//! Handlers may be `async` or not, may omit `ctx`, and may return `()` or
//! `Result<(), E>` with `E: Into<Error>`. See [`event`] for every event and
//! its payload. [`Backend`] is the trait the macro implements; it can be
//! implemented by hand.

#[allow(unused_extern_crates)] // lets this crate's tests and doctests use `#[backend]`
extern crate self as spectrum_backend;

mod args;
mod ask;
mod backend_ctx;
mod bell;
mod capabilities;
mod config;
mod config_keys;
mod connection;
mod ctx;
mod error;
pub mod event;
mod events;
pub mod gateway;
// What only the macro's expansion names (and a hand-written `Backend`
// through the root re-exports): hidden so that the documented API is what
// a backend author touches.
#[doc(hidden)]
pub mod handler;
mod inline;
mod links;
mod locks;
mod logging;
mod outbox;
mod prompt;
pub mod reply;
mod runner;
mod runtime;
mod sending;
mod session;
mod session_cell;
mod session_run;
mod signals;
mod socket;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tutorial;
pub mod view;
mod watchdog;

pub use args::{Args, ArgsError, USAGE};
pub use ask::{Ask, DEFAULT_ASK_CONTACT, DEFAULT_ASK_TIMEOUT};
pub use backend_ctx::BackendCtx;
#[cfg(feature = "store")]
pub use backend_ctx::STORE_DIR_KEY;
pub use capabilities::Capabilities;
pub use config::{Config, ConfigError};
pub use ctx::{
    Bound, BuddyBuilder, Ctx, MessageBuilder, ParticipantBuilder, RoomJoin, SubjectBuilder,
    VCardReply,
};
pub use error::{Error, Result, RunError, SendError};
pub use events::{Event, EventKind};
pub use handler::{Backend, unhandled};
pub use links::{LinkLogin, LinkReport};
pub use prompt::AskError;
pub use runtime::{
    DEFAULT_INPUT_PER_USER, DEFAULT_INPUT_TOTAL, DEFAULT_KEEPALIVE, DEFAULT_STUCK_AFTER, Runtime,
    exit_with, main,
};
pub use sending::Sending;
pub use spectrum_backend_macros::{backend, on};
pub use spectrum_proto as proto;

pub use spectrum_proto::{ConnectionError, ParticipantFlag, StatusType};

/// What a backend needs in scope.
pub mod prelude {
    pub use crate::proto::{
        Buddies, Buddy, ConnectionError, ConversationMessage, Login, Logout, ParticipantFlag, Room,
        Status, StatusType, VCard,
    };
    pub use crate::{BackendCtx, Ctx, Error, Result, VCardReply, backend, on, reply, view};
}
