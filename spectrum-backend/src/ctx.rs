//! [`Ctx`]: a session's handle on the main instance, with one typed helper
//! per message a backend sends.

use std::sync::Arc;
use std::time::SystemTime;

use spectrum_proto::{self as proto, ConnectionError, ParticipantFlag, Payload, StatusType};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use bytes::Bytes;

use crate::backend_ctx::BackendCtx;
use crate::outbox::Outbox;
use crate::{Config, Result};

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
        Ctx {
            inner: Arc::new(Inner {
                user,
                legacy_name,
                backend,
                ended: CancellationToken::new(),
                connected: std::sync::atomic::AtomicBool::new(false),
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

    fn out(&self) -> &Outbox {
        self.inner.backend.outbox()
    }

    /// Queues frames to be written together, in the session's span whatever
    /// task calls it.
    async fn send_all(&self, payloads: &[Payload]) -> Result<()> {
        Ok(self
            .out()
            .send_all(payloads)
            .instrument(self.inner.span.clone())
            .await?)
    }

    /// Sends any payload the main instance handles. The typed helpers are
    /// preferred; this is the escape hatch.
    pub async fn send(&self, payload: Payload) -> Result<()> {
        self.send_all(std::slice::from_ref(&payload)).await
    }

    /// DISCONNECTED: the user's legacy session is gone. Spectrum 2 answers
    /// with LOGOUT, and for `NetworkError`/`OtherError` logs in again.
    pub async fn disconnect(
        &self,
        error: ConnectionError,
        message: impl Into<String>,
    ) -> Result<()> {
        self.send(Payload::Disconnected(proto::Disconnected {
            user: self.user().to_owned(),
            error: error as i32,
            message: Some(message.into()),
        }))
        .await
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

    /// BUDDY_CHANGED: a contact appeared or changed; finish with `.send()`.
    pub fn buddy(&self, name: impl Into<String>) -> BuddyBuilder<'_> {
        BuddyBuilder {
            ctx: self,
            buddy: new_buddy(self.user(), name.into()),
        }
    }

    /// Several BUDDY_CHANGED at once, written together (a roster after login).
    pub async fn buddies(&self, buddies: impl IntoIterator<Item = BuddyBuilder<'_>>) -> Result<()> {
        let payloads: Vec<Payload> = buddies
            .into_iter()
            .map(|b| Payload::BuddyChanged(b.buddy))
            .collect();
        self.send_all(&payloads).await
    }

    /// BUDDY_REMOVED: the contact is gone from the legacy roster.
    pub async fn buddy_removed(&self, name: impl Into<String>) -> Result<()> {
        self.send(Payload::BuddyRemoved(new_buddy(self.user(), name.into())))
            .await
    }

    /// AUTH_REQUEST: the contact asks to be added; the answer comes as
    /// BuddyChanged (accepted) or BuddyRemoved (rejected).
    pub async fn auth_request(&self, name: impl Into<String>) -> Result<()> {
        self.send(Payload::AuthRequest(proto::Buddy {
            user_name: self.user().to_owned(),
            buddy_name: name.into(),
            ..Default::default()
        }))
        .await
    }

    /// CONV_MESSAGE from a contact; finish with `.send()`.
    pub fn message(&self, buddy: impl Into<String>, text: impl Into<String>) -> MessageBuilder<'_> {
        MessageBuilder {
            ctx: self,
            msg: new_message(self.user(), buddy.into(), text.into()),
        }
    }

    /// CONV_MESSAGE in a room, from occupant `nickname` (echo the user's own
    /// room messages with their own nickname: the main does not).
    pub fn room_message(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> MessageBuilder<'_> {
        let mut b = self.message(room, text);
        b.msg.nickname = Some(nickname.into());
        b
    }

    /// CONV_MESSAGE: a private message from room occupant `nickname`.
    pub fn private_message(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> MessageBuilder<'_> {
        let mut b = self.room_message(room, nickname, text);
        b.msg.pm = Some(true);
        b
    }

    /// CONV_MESSAGE_ACK: the message with this `id` was delivered.
    pub async fn message_ack(&self, buddy: impl Into<String>, id: impl Into<String>) -> Result<()> {
        let mut msg = new_message(self.user(), buddy.into(), String::new());
        msg.id = Some(id.into());
        self.send(Payload::ConvMessageAck(msg)).await
    }

    /// BUDDY_TYPING: the contact is composing.
    pub async fn typing(&self, buddy: impl Into<String>) -> Result<()> {
        self.send(Payload::BuddyTyping(self.bare_buddy(buddy.into())))
            .await
    }

    /// BUDDY_TYPED: the contact paused composing.
    pub async fn typed(&self, buddy: impl Into<String>) -> Result<()> {
        self.send(Payload::BuddyTyped(self.bare_buddy(buddy.into())))
            .await
    }

    /// BUDDY_STOPPED_TYPING: the contact stopped composing.
    pub async fn stopped_typing(&self, buddy: impl Into<String>) -> Result<()> {
        self.send(Payload::BuddyStoppedTyping(self.bare_buddy(buddy.into())))
            .await
    }

    fn bare_buddy(&self, buddy: String) -> proto::Buddy {
        proto::Buddy {
            user_name: self.user().to_owned(),
            buddy_name: buddy,
            ..Default::default()
        }
    }

    /// ATTENTION: the contact "buzzes" the user.
    pub async fn attention(&self, buddy: impl Into<String>, text: impl Into<String>) -> Result<()> {
        let msg = proto::ConversationMessage {
            user_name: self.user().to_owned(),
            buddy_name: buddy.into(),
            message: text.into(),
            ..Default::default()
        };
        self.send(Payload::Attention(msg)).await
    }

    pub(crate) async fn send_vcard(&self, id: i32, buddy: &str, reply: VCardReply) -> Result<()> {
        self.send(vcard_payload(
            self.user().to_owned(),
            buddy.to_owned(),
            id,
            reply,
        ))
        .await
    }

    /// PARTICIPANT_CHANGED: an occupant of `room` appeared or changed; finish
    /// with `.send()`. Use [`ParticipantBuilder::left`] when they leave.
    pub fn participant(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
    ) -> ParticipantBuilder<'_> {
        ParticipantBuilder {
            ctx: self,
            p: new_participant(self.user(), room.into(), nickname.into()),
        }
    }

    /// The answer to JOIN_ROOM: every occupant, then the user with the ME
    /// flag and the nickname they asked for, last. Finish with `.send()`.
    ///
    /// `room` is echoed exactly as received (Spectrum 2 lower-cases it and
    /// matches it case-sensitively).
    pub fn room_joined(&self, join: &proto::Room) -> RoomJoin<'_> {
        RoomJoin {
            ctx: self,
            room: join.room.clone(),
            requested: join.nickname.clone(),
            actual: None,
            occupants: Vec::new(),
            own_flags: 0,
            subject: None,
        }
    }

    /// ROOM_SUBJECT_CHANGED: the room's subject; finish with `.send()`.
    pub fn subject(
        &self,
        room: impl Into<String>,
        subject: impl Into<String>,
    ) -> SubjectBuilder<'_> {
        let mut msg = new_message(self.user(), room.into(), subject.into());
        msg.nickname = Some(String::new());
        SubjectBuilder { ctx: self, msg }
    }

    /// ROOM_NICKNAME_CHANGED: the network gave the user another nickname in
    /// `room`. [`RoomJoin::nickname`] does this for joins.
    pub async fn room_nickname_changed(
        &self,
        room: impl Into<String>,
        nickname: impl Into<String>,
    ) -> Result<()> {
        self.send(Payload::RoomNicknameChanged(proto::Room {
            user_name: self.user().to_owned(),
            nickname: nickname.into(),
            room: room.into(),
            password: Some(String::new()),
        }))
        .await
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
    pub async fn raw_xml(&self, xml: impl Into<String>) -> Result<()> {
        self.send(Payload::RawXml(xml.into())).await
    }
}

