//! [`Ctx`]: a session's handle on the main instance, with one typed helper
//! per message a backend sends.

use std::sync::Arc;
use std::time::SystemTime;

use spectrum_proto::{self as proto, ConnectionError, ParticipantFlag, Payload, StatusType};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use bytes::Bytes;

use crate::backend_ctx::BackendCtx;
use crate::events::Event;
use crate::gateway::rooms::{JoinAction, Occupant, Rooms};
use crate::outbox::Outbox;
use crate::prompt::Prompts;
use crate::reply::{self, Reply};
use crate::{Config, Error, Result, Sending};

/// Where the outbox logs each frame it writes (its module path).
const OUTBOX_LOG_TARGET: &str = "spectrum_backend::outbox";

/// A user's session context: who the user is, and how to reach the main
/// instance on their behalf.
///
/// Every helper fills in the user and every required field. `Ctx` is cheap
/// to clone and `Send + 'static`: give a clone to the session's own tasks
/// (a legacy network's read loop) so they can report events later, and stop
/// them when [`Ctx::ended`] resolves.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

struct Inner {
    user: String,
    legacy_name: String,
    backend: BackendCtx,
    ended: CancellationToken,
    connected: std::sync::atomic::AtomicBool,
    /// Ids of receipts the author sent or deferred, so that the runtime
    /// does not send them again when the message's handler returns.
    receipts_handled: std::sync::Mutex<Vec<String>>,
    /// The session's rooms: what JOIN_ROOM asked for and what the network
    /// answered; the runtime answers replayed joins from it.
    rooms: std::sync::Mutex<Rooms>,
    /// Rooms the user asked to join (lower-cased, as Spectrum 2 names them).
    requested_rooms: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Questions to the user waiting for an answer ([`Ctx::ask`]).
    prompts: Prompts,
    /// The session's span: frames sent from the session's own tasks are
    /// logged in it too.
    span: tracing::Span,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("user", &self.inner.user)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub(crate) fn new(
        user: String,
        legacy_name: String,
        backend: BackendCtx,
        span: tracing::Span,
    ) -> Self {
        let rooms = std::sync::Mutex::new(Rooms::new(user.clone()));
        Ctx {
            inner: Arc::new(Inner {
                user,
                legacy_name,
                backend,
                ended: CancellationToken::new(),
                connected: std::sync::atomic::AtomicBool::new(false),
                receipts_handled: std::sync::Mutex::new(Vec::new()),
                rooms,
                requested_rooms: std::sync::Mutex::default(),
                prompts: Prompts::default(),
                span,
            }),
        }
    }

    /// The user's XMPP bare JID, the key of every message about them.
    pub fn user(&self) -> &str {
        &self.inner.user
    }

    /// The user's legacy account name, as given at login.
    pub fn legacy_name(&self) -> &str {
        &self.inner.legacy_name
    }

    /// Backend-wide context: config, shared state, queries.
    pub fn backend(&self) -> &BackendCtx {
        &self.inner.backend
    }

    /// The session's span, which its handlers run in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// The transport config file.
    pub fn config(&self) -> &Config {
        self.inner.backend.config()
    }

