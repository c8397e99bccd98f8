//! Event markers: one type per event name usable in `#[on(..)]`.
//!
//! `#[on(ConvMessage)]` refers to [`event::ConvMessage`](ConvMessage). The
//! markers carry, in their trait impls, the payload each event delivers, so a
//! typo gets rustc's own "a struct with a similar name exists" suggestion and
//! a wrong payload type is reported at the parameter.
//!
//! Markers of messages that only backends send ([`Connected`],
//! [`ParticipantChanged`]...) exist too, so that `#[on(Connected)]` is
//! refused with the reply helper to call instead.

use spectrum_proto as proto;

use crate::ctx::{Ctx, VCardReply};
use crate::events::{Event, EventKind};
use crate::handler::{Incoming, PayloadOf};

macro_rules! incoming {
    ($($(#[doc = $doc:literal])* $name:ident($payload:ty) => $variant:ident;)*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Incoming for $name {
            type Payload = $payload;
            type Output = ();
            type Meta = ();
            const KIND: EventKind = EventKind::$name;
            fn extract(event: Event) -> Result<($payload, ()), Event> {
                match event {
                    Event::$variant(p) => Ok((p, ())),
                    other => Err(other),
                }
            }
            async fn finish(_ctx: &Ctx, _meta: (), _output: ()) -> crate::Result<()> {
                Ok(())
            }
        }
    )*};
}

incoming! {
    /// STATUS_CHANGED: the XMPP user's presence changed. May arrive before
    /// the login completes; never means "offline".
    StatusChanged(proto::Status) => StatusChanged;
    /// CONV_MESSAGE: the user sent a message to a contact, a room, or a room
    /// occupant (`room/nick`). A non-empty `id` asks for
    /// [`Ctx::message_ack`].
    ConvMessage(proto::ConversationMessage) => ConvMessage;
    /// JOIN_ROOM: join a room and answer with its occupants, the user
    /// included ([`Ctx::room_joined`]). Sent again after every Connected.
    JoinRoom(proto::Room) => JoinRoom;
    /// LEAVE_ROOM: leave the room.
    LeaveRoom(proto::Room) => LeaveRoom;
    /// BUDDY_CHANGED: the user added, accepted or renamed a contact.
    BuddyChanged(proto::Buddy) => BuddyChanged;
    /// BUDDY_REMOVED: the user removed a contact or rejected a request.
    BuddyRemoved(proto::Buddy) => BuddyRemoved;
    /// BUDDY_TYPING: the user is composing a message to the contact.
    BuddyTyping(proto::Buddy) => BuddyTyping;
    /// BUDDY_TYPED: the user paused composing.
    BuddyTyped(proto::Buddy) => BuddyTyped;
    /// BUDDY_STOPPED_TYPING: the user stopped composing.
    BuddyStoppedTyping(proto::Buddy) => BuddyStoppedTyping;
    /// ATTENTION: the user "buzzed" a contact.
    Attention(proto::ConversationMessage) => Attention;
    /// VCARD with a photo: the user published their own vCard (`id` is 0).
    VCardUpdate(proto::VCard) => VCardUpdate;
    /// ROOM_SUBJECT_CHANGED: the user set a room's subject.
    RoomSubjectChanged(proto::ConversationMessage) => RoomSubjectChanged;
    /// RAW_XML: a stanza for the legacy network (only with the rawxml feature).
    RawXml(String) => RawXml;
    /// BUDDIES: the roster the main instance stores, right after LOGIN.
    /// Handling it turns on `features.send_buddies_on_login`.
    Buddies(proto::Buddies) => Buddies;
}

/// VCARD without a photo: the user asked for a contact's vCard.
///
/// The handler returns the vCard ([`VCardReply`]); the runtime answers with
/// the request's `id`, which Spectrum 2 matches alone. Unhandled requests get
/// an empty vCard so the XMPP client is not left waiting.
#[derive(Debug, Clone, Copy)]
pub struct VCard;

impl Incoming for VCard {
    type Payload = proto::VCard;
    type Output = VCardReply;
    type Meta = (i32, String);
    const KIND: EventKind = EventKind::VCard;
    fn extract(event: Event) -> Result<(proto::VCard, (i32, String)), Event> {
        match event {
            Event::VCard(p) => {
                let meta = (p.id, p.buddy_name.clone());
                Ok((p, meta))
            }
            other => Err(other),
        }
    }
    async fn finish(ctx: &Ctx, (id, buddy): (i32, String), reply: VCardReply) -> crate::Result<()> {
        ctx.send_vcard(id, &buddy, reply).await
    }
}

macro_rules! lifecycle {
    ($($(#[doc = $doc:literal])* $name:ident($payload:ty);)*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Incoming for $name {
            type Payload = $payload;
            type Output = ();
            type Meta = ();
            const KIND: EventKind = EventKind::$name;
            fn extract(event: Event) -> Result<($payload, ()), Event> {
                Err(event)
            }
            async fn finish(_ctx: &Ctx, _meta: (), _output: ()) -> crate::Result<()> {
                Ok(())
            }
        }
    )*};
}

lifecycle! {
    /// LOGIN: constructs the session. Required in every backend. Returning
    /// `Ok(session)` sends Connected; an error sends Disconnected with its code.
    Login(proto::Login);
    /// LOGOUT: consumes the session (the handler takes `self`). Also run by
    /// the runtime at shutdown.
    Logout(proto::Logout);
    /// EXIT: the main instance is done with this process. Runs once, after
    /// every session has logged out; takes no `self`.
    Exit(());
}

macro_rules! outgoing {
    ($($(#[doc = $doc:literal])* $name:ident;)*) => {$(
        $(#[doc = $doc])*
        ///
        /// Only backends send this message: it cannot be handled with
        /// `#[on(..)]`.
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
    )*};
}

outgoing! {
    /// CONNECTED: sent by the runtime when the Login handler returns `Ok`.
    Connected;
    /// DISCONNECTED: [`Ctx::disconnect`], or return an error.
    Disconnected;
    /// PING's answer, sent by the runtime.
    Pong;
    /// PARTICIPANT_CHANGED: [`Ctx::participant`] and [`Ctx::room_joined`].
    ParticipantChanged;
    /// ROOM_NICKNAME_CHANGED: [`Ctx::room_nickname_changed`].
    RoomNicknameChanged;
    /// AUTH_REQUEST: [`Ctx::auth_request`].
    AuthRequest;
    /// STATS: sent by the runtime after every PONG.
    Stats;
    /// BACKEND_CONFIG: derived from the handlers, sent by the runtime.
    BackendConfig;
    /// ROOM_LIST: [`Ctx::room_list`].
    RoomList;
    /// CONV_MESSAGE_ACK: [`Ctx::message_ack`].
    ConvMessageAck;
    /// QUERY: [`crate::BackendCtx::query`]; the answer is its return value.
    Query;
    /// PING: answered by the runtime, never by a handler.
    Ping;
}

macro_rules! payload_of {
    ($($event:ident: $payload:ty),* $(,)?) => {$(
        #[diagnostic::do_not_recommend]
        impl PayloadOf<$event> for $payload {
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
