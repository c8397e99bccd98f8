//! The handler-facing API: what `#[backend]` expands into, and what a
//! backend written without the macro implements by hand.

use std::future::Future;

use futures_util::future::Either;

use spectrum_proto as proto;

use crate::events::{Event, EventKind};
use crate::{BackendCtx, Ctx, Error, Result, VCardReply};

/// A backend: the type is one user's session.
///
/// `#[backend]` implements this trait from the tagged methods of an impl
/// block; it can also be implemented by hand. A hand-written `handle` sends
/// the receipts messages ask for itself ([`Ctx::message_ack`]); the
/// replayed JOIN_ROOM is answered by the runtime either way.
///
/// ```
/// use spectrum_backend::prelude::*;
/// use spectrum_backend::{Backend, Event, EventKind};
///
/// struct Echo;
///
/// impl Backend for Echo {
///     const EVENTS: &'static [EventKind] = &[EventKind::Login, EventKind::ConvMessage];
///
///     async fn login(_ctx: &Ctx, _login: Login) -> Result<Self> {
///         Ok(Echo)
///     }
///
///     async fn handle(&mut self, ctx: &Ctx, event: Event) -> Result<()> {
///         match event {
///             Event::ConvMessage(m) => ctx.message(&m.buddy_name, &m.message).await,
///             other => spectrum_backend::unhandled(ctx, other).await,
///         }
///     }
/// }
/// ```
pub trait Backend: Sized + Send + 'static {
    /// The events this backend handles. The runtime derives the
    /// BACKEND_CONFIG features from it (rooms → `muc`, RawXml → `rawxml`,
    /// Buddies → `send_buddies_on_login`).
    const EVENTS: &'static [EventKind];

    /// Logs a user in: `Ok` sends CONNECTED, `Err` sends DISCONNECTED with
    /// the error's code. Events for the user that arrive meanwhile wait.
    fn login(ctx: &Ctx, login: proto::Login) -> impl Future<Output = Result<Self>> + Send;

    /// Handles one event of this user's session. Events of one user are
    /// handled one at a time, in order; an `Err` ends the session.
    fn handle(&mut self, ctx: &Ctx, event: Event) -> impl Future<Output = Result<()>> + Send {
        crate::unhandled(ctx, event)
    }

    /// Ends the session: on LOGOUT, at shutdown, or after a handler error.
    fn logout(self, ctx: &Ctx, logout: proto::Logout) -> impl Future<Output = Result<()>> + Send {
        let _ = (ctx, logout);
        async move {
            drop(self);
            Ok(())
        }
    }

    /// Runs once when the main instance says EXIT or goes away, after every
    /// session has logged out.
    fn exit(backend: &BackendCtx) -> impl Future<Output = Result<()>> + Send {
        let _ = backend;
        async { Ok(()) }
    }
}

/// An event that `#[on(..)]` can handle, and what it delivers.
///
/// Implemented by the markers in [`crate::event`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is sent by backends, not received; it cannot be handled with `#[on(..)]`",
    label = "not an event a backend receives",
    note = "see the docs of `{Self}` for the reply helper to call instead"
)]
pub trait Incoming {
    /// The message the handler receives.
    type Payload;
    /// What the handler produces besides success: `()`, or the vCard.
    type Output;
    /// What the runtime keeps from the request to answer it.
    type Meta: Send;
    /// This event as a value.
    const KIND: EventKind;
    /// Takes this event's payload out of `event`, or gives the event back.
    // The event is handed back by value on the hot path; boxing it would cost
    // an allocation per event.
    #[allow(clippy::result_large_err)]
    fn extract(event: Event) -> std::result::Result<(Self::Payload, Self::Meta), Event>;
    /// Sends what the protocol expects after the handler returned `output`.
    fn finish(
        ctx: &Ctx,
        meta: Self::Meta,
        output: Self::Output,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The message parameter of a handler for event `E`: `P`, the event's
/// [`Incoming::Payload`].
///
/// `P` is a parameter (always the default) only so that a wrong message type
/// is reported with the type to write instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the payload type of event `{E}`",
    label = "expected `{P}`",
    note = "the handler for `{E}` receives a `{P}` (or its view in `spectrum_backend::view`, where there is one)"
)]
pub trait PayloadOf<E: Incoming, P = <E as Incoming>::Payload>: Sized {
    /// Converts the decoded payload, for the session of `ctx`.
    fn from_payload(payload: E::Payload, ctx: &Ctx) -> Self;
}

/// What a handler may return for an event whose success value is `T`:
/// `T` itself, or `Result<T, E>`; `E` is then converted with
/// [`FromHandlerError`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for this handler",
    label = "expected `{T}` or `Result<{T}, E>`"
)]
pub trait HandlerOutput<T> {
    /// The handler's error type.
    type Error;
    /// Splits the return value into success and error.
    fn into_result(self) -> std::result::Result<T, Self::Error>;
}

#[diagnostic::do_not_recommend]
impl<T> HandlerOutput<T> for T {
    type Error = Error;
    fn into_result(self) -> Result<T> {
        Ok(self)
    }
}

#[diagnostic::do_not_recommend]
impl<T, E> HandlerOutput<T> for std::result::Result<T, E> {
    type Error = E;
    fn into_result(self) -> Self {
        self
    }
}

/// The error type `E` of a handler returning `Result<_, E>`: anything that
/// converts into [`Error`] (`impl From<E> for Error`).
#[diagnostic::on_unimplemented(
    message = "`{E}` cannot be converted into `spectrum_backend::Error`",
    label = "the error type of this handler",
    note = "implement `From<{E}> for spectrum_backend::Error`, or convert with `.map_err(..)`"
)]
pub trait FromHandlerError<E> {
    /// Converts the handler's error.
    fn from_handler_error(error: E) -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: Into<Error>> FromHandlerError<E> for Error {
    fn from_handler_error(error: E) -> Self {
        error.into()
    }
}

/// What happens to an event a backend has no handler for: a vCard request
/// is answered with an empty vCard (Spectrum 2 waits 40 s for an answer
/// otherwise); anything else is logged and dropped.
///
/// The answer is built (and the event logged) when this is called; it is
/// sent when the future is awaited. Not an `async fn`, so that its future,
/// which sits in every `#[backend]`'s handler future, does not keep the
/// event beside the answer.
pub fn unhandled(ctx: &Ctx, event: Event) -> impl Future<Output = Result<()>> + Send + '_ {
    match event {
        Event::VCard(req) => {
            Either::Left(ctx.send_vcard(req.id, &req.buddy_name, VCardReply::default()))
        }
        other => {
            tracing::debug!(event = other.name(), "no handler for this event; ignored");
            Either::Right(std::future::ready(Ok(())))
        }
    }
}