    /// Shared state registered with [`crate::Runtime::with_state`].
    ///
    /// # Panics
    /// If no value of type `T` was registered: that is a programming error
    /// of the backend, found the first time the handler runs.
    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.inner.backend.state::<T>()
    }

    /// This user's state in the process's state database (see
    /// [`BackendCtx::store`]): values that survive a restart of the backend,
    /// such as a legacy network's session token.
    ///
    /// ```no_run
    /// # use spectrum_backend::prelude::*;
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let state = ctx.store()?;
    /// let token: Option<String> = state.get("token")?;
    /// state.set("token", "abc")?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "store")]
    pub fn store(
        &self,
    ) -> std::result::Result<crate::gateway::store::UserStore, crate::gateway::store::StoreError>
    {
        Ok(self.inner.backend.store()?.user(self.user()))
    }

    /// Resolves when the session has ended (logout, error, shutdown).
    pub async fn ended(&self) {
        self.inner.ended.cancelled().await;
    }

    /// Whether the session has ended; frames sent after that are ignored by
    /// the main instance.
    pub fn is_ended(&self) -> bool {
        self.inner.ended.is_cancelled()
    }

    pub(crate) fn end(&self) {
        self.inner.ended.cancel();
    }

    /// The session's room tracker ([`Rooms`]), for the time of `f`: report
    /// what the network says about rooms through it and send the frames it
    /// returns. The runtime feeds it JOIN_ROOM and LEAVE_ROOM, and answers
    /// the JOIN_ROOM that Spectrum 2 replays after CONNECTED from it,
    /// without calling the JoinRoom handler; [`Ctx::room_joined`] reports
    /// through it.
    ///
    /// ```no_run
    /// # use spectrum_backend::prelude::*;
    /// # use spectrum_backend::gateway::rooms::Occupant;
    /// # async fn f(ctx: &Ctx) -> Result<()> {
    /// // A line from the network said that dave joined #rust.
    /// let frames = ctx.with_rooms(|rooms| rooms.occupant("#rust", Occupant::new("dave")));
    /// ctx.send_all(frames).await
    /// # }
    /// ```
    pub fn with_rooms<T>(&self, f: impl FnOnce(&mut Rooms) -> T) -> T {
        let mut rooms = crate::locks::lock(&self.inner.rooms);
        f(&mut rooms)
    }

    /// Whether [`Ctx::before_handler`] has anything to do for `event`.
    pub(crate) fn tracks(event: &Event) -> bool {
        matches!(event, Event::JoinRoom(_) | Event::LeaveRoom(_))
    }

    /// What the runtime does with an event before the author's handler.
    /// A JOIN_ROOM for a room the tracker knows as joined is Spectrum 2's
    /// replay after CONNECTED: answered from the tracker, the handler is not
    /// called (`None`). The rooms the user asked for are noted, for
    /// [`view::Message::target`](crate::view::Message::target).
    pub(crate) async fn before_handler(&self, event: Event) -> Result<Option<Event>> {
        match &event {
            Event::JoinRoom(join) => {
                self.requested_rooms().insert(join.room.to_lowercase());
                let replay = self.with_rooms(|r| {
                    if !r.is_joined(&join.room) {
                        return None;
                    }
                    match r.join_requested(join) {
                        JoinAction::Replay(frames) => Some(frames),
                        _ => None,
                    }
                });
                if let Some(frames) = replay {
                    tracing::debug!(room = %join.room, "JOIN_ROOM replayed: answered from the room tracker");
                    self.write_all(&frames).await?;
                    return Ok(None);
                }
            }
            Event::LeaveRoom(leave) => {
                self.requested_rooms().remove(&leave.room.to_lowercase());
            }
            _ => {}
        }
        Ok(Some(event))
    }

    /// The room a LEAVE_ROOM leaves, to forget once its handler has run
    /// (the handler may still ask the tracker about it).
    pub(crate) fn leaving(event: &Event) -> Option<String> {
        match event {
            Event::LeaveRoom(leave) => Some(leave.room.clone()),
            _ => None,
        }
    }

    /// Forgets the room a LEAVE_ROOM left, if the handler did not.
    pub(crate) fn left(&self, room: Option<String>) {
        if let Some(room) = room {
            self.with_rooms(|r| r.left(&room));
        }
    }

    /// Whether the user asked to join `room` (JOIN_ROOM, no LEAVE_ROOM since).
    ///
    /// Asked of every message the user sends: a user in no room, or a
    /// name already in lower case (as Spectrum 2 sends them), costs no
    /// allocation.
    pub(crate) fn asked_to_join(&self, room: &str) -> bool {
        let rooms = self.requested_rooms();
        if rooms.is_empty() {
            return false;
        }
        if room
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        {
            rooms.contains(room)
        } else {
            rooms.contains(&room.to_lowercase())
        }
    }

    fn requested_rooms(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        crate::locks::lock(&self.inner.requested_rooms)
    }

    /// Takes over the receipt that the user's message `msg` asks for, if
    /// it asks for one: the runtime will not send it when the handler
    /// returns; send the returned value once the legacy network confirms
    /// delivery. For handlers that take the protocol message;
    /// [`view::Message::defer_receipt`](crate::view::Message::defer_receipt)
    /// is the same.
    pub fn defer_receipt(&self, msg: &proto::ConversationMessage) -> Option<reply::Receipt> {
        let id = msg.id.as_deref().filter(|id| !id.is_empty())?;
        self.receipt_handled(id);
        Some(reply::Receipt::new(msg.buddy_name.as_str(), id))
    }

    pub(crate) fn prompts(&self) -> &Prompts {
        &self.inner.prompts
    }

    /// The author took care of the receipt for message `id` (sent it, or
    /// will): the runtime must not send it when the handler returns.
    pub(crate) fn receipt_handled(&self, id: &str) {
        /// Receipts sent by a session's own tasks while no message with a
        /// receipt is handled pile up until the next one: bounded.
        const KEPT: usize = 64;
        let mut handled = crate::locks::lock(&self.inner.receipts_handled);
        if handled.len() >= KEPT {
            handled.remove(0);
        }
        handled.push(id.to_owned());
    }

    /// Whether the author took care of the receipt for `id`; forgets every
    /// recorded receipt (the handler that could record one has returned).
    pub(crate) fn take_receipt_handled(&self, id: &str) -> bool {
        let mut handled = crate::locks::lock(&self.inner.receipts_handled);
        let found = handled.iter().any(|h| h == id);
        handled.clear();
        found
    }

    fn out(&self) -> &Outbox {
        self.inner.backend.outbox()
    }

    /// Queues `payloads` to be written together if the outbox has room
    /// now (`None` if it is full), in the session's span whatever task
    /// calls it.
    pub(crate) fn try_write_all(&self, payloads: &[Payload]) -> Option<Result<()>> {
        let _span = tracing::enabled!(target: OUTBOX_LOG_TARGET, tracing::Level::DEBUG)
            .then(|| self.inner.span.enter());
        Some(self.out().try_send_all(payloads)?.map_err(Error::from))
    }

    /// Queues frames to be written together, in the session's span whatever
    /// task calls it; waits while the outbox is full.
    ///
    /// The wait is boxed: it is rare, and its future would otherwise make
    /// the future of every handler that sends anything larger.
    pub(crate) async fn write_all(&self, payloads: &[Payload]) -> Result<()> {
        match self.try_write_all(payloads) {
            Some(done) => done,
            None => Box::pin(self.wait_to_write_all(payloads)).await,
        }
    }

    /// [`Ctx::write_all`] past the first try: waits for room, then queues.
    pub(crate) async fn wait_to_write_all(&self, payloads: &[Payload]) -> Result<()> {
        let send = self.out().send_all(payloads);
        // The span only labels the outbox's `out` lines. Cloning, entering
        // and leaving it cost more than encoding a message, so it is done
        // only when those lines are written.
        if tracing::enabled!(target: OUTBOX_LOG_TARGET, tracing::Level::DEBUG) {
            Ok(send.instrument(self.inner.span.clone()).await?)
        } else {
            Ok(send.await?)
        }
    }

    /// Sends a reply ([`reply`]) addressed to this user; a
    /// [`Payload`] is sent as it is. Await it: it waits while the main
    /// instance does not read what the backend writes.
    pub fn send<R: Reply>(&self, reply: R) -> Sending<'_, R> {
        Sending::new(self, reply)
    }

    /// Sends replies together, in one write: a roster, a room's occupants,
    /// what one line of the legacy network meant.
    pub async fn send_all<R: Reply>(&self, replies: impl IntoIterator<Item = R>) -> Result<()> {
        let user = self.user();
        let payloads: Vec<Payload> = replies.into_iter().map(|r| r.into_payload(user)).collect();
        self.write_all(&payloads).await
    }

    /// Binds `reply` to this session: await it (or call `.send()`) to send.
    pub fn bind<R: Reply>(&self, reply: R) -> Bound<'_, R> {
        Bound { ctx: self, reply }
    }

    /// DISCONNECTED: the user's legacy session is gone. Spectrum 2 answers
    /// with LOGOUT, and for `NetworkError`/`OtherError` logs in again.
    pub fn disconnect(
        &self,
        error: ConnectionError,
        message: impl Into<String>,
    ) -> Bound<'_, reply::Disconnect> {
        self.bind(reply::Disconnect::new(error, message))
    }

    /// CONNECTED, once: the user is logged in to the legacy network.
    ///
    /// The runtime sends it when the Login handler returns `Ok`. Call it
    /// yourself inside the Login handler when the network may deliver
    /// events before the handler returns (start the read task after this
    /// call): Spectrum 2 drops messages for a user it does not yet consider
    /// connected. Later calls do nothing.
    pub async fn connected(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.inner.connected.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.send(Payload::Connected(proto::Connected {
            user: self.user().to_owned(),
        }))
        .await
    }

    /// BUDDY_CHANGED: a contact appeared or changed. Await it to send.
    pub fn buddy(&self, name: impl Into<String>) -> Bound<'_, reply::Buddy> {
        self.bind(reply::Buddy::new(name))
    }

    /// Several BUDDY_CHANGED at once, written together (a roster after login).
    pub async fn buddies(&self, buddies: impl IntoIterator<Item = reply::Buddy>) -> Result<()> {
        self.send_all(buddies).await
    }

    /// BUDDY_REMOVED: the contact is gone from the legacy roster.
    pub fn buddy_removed(&self, name: impl Into<String>) -> Bound<'_, reply::BuddyRemoved> {
        self.bind(reply::BuddyRemoved(name.into()))
    }

    /// AUTH_REQUEST: the contact asks to be added; the answer comes as
    /// BuddyChanged (accepted) or BuddyRemoved (rejected).
    pub fn auth_request(&self, name: impl Into<String>) -> Bound<'_, reply::AuthRequest> {
        self.bind(reply::AuthRequest(name.into()))
    }

    /// CONV_MESSAGE from a contact. Await it to send.
    pub fn message(
        &self,
        buddy: impl Into<String>,
        text: impl Into<String>,
    ) -> Bound<'_, reply::Message> {
        self.bind(reply::Message::new(buddy, text))
    }

    /// CONV_MESSAGE in a room, from occupant `nickname` (echo the user's own
    /// room messages with their own nickname: the main does not).
    pub fn room_message(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> Bound<'_, reply::Message> {
        self.bind(reply::Message::room(room, nickname, text))
    }

    /// CONV_MESSAGE: a private message from room occupant `nickname`.
    pub fn private_message(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> Bound<'_, reply::Message> {
        self.bind(reply::Message::private(room, nickname, text))
    }

    /// CONV_MESSAGE_ACK: the message with this `id` was delivered.
    ///
    /// The runtime sends it itself after a message handler succeeds (see
    /// [`crate::view::Message::defer_receipt`]); sending it from the handler
    /// too is harmless: the runtime then does not repeat it.
    pub fn message_ack(
        &self,
        buddy: impl Into<String>,
        id: impl Into<String>,
    ) -> Bound<'_, reply::Receipt> {
        let receipt = reply::Receipt::new(buddy, id);
        self.receipt_handled(receipt.id());
        self.bind(receipt)
    }

    /// BUDDY_TYPING: the contact is composing.
    pub fn typing(&self, buddy: impl Into<String>) -> Bound<'_, reply::Typing> {
        self.bind(reply::Typing::new(buddy, reply::TypingState::Typing))
    }

    /// BUDDY_TYPED: the contact paused composing.
    pub fn typed(&self, buddy: impl Into<String>) -> Bound<'_, reply::Typing> {
        self.bind(reply::Typing::new(buddy, reply::TypingState::Paused))
    }

    /// BUDDY_STOPPED_TYPING: the contact stopped composing.
    pub fn stopped_typing(&self, buddy: impl Into<String>) -> Bound<'_, reply::Typing> {
        self.bind(reply::Typing::new(buddy, reply::TypingState::Stopped))
    }

    /// ATTENTION: the contact "buzzes" the user.
    pub fn attention(
        &self,
        buddy: impl Into<String>,
        text: impl Into<String>,
    ) -> Bound<'_, reply::Attention> {
        self.bind(reply::Attention::new(buddy, text))
    }

    /// The answer to a vCard request; built now, sent when awaited.
    pub(crate) fn send_vcard(
        &self,
        id: i32,
        buddy: &str,
        reply: VCardReply,
    ) -> Sending<'_, Payload> {
        self.send(vcard_payload(
            self.user().to_owned(),
            buddy.to_owned(),
            id,
            reply,
        ))
    }

    /// PARTICIPANT_CHANGED: an occupant of `room` appeared or changed. Await
    /// it to send; use [`reply::Participant::left`] when they leave.
    pub fn participant(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
    ) -> Bound<'_, reply::Participant> {
        self.bind(reply::Participant::new(room, nickname))
    }

    /// The answer to JOIN_ROOM: every occupant, then the user with the ME
    /// flag and the nickname they asked for, last. Await it to send.
    ///
    /// `room` is echoed exactly as received (Spectrum 2 lower-cases it and
    /// matches it case-sensitively).
    pub fn room_joined(&self, join: &proto::Room) -> RoomJoin<'_> {
        RoomJoin {
            ctx: self,
            request: join.clone(),
            actual: None,
            occupants: Vec::new(),
            own_flags: 0,
            subject: None,
        }
    }

    /// ROOM_SUBJECT_CHANGED: the room's subject. Await it to send.
    pub fn subject(
        &self,
        room: impl Into<String>,
        subject: impl Into<String>,
    ) -> Bound<'_, reply::Subject> {
        self.bind(reply::Subject::new(room, subject).by(""))
    }

    /// ROOM_NICKNAME_CHANGED: the network gave the user another nickname in
    /// `room`. [`RoomJoin::nickname`] does this for joins.
    pub fn room_nickname_changed(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
    ) -> Bound<'_, reply::RoomNickname> {
        self.bind(reply::RoomNickname::new(room, nickname))
    }

    /// ROOM_LIST for this user: `(room, display name)` pairs.
    pub async fn room_list<R, N>(&self, rooms: impl IntoIterator<Item = (R, N)>) -> Result<()>
    where
        R: Into<String>,
        N: Into<String>,
    {
        self.inner
            .backend
            .send_room_list(Some(self.user().to_owned()), rooms)
            .await
    }

    /// RAW_XML: a stanza for the XMPP user (rawxml mode).
    pub fn raw_xml(&self, xml: impl Into<String>) -> Bound<'_, reply::RawXml> {
        self.bind(reply::RawXml(xml.into()))
    }
}