fn new_buddy(user: &str, name: String) -> proto::Buddy {
    // Buddy.status is optional but an absent one reads as ONLINE: always set it.
    proto::Buddy {
        user_name: user.to_owned(),
        buddy_name: name,
        alias: Some(String::new()),
        group: Vec::new(),
        status: Some(StatusType::StatusOnline as i32),
        status_message: Some(String::new()),
        icon_hash: Some(String::new()),
        blocked: Some(false),
    }
}

fn new_message(user: &str, buddy: String, text: String) -> proto::ConversationMessage {
    // The reference plugin writes these optional fields even when empty.
    proto::ConversationMessage {
        user_name: user.to_owned(),
        buddy_name: buddy,
        message: text,
        nickname: Some(String::new()),
        xhtml: Some(String::new()),
        timestamp: Some(String::new()),
        headline: Some(false),
        id: None,
        pm: Some(false),
        carbon: Some(false),
        attachment: Vec::new(),
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

pub(crate) fn new_participant(user: &str, room: String, nickname: String) -> proto::Participant {
    proto::Participant {
        user_name: user.to_owned(),
        room,
        nickname,
        flag: 0,
        status: StatusType::StatusOnline as i32,
        status_message: Some(String::new()),
        newname: Some(String::new()),
        icon_hash: None,
        alias: Some(String::new()),
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

/// Builds a BUDDY_CHANGED; see [`Ctx::buddy`].
#[must_use = "a builder does nothing until `.send().await`"]
#[derive(Debug)]
pub struct BuddyBuilder<'a> {
    ctx: &'a Ctx,
    buddy: proto::Buddy,
}

impl BuddyBuilder<'_> {
    /// Display name; empty leaves the current alias unchanged.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.buddy.alias = Some(alias.into());
        self
    }
    /// Adds a roster group; none leaves the current groups unchanged.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.buddy.group.push(group.into());
        self
    }
    /// Presence (default online); `StatusNone` means offline.
    pub fn status(mut self, status: StatusType) -> Self {
        self.buddy.status = Some(status as i32);
        self
    }
    /// Status text.
    pub fn status_message(mut self, text: impl Into<String>) -> Self {
        self.buddy.status_message = Some(text.into());
        self
    }
    /// Avatar hash; empty clears it.
    pub fn icon_hash(mut self, hash: impl Into<String>) -> Self {
        self.buddy.icon_hash = Some(hash.into());
        self
    }
    /// Privacy-blocked flag.
    pub fn blocked(mut self, blocked: bool) -> Self {
        self.buddy.blocked = Some(blocked);
        self
    }
    /// The message as built.
    pub fn into_inner(self) -> proto::Buddy {
        self.buddy
    }
    /// Sends it.
    pub async fn send(self) -> Result<()> {
        self.ctx.send(Payload::BuddyChanged(self.buddy)).await
    }
}

