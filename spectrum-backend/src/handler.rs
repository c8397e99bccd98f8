//! The handler-facing API: what `#[backend]` expands into, and what a
//! backend written without the macro implements by hand.

use std::future::Future;

use bytes::Bytes;
use spectrum_proto as proto;

use crate::{BackendCtx, Ctx, Error, Result};

/// Every event a backend can handle, as a plain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// [`crate::event::Login`].
    Login,
    /// [`crate::event::Logout`].
    Logout,
    /// [`crate::event::Exit`].
    Exit,
    /// [`crate::event::StatusChanged`].
    StatusChanged,
    /// [`crate::event::ConvMessage`].
    ConvMessage,
    /// [`crate::event::JoinRoom`].
    JoinRoom,
    /// [`crate::event::LeaveRoom`].
    LeaveRoom,
    /// [`crate::event::BuddyChanged`].
    BuddyChanged,
    /// [`crate::event::BuddyRemoved`].
    BuddyRemoved,
    /// [`crate::event::BuddyTyping`].
    BuddyTyping,
    /// [`crate::event::BuddyTyped`].
    BuddyTyped,
    /// [`crate::event::BuddyStoppedTyping`].
    BuddyStoppedTyping,
    /// [`crate::event::Attention`].
    Attention,
    /// [`crate::event::VCard`].
    VCard,
    /// [`crate::event::VCardUpdate`].
    VCardUpdate,
    /// [`crate::event::RoomSubjectChanged`].
    RoomSubjectChanged,
    /// [`crate::event::RawXml`].
    RawXml,
    /// [`crate::event::Buddies`].
    Buddies,
}

/// A backend: the type is one user's session.
///
/// `#[backend]` implements this trait from the tagged methods of an impl
/// block; it can also be implemented by hand:
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
///             Event::ConvMessage(m) => ctx.message(&m.buddy_name, &m.message).send().await,
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
    note = "the handler for `{E}` receives a `{P}`"
)]
pub trait PayloadOf<E: Incoming, P = <E as Incoming>::Payload>: Sized {
    /// Converts the decoded payload.
    fn from_payload(payload: E::Payload) -> Self;
}

macro_rules! payload_of {
    ($($event:ident: $payload:ty),* $(,)?) => {$(
        #[diagnostic::do_not_recommend]
        impl PayloadOf<crate::event::$event> for $payload {
            fn from_payload(payload: $payload) -> Self {
                payload
            }
        }
    )*};
}

payload_of! {
    Login: proto::Login, Logout: proto::Logout, StatusChanged: proto::Status,
    ConvMessage: proto::ConversationMessage, JoinRoom: proto::Room, LeaveRoom: proto::Room,
    BuddyChanged: proto::Buddy, BuddyRemoved: proto::Buddy, BuddyTyping: proto::Buddy,
    BuddyTyped: proto::Buddy, BuddyStoppedTyping: proto::Buddy,
    Attention: proto::ConversationMessage, VCard: proto::VCard, VCardUpdate: proto::VCard,
    RoomSubjectChanged: proto::ConversationMessage, RawXml: String, Buddies: proto::Buddies,
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

/// A vCard, returned by a [`crate::event::VCard`] handler. Empty fields are
/// fine: the XMPP client gets an empty vCard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VCardReply {
    /// The full name (FN).
    pub fullname: String,
    /// The nickname.
    pub nickname: String,
    /// The photo's raw image bytes.
    pub photo: Bytes,
}

impl VCardReply {
    /// An empty vCard.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the full name.
    pub fn fullname(mut self, v: impl Into<String>) -> Self {
        self.fullname = v.into();
        self
    }
    /// Sets the nickname.
    pub fn nickname(mut self, v: impl Into<String>) -> Self {
        self.nickname = v.into();
        self
    }
    /// Sets the photo.
    pub fn photo(mut self, v: impl Into<Bytes>) -> Self {
        self.photo = v.into();
        self
    }
}