/// The VCARD answering request `id`.
pub(crate) fn vcard_payload(user: String, buddy: String, id: i32, reply: VCardReply) -> Payload {
    Payload::Vcard(proto::VCard {
        user_name: user,
        buddy_name: buddy,
        id,
        fullname: Some(reply.fullname),
        nickname: Some(reply.nickname),
        photo: Some(reply.photo),
    })
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

/// A reply bound to a session: await it to send it, or call `.send()`.
///
/// The setters of the reply are available on it, so that
/// `ctx.message(buddy, text).xhtml(html).await` reads as one sentence.
/// [`Bound::into_reply`] takes the reply back out, to store or batch it.
#[must_use = "a reply does nothing until it is awaited"]
#[derive(Debug)]
pub struct Bound<'a, R> {
    ctx: &'a Ctx,
    reply: R,
}

impl<'a, R: Reply + 'a> Bound<'a, R> {
    /// The reply, unbound.
    pub fn into_reply(self) -> R {
        self.reply
    }

    /// Changes the reply in place (for setters chosen at run time).
    pub fn map(self, f: impl FnOnce(R) -> R) -> Self {
        Bound {
            ctx: self.ctx,
            reply: f(self.reply),
        }
    }

    /// Sends it; the same as awaiting it.
    pub fn send(self) -> Sending<'a, R> {
        self.ctx.send(self.reply)
    }
}