/// Builds a CONV_MESSAGE; see [`Ctx::message`].
#[must_use = "a builder does nothing until `.send().await`"]
#[derive(Debug)]
pub struct MessageBuilder<'a> {
    ctx: &'a Ctx,
    msg: proto::ConversationMessage,
}

impl MessageBuilder<'_> {
    /// An XHTML-IM fragment, without the `<body>` wrapper.
    pub fn xhtml(mut self, xhtml: impl Into<String>) -> Self {
        self.msg.xhtml = Some(xhtml.into());
        self
    }
    /// When the message was sent, for delayed delivery (offline messages).
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.msg.timestamp = Some(iso_basic_utc(at));
        self
    }
    /// Deliver as a headline (if the user enabled headlines).
    pub fn headline(mut self) -> Self {
        self.msg.headline = Some(true);
        self
    }
    /// A copy of a message the user sent from another legacy client.
    pub fn carbon(mut self) -> Self {
        self.msg.carbon = Some(true);
        self
    }
    /// Attaches a file the web server serves at `url`.
    pub fn attachment(mut self, url: impl Into<String>, description: impl Into<String>) -> Self {
        self.msg.attachment.push(proto::Attachment {
            url: url.into(),
            mime_type: Some(String::new()),
            description: Some(description.into()),
        });
        self
    }
    /// The message as built.
    pub fn into_inner(self) -> proto::ConversationMessage {
        self.msg
    }
    /// Sends it.
    pub async fn send(self) -> Result<()> {
        self.ctx.send(Payload::ConvMessage(self.msg)).await
    }
}

/// Builds a ROOM_SUBJECT_CHANGED; see [`Ctx::subject`].
#[must_use = "a builder does nothing until `.send().await`"]
#[derive(Debug)]
pub struct SubjectBuilder<'a> {
    ctx: &'a Ctx,
    msg: proto::ConversationMessage,
}

impl SubjectBuilder<'_> {
    /// Who set the subject.
    pub fn by(mut self, nickname: impl Into<String>) -> Self {
        self.msg.nickname = Some(nickname.into());
        self
    }
    /// Sends it.
    pub async fn send(self) -> Result<()> {
        self.ctx.send(Payload::RoomSubjectChanged(self.msg)).await
    }
}

/// Builds a PARTICIPANT_CHANGED; see [`Ctx::participant`].
#[must_use = "a builder does nothing until `.send().await`"]
#[derive(Debug)]
pub struct ParticipantBuilder<'a> {
    ctx: &'a Ctx,
    p: proto::Participant,
}