/// An event for one user's session, decoded and routed by the runtime.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// See [`crate::event::StatusChanged`].
    StatusChanged(proto::Status),
    /// See [`crate::event::ConvMessage`].
    ConvMessage(proto::ConversationMessage),
    /// See [`crate::event::JoinRoom`].
    JoinRoom(proto::Room),
    /// See [`crate::event::LeaveRoom`].
    LeaveRoom(proto::Room),
    /// See [`crate::event::BuddyChanged`].
    BuddyChanged(proto::Buddy),
    /// See [`crate::event::BuddyRemoved`].
    BuddyRemoved(proto::Buddy),
    /// See [`crate::event::BuddyTyping`].
    BuddyTyping(proto::Buddy),
    /// See [`crate::event::BuddyTyped`].
    BuddyTyped(proto::Buddy),
    /// See [`crate::event::BuddyStoppedTyping`].
    BuddyStoppedTyping(proto::Buddy),
    /// See [`crate::event::Attention`].
    Attention(proto::ConversationMessage),
    /// See [`crate::event::VCard`].
    VCard(proto::VCard),
    /// See [`crate::event::VCardUpdate`].
    VCardUpdate(proto::VCard),
    /// See [`crate::event::RoomSubjectChanged`].
    RoomSubjectChanged(proto::ConversationMessage),
    /// See [`crate::event::RawXml`].
    RawXml(String),
    /// See [`crate::event::Buddies`].
    Buddies(proto::Buddies),
}

impl Event {
    /// The XMPP bare JID of the user the event is for. For RAW_XML, the bare
    /// part of the stanza's `from` attribute.
    pub fn user(&self) -> Option<&str> {
        match self {
            Event::StatusChanged(m) => Some(&m.user_name),
            Event::ConvMessage(m) | Event::Attention(m) | Event::RoomSubjectChanged(m) => {
                Some(&m.user_name)
            }
            Event::JoinRoom(m) | Event::LeaveRoom(m) => Some(&m.user_name),
            Event::BuddyChanged(m)
            | Event::BuddyRemoved(m)
            | Event::BuddyTyping(m)
            | Event::BuddyTyped(m)
            | Event::BuddyStoppedTyping(m) => Some(&m.user_name),
            Event::VCard(m) | Event::VCardUpdate(m) => Some(&m.user_name),
            Event::RawXml(xml) => crate::runtime::raw_xml_user(xml),
            Event::Buddies(m) => m.buddy.first().map(|b| b.user_name.as_str()),
        }
    }

    /// The event's name, as written in `#[on(..)]`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::StatusChanged(_) => "StatusChanged",
            Event::ConvMessage(_) => "ConvMessage",
            Event::JoinRoom(_) => "JoinRoom",
            Event::LeaveRoom(_) => "LeaveRoom",
            Event::BuddyChanged(_) => "BuddyChanged",
            Event::BuddyRemoved(_) => "BuddyRemoved",
            Event::BuddyTyping(_) => "BuddyTyping",
            Event::BuddyTyped(_) => "BuddyTyped",
            Event::BuddyStoppedTyping(_) => "BuddyStoppedTyping",
            Event::Attention(_) => "Attention",
            Event::VCard(_) => "VCard",
            Event::VCardUpdate(_) => "VCardUpdate",
            Event::RoomSubjectChanged(_) => "RoomSubjectChanged",
            Event::RawXml(_) => "RawXml",
            Event::Buddies(_) => "Buddies",
        }
    }
}

/// What happens to an event a backend has no handler for: a vCard request
/// is answered with an empty vCard (Spectrum 2 waits 40 s for an answer
/// otherwise); anything else is logged and dropped.
pub async fn unhandled(ctx: &Ctx, event: Event) -> Result<()> {
    match event {
        Event::VCard(req) => {
            ctx.send_vcard(req.id, &req.buddy_name, VCardReply::default())
                .await
        }
        other => {
            tracing::debug!(event = other.name(), "no handler for this event; ignored");
            Ok(())
        }
    }
}