impl<'a, R: Reply + 'a> std::future::IntoFuture for Bound<'a, R> {
    type Output = Result<()>;
    type IntoFuture = Sending<'a, R>;

    fn into_future(self) -> Self::IntoFuture {
        self.send()
    }
}

/// The setters of a reply type, on its bound form.
macro_rules! bound_setters {
    ($reply:ty { $($(#[doc = $doc:literal])* fn $name:ident($($arg:ident: $ty:ty),*);)* }) => {
        impl<'a> Bound<'a, $reply> {
            $(
                $(#[doc = $doc])*
                pub fn $name(self, $($arg: $ty),*) -> Self {
                    Bound { ctx: self.ctx, reply: self.reply.$name($($arg),*) }
                }
            )*
        }
    };
}

bound_setters!(reply::Message {
    /// See [`reply::Message::xhtml`].
    fn xhtml(xhtml: impl Into<String>);
    /// See [`reply::Message::timestamp`].
    fn timestamp(at: SystemTime);
    /// See [`reply::Message::headline`].
    fn headline();
    /// See [`reply::Message::carbon`].
    fn carbon();
    /// See [`reply::Message::attachment`].
    fn attachment(url: impl Into<String>, description: impl Into<String>);
});

bound_setters!(reply::Buddy {
    /// See [`reply::Buddy::alias`].
    fn alias(alias: impl Into<String>);
    /// See [`reply::Buddy::group`].
    fn group(group: impl Into<String>);
    /// See [`reply::Buddy::status`].
    fn status(status: StatusType);
    /// See [`reply::Buddy::status_message`].
    fn status_message(text: impl Into<String>);
    /// See [`reply::Buddy::icon_hash`].
    fn icon_hash(hash: impl Into<String>);
    /// See [`reply::Buddy::blocked`].
    fn blocked(blocked: bool);
});

bound_setters!(reply::Participant {
    /// See [`reply::Participant::flag`].
    fn flag(flag: ParticipantFlag);
    /// See [`reply::Participant::flags`].
    fn flags(bits: i32);
    /// See [`reply::Participant::moderator`].
    fn moderator();
    /// See [`reply::Participant::status`].
    fn status(status: StatusType);
    /// See [`reply::Participant::status_message`].
    fn status_message(text: impl Into<String>);
    /// See [`reply::Participant::left`].
    fn left();
    /// See [`reply::Participant::renamed`].
    fn renamed(newname: impl Into<String>);
    /// See [`reply::Participant::icon_hash`].
    fn icon_hash(hash: impl Into<String>);
    /// See [`reply::Participant::alias`].
    fn alias(alias: impl Into<String>);
});

bound_setters!(reply::Subject {
    /// See [`reply::Subject::by`].
    fn by(nickname: impl Into<String>);
});

/// `into_inner`: the protocol message as built, addressed to the session's
/// user (for code that keeps protocol structs; [`Bound::into_reply`] keeps
/// the reply).
macro_rules! bound_into_inner {
    ($($reply:ty => $proto:ty;)*) => {$(
        impl Bound<'_, $reply> {
            /// The protocol message as built, addressed to the session's user.
            pub fn into_inner(self) -> $proto {
                self.reply.into_proto(self.ctx.user())
            }
        }
    )*};
}

bound_into_inner! {
    reply::Message => proto::ConversationMessage;
    reply::Buddy => proto::Buddy;
    reply::Participant => proto::Participant;
}

/// CONV_MESSAGE bound to a session; see [`Ctx::message`].
pub type MessageBuilder<'a> = Bound<'a, reply::Message>;
/// BUDDY_CHANGED bound to a session; see [`Ctx::buddy`].
pub type BuddyBuilder<'a> = Bound<'a, reply::Buddy>;
/// PARTICIPANT_CHANGED bound to a session; see [`Ctx::participant`].
pub type ParticipantBuilder<'a> = Bound<'a, reply::Participant>;
/// ROOM_SUBJECT_CHANGED bound to a session; see [`Ctx::subject`].
pub type SubjectBuilder<'a> = Bound<'a, reply::Subject>;

/// The answer to a JOIN_ROOM; see [`Ctx::room_joined`]. Await it to send.
///
/// Thin over the session's room tracker ([`Rooms::joined`]): the first
/// answer for a room is the whole list, a later one (after a reconnect)
/// only what changed, and a replayed JOIN_ROOM is answered from it. Report
/// the room's later news through [`Ctx::with_rooms`] too (occupants coming
/// and going, renames, the subject): a replay answers with what the tracker
/// knows.
#[must_use = "a reply does nothing until it is awaited"]
#[derive(Debug)]
pub struct RoomJoin<'a> {
    ctx: &'a Ctx,
    request: proto::Room,
    actual: Option<String>,
    occupants: Vec<Occupant>,
    own_flags: i32,
    subject: Option<(String, String)>,
}

impl RoomJoin<'_> {
    /// Another occupant, present with default flags.
    pub fn occupant(self, nickname: impl Into<String>) -> Self {
        self.occupant_with(nickname, 0)
    }
    /// Another occupant with flag bits (e.g. `ParticipantFlag::Moderator.bit()`).
    pub fn occupant_with(mut self, nickname: impl Into<String>, flags: i32) -> Self {
        let mut o = Occupant::new(nickname);
        o.flags = crate::gateway::rooms::Flags::from_bits(flags);
        self.occupants.push(o);
        self
    }
    /// Several occupants (the user's own nickname among them gives the
    /// user's flags: the user is always sent last).
    pub fn occupants<N: Into<String>>(self, nicknames: impl IntoIterator<Item = N>) -> Self {
        nicknames.into_iter().fold(self, |join, n| join.occupant(n))
    }
    /// The network gave the user `actual` instead of the requested nickname:
    /// sends ROOM_NICKNAME_CHANGED first and the self-presence as a rename.
    pub fn nickname(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }
    /// The user is a moderator of the room.
    pub fn moderator(mut self) -> Self {
        self.own_flags |= ParticipantFlag::Moderator.bit();
        self
    }
    /// The room's subject, sent after the occupants.
    pub fn subject(mut self, subject: impl Into<String>, set_by: impl Into<String>) -> Self {
        self.subject = Some((subject.into(), set_by.into()));
        self
    }
    /// Sends the occupants, the user last, then the subject, in one write;
    /// the same as awaiting it.
    pub async fn send(self) -> Result<()> {
        let RoomJoin {
            ctx,
            request,
            actual,
            mut occupants,
            own_flags,
            subject,
        } = self;
        let own = actual.unwrap_or_else(|| request.nickname.clone());
        if own_flags != 0 {
            let mut me = Occupant::new(own.clone());
            me.flags = crate::gateway::rooms::Flags::from_bits(own_flags);
            occupants.push(me);
        }
        let frames = ctx.with_rooms(|rooms| {
            // A join answered without the runtime seeing the JOIN_ROOM (a
            // hand-written backend, a test) is a join all the same.
            if rooms.name(&request.room).is_none() {
                rooms.join_requested(&request);
            }
            if let Some((text, by)) = &subject {
                rooms.subject_changed(&request.room, text, by);
            }
            rooms.joined(&request.room, &own, merge_own(occupants, &own))
        });
        ctx.write_all(&frames).await
    }
}

/// The user's entries in an occupant list, merged into one (flags or'ed):
/// the tracker takes the user's flags from their entry.
fn merge_own(occupants: Vec<Occupant>, own: &str) -> Vec<Occupant> {
    let mut flags = crate::gateway::rooms::Flags::NONE;
    let mut out: Vec<Occupant> = Vec::with_capacity(occupants.len());
    let mut seen = false;
    for o in occupants {
        if o.nickname == own {
            seen = true;
            flags = crate::gateway::rooms::Flags::from_bits(flags.bits() | o.flags.bits());
        } else {
            out.push(o);
        }
    }
    if seen {
        let mut me = Occupant::new(own);
        me.flags = flags;
        out.push(me);
    }
    out
}

impl<'a> std::future::IntoFuture for RoomJoin<'a> {
    type Output = Result<()>;
    type IntoFuture = futures_util::future::BoxFuture<'a, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    /// The target asked about is the one the outbox logs under: its module
    /// path, which ends every path of its items.
    #[test]
    fn outbox_log_target_is_the_outbox_module() {
        assert_eq!(
            std::any::type_name::<crate::outbox::Outbox>(),
            format!("{}::Outbox", super::OUTBOX_LOG_TARGET)
        );
    }
}