impl ParticipantBuilder<'_> {
    /// Sets a flag bit (several combine).
    pub fn flag(mut self, flag: ParticipantFlag) -> Self {
        self.p.flag |= flag.bit();
        self
    }
    /// A room moderator.
    pub fn moderator(self) -> Self {
        self.flag(ParticipantFlag::Moderator)
    }
    /// Presence (default online).
    pub fn status(mut self, status: StatusType) -> Self {
        self.p.status = status as i32;
        self
    }
    /// Status text; for error flags, the error text.
    pub fn status_message(mut self, text: impl Into<String>) -> Self {
        self.p.status_message = Some(text.into());
        self
    }
    /// The occupant left the room.
    pub fn left(self) -> Self {
        self.status(StatusType::StatusNone)
    }
    /// The occupant is now called `newname`.
    pub fn renamed(mut self, newname: impl Into<String>) -> Self {
        self.p.newname = Some(newname.into());
        self
    }
    /// Avatar hash.
    pub fn icon_hash(mut self, hash: impl Into<String>) -> Self {
        self.p.icon_hash = Some(hash.into());
        self
    }
    /// Name shown instead of the nickname.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.p.alias = Some(alias.into());
        self
    }
    /// The message as built.
    pub fn into_inner(self) -> proto::Participant {
        self.p
    }
    /// Sends it.
    pub async fn send(self) -> Result<()> {
        self.ctx.send(Payload::ParticipantChanged(self.p)).await
    }
}

/// The answer to a JOIN_ROOM; see [`Ctx::room_joined`].
#[must_use = "a builder does nothing until `.send().await`"]
#[derive(Debug)]
pub struct RoomJoin<'a> {
    ctx: &'a Ctx,
    room: String,
    requested: String,
    actual: Option<String>,
    occupants: Vec<proto::Participant>,
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
        // The user's own entry is picked out in `send`, once `nickname` is known.
        let mut p = new_participant(self.ctx.user(), self.room.clone(), nickname.into());
        p.flag = flags;
        self.occupants.push(p);
        self
    }
    /// Several occupants (the user's own nickname among them is skipped: it
    /// is always sent last).
    pub fn occupants<N: Into<String>>(self, nicknames: impl IntoIterator<Item = N>) -> Self {
        nicknames.into_iter().fold(self, |join, n| join.occupant(n))
    }
    /// The network gave the user `actual` instead of the requested nickname:
    /// sends ROOM_NICKNAME_CHANGED first and the self-presence as a rename.
    pub fn nickname(mut self, actual: impl Into<String>) -> Self {
        let actual = actual.into();
        if actual != self.requested {
            self.actual = Some(actual);
        }
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
    fn own_nickname(&self) -> &str {
        self.actual.as_deref().unwrap_or(&self.requested)
    }
    /// Sends the occupants, the user last, then the subject, in one write.
    pub async fn send(self) -> Result<()> {
        let user = self.ctx.user();
        let mut frames = Vec::with_capacity(self.occupants.len() + 3);
        if let Some(actual) = &self.actual {
            frames.push(Payload::RoomNicknameChanged(proto::Room {
                user_name: user.to_owned(),
                nickname: actual.clone(),
                room: self.room.clone(),
                password: Some(String::new()),
            }));
        }
        // The user's own nickname in the network's list is the self entry,
        // sent last; its flags are kept.
        let own = self.own_nickname().to_owned();
        let mut own_flags = self.own_flags;
        for p in self.occupants {
            if p.nickname == own {
                own_flags |= p.flag;
            } else {
                frames.push(Payload::ParticipantChanged(p));
            }
        }
        let mut me = new_participant(user, self.room.clone(), self.requested.clone());
        me.flag = own_flags | ParticipantFlag::Me.bit();
        if let Some(actual) = self.actual {
            me.newname = Some(actual);
        }
        frames.push(Payload::ParticipantChanged(me));
        if let Some((subject, by)) = self.subject {
            let mut msg = new_message(user, self.room, subject);
            msg.nickname = Some(by);
            frames.push(Payload::RoomSubjectChanged(msg));
        }
        self.ctx.send_all(&frames).await
    }
}

/// `YYYYMMDDTHHMMSS` in UTC: the only timestamp form Spectrum 2 accepts.
pub(crate) fn iso_basic_utc(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_iso_basic_utc() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(iso_basic_utc(at(0)), "19700101T000000");
        assert_eq!(iso_basic_utc(at(951_782_400)), "20000229T000000");
        assert_eq!(iso_basic_utc(at(1_643_630_400)), "20220131T120000");
        assert_eq!(iso_basic_utc(at(4_102_444_799)), "20991231T235959");
    }
}
