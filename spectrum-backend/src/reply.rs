//! Replies as owned values: one type per message a backend sends about a
//! user, built without a [`Ctx`](crate::Ctx).
//!
//! A reply does not know its user until it is sent: build it where the
//! legacy network's input is parsed (a read loop, a parser, a state
//! tracker), store it, batch it, then hand it to
//! [`Ctx::send`](crate::Ctx::send) or [`Ctx::send_all`](crate::Ctx::send_all),
//! which address it to the session's user. [`Reply::into_payload`] does the
//! same for code that holds only the user's name.
//!
//! ```
//! use spectrum_backend::reply::{Message, Participant, Reply};
//!
//! // In a network read loop: no session needed.
//! let batch = vec![
//!     Participant::new("#rust", "bob").moderator().into_payload("alice@example.org"),
//!     Message::room("#rust", "bob", "hi").into_payload("alice@example.org"),
//! ];
//! assert_eq!(batch.len(), 2);
//! ```
//!
//! Every reply fills in the optional fields the way Spectrum 2's reference
//! backends do: its C++ side reads an absent `Buddy.status` as "online" and
//! rejects messages that lack a required field.

use std::time::SystemTime;

use spectrum_proto::{self as proto, ConnectionError, ParticipantFlag, Payload, StatusType};

/// A message a backend sends about one user: it becomes a [`Payload`] once
/// the user is known.
pub trait Reply: Send {
    /// The frame for `user` (the XMPP bare JID).
    fn into_payload(self, user: &str) -> Payload;
}

/// A payload is sent as it is: it already names its user (what the
/// [`gateway`](crate::gateway) building blocks return).
impl Reply for Payload {
    fn into_payload(self, _user: &str) -> Payload {
        self
    }
}

/// CONV_MESSAGE: a message from a contact, a room, or a room occupant.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Message {
    msg: proto::ConversationMessage,
}

impl Message {
    /// A message from contact `buddy`.
    pub fn new(buddy: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            msg: conversation(buddy.into(), text.into()),
        }
    }

    /// A message in `room` from occupant `nickname`. Echo the user's own room
    /// messages with their own nickname: the main instance does not.
    pub fn room(
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        let mut m = Message::new(room, text);
        m.msg.nickname = Some(nickname.into());
        m
    }

    /// A private message from occupant `nickname` of `room`.
    pub fn private(
        room: impl Into<String>,
        nickname: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        let mut m = Message::room(room, nickname, text);
        m.msg.pm = Some(true);
        m
    }

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

    /// The message as built, for `user`.
    pub fn into_proto(self, user: &str) -> proto::ConversationMessage {
        with_user(self.msg, user)
    }
}

impl Reply for Message {
    fn into_payload(self, user: &str) -> Payload {
        Payload::ConvMessage(self.into_proto(user))
    }
}

/// ATTENTION: the contact "buzzes" the user.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Attention {
    msg: proto::ConversationMessage,
}

impl Attention {
    /// `buddy` buzzes the user, with an optional `text`.
    pub fn new(buddy: impl Into<String>, text: impl Into<String>) -> Self {
        Attention {
            msg: proto::ConversationMessage {
                buddy_name: buddy.into(),
                message: text.into(),
                ..Default::default()
            },
        }
    }
}

impl Reply for Attention {
    fn into_payload(self, user: &str) -> Payload {
        Payload::Attention(with_user(self.msg, user))
    }
}

/// CONV_MESSAGE_ACK: the user's message with this id reached the legacy
/// network; Spectrum 2 turns it into the receipt the XMPP client asked for.
///
/// The runtime sends it by itself when a handler of a message that asks for
/// one succeeds; see [`crate::view::Message::defer_receipt`] to send it
/// later.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Receipt {
    buddy: String,
    id: String,
}

impl Receipt {
    /// The receipt for message `id` the user sent to `buddy` (as the
    /// message named it: a contact, a room, or `room/nick`).
    pub fn new(buddy: impl Into<String>, id: impl Into<String>) -> Self {
        Receipt {
            buddy: buddy.into(),
            id: id.into(),
        }
    }

    /// Whom the acknowledged message was for.
    pub fn buddy(&self) -> &str {
        &self.buddy
    }

    /// The message's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Reply for Receipt {
    fn into_payload(self, user: &str) -> Payload {
        let mut msg = conversation(self.buddy, String::new());
        msg.id = Some(self.id);
        Payload::ConvMessageAck(with_user(msg, user))
    }
}

/// BUDDY_CHANGED: a contact appeared or changed.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Buddy {
    buddy: proto::Buddy,
}

impl Buddy {
    /// Contact `name`, online, with nothing else changed.
    pub fn new(name: impl Into<String>) -> Self {
        Buddy {
            buddy: buddy(name.into()),
        }
    }

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

    /// The message as built, for `user`.
    pub fn into_proto(mut self, user: &str) -> proto::Buddy {
        user.clone_into(&mut self.buddy.user_name);
        self.buddy
    }
}

impl Reply for Buddy {
    fn into_payload(self, user: &str) -> Payload {
        Payload::BuddyChanged(self.into_proto(user))
    }
}

/// BUDDY_REMOVED: the contact is gone from the legacy roster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct BuddyRemoved(pub String);

impl Reply for BuddyRemoved {
    fn into_payload(self, user: &str) -> Payload {
        let mut b = buddy(self.0);
        user.clone_into(&mut b.user_name);
        Payload::BuddyRemoved(b)
    }
}

/// AUTH_REQUEST: the contact asks to be added; the user's answer comes as
/// BUDDY_CHANGED (accepted) or BUDDY_REMOVED (rejected).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct AuthRequest(pub String);

impl Reply for AuthRequest {
    fn into_payload(self, user: &str) -> Payload {
        Payload::AuthRequest(bare_buddy(user, self.0))
    }
}

/// What a contact's typing notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingState {
    /// BUDDY_TYPING: composing.
    Typing,
    /// BUDDY_TYPED: paused composing.
    Paused,
    /// BUDDY_STOPPED_TYPING: stopped composing.
    Stopped,
}

/// BUDDY_TYPING, BUDDY_TYPED or BUDDY_STOPPED_TYPING from a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Typing {
    /// The contact.
    pub buddy: String,
    /// What they are doing.
    pub state: TypingState,
}

impl Typing {
    /// `buddy` is in `state`.
    pub fn new(buddy: impl Into<String>, state: TypingState) -> Self {
        Typing {
            buddy: buddy.into(),
            state,
        }
    }
}

impl Reply for Typing {
    fn into_payload(self, user: &str) -> Payload {
        let b = bare_buddy(user, self.buddy);
        match self.state {
            TypingState::Typing => Payload::BuddyTyping(b),
            TypingState::Paused => Payload::BuddyTyped(b),
            TypingState::Stopped => Payload::BuddyStoppedTyping(b),
        }
    }
}

/// PARTICIPANT_CHANGED: an occupant of a room appeared, changed or left.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Participant {
    p: proto::Participant,
}

impl Participant {
    /// Occupant `nickname` of `room`, present, without flags.
    pub fn new(room: impl Into<String>, nickname: impl Into<String>) -> Self {
        Participant {
            p: proto::Participant {
                user_name: String::new(),
                room: room.into(),
                nickname: nickname.into(),
                flag: 0,
                status: StatusType::StatusOnline as i32,
                status_message: Some(String::new()),
                newname: Some(String::new()),
                icon_hash: None,
                alias: Some(String::new()),
            },
        }
    }

    /// Sets a flag bit (several combine).
    pub fn flag(mut self, flag: ParticipantFlag) -> Self {
        self.p.flag |= flag.bit();
        self
    }

    /// Sets the flag bits as a whole (`ParticipantFlag::bit` values or'ed).
    pub fn flags(mut self, bits: i32) -> Self {
        self.p.flag = bits;
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

    /// The occupant's nickname.
    pub fn nickname(&self) -> &str {
        &self.p.nickname
    }

    /// The message as built, for `user`.
    pub fn into_proto(mut self, user: &str) -> proto::Participant {
        user.clone_into(&mut self.p.user_name);
        self.p
    }
}

impl Reply for Participant {
    fn into_payload(self, user: &str) -> Payload {
        Payload::ParticipantChanged(self.into_proto(user))
    }
}

/// ROOM_SUBJECT_CHANGED: a room's subject.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Subject {
    msg: proto::ConversationMessage,
}

impl Subject {
    /// `room`'s subject is `text`.
    pub fn new(room: impl Into<String>, text: impl Into<String>) -> Self {
        Subject {
            msg: conversation(room.into(), text.into()),
        }
    }

    /// Who set the subject.
    pub fn by(mut self, nickname: impl Into<String>) -> Self {
        self.msg.nickname = Some(nickname.into());
        self
    }
}

impl Reply for Subject {
    fn into_payload(self, user: &str) -> Payload {
        Payload::RoomSubjectChanged(with_user(self.msg, user))
    }
}

/// ROOM_NICKNAME_CHANGED: the network gave the user another nickname in a
/// room.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct RoomNickname {
    /// The room.
    pub room: String,
    /// The user's nickname there now.
    pub nickname: String,
}

impl RoomNickname {
    /// The user is now `nickname` in `room`.
    pub fn new(room: impl Into<String>, nickname: impl Into<String>) -> Self {
        RoomNickname {
            room: room.into(),
            nickname: nickname.into(),
        }
    }
}

impl Reply for RoomNickname {
    fn into_payload(self, user: &str) -> Payload {
        Payload::RoomNicknameChanged(proto::Room {
            user_name: user.to_owned(),
            nickname: self.nickname,
            room: self.room,
            password: Some(String::new()),
        })
    }
}

/// DISCONNECTED: the user's legacy session is gone. Spectrum 2 answers with
/// LOGOUT, and for `NetworkError`/`OtherError` logs in again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct Disconnect {
    /// Why, as Spectrum 2 understands it.
    pub code: ConnectionError,
    /// What the user is told.
    pub message: String,
}

impl Disconnect {
    /// The session ended with `code`, told as `message`.
    pub fn new(code: ConnectionError, message: impl Into<String>) -> Self {
        Disconnect {
            code,
            message: message.into(),
        }
    }
}

impl Reply for Disconnect {
    fn into_payload(self, user: &str) -> Payload {
        Payload::Disconnected(proto::Disconnected {
            user: user.to_owned(),
            error: self.code as i32,
            message: Some(self.message),
        })
    }
}

/// RAW_XML: a stanza for the XMPP user (rawxml mode); it names its user in
/// its `to` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reply does nothing until it is sent"]
pub struct RawXml(pub String);

impl Reply for RawXml {
    fn into_payload(self, _user: &str) -> Payload {
        Payload::RawXml(self.0)
    }
}

fn with_user(mut msg: proto::ConversationMessage, user: &str) -> proto::ConversationMessage {
    user.clone_into(&mut msg.user_name);
    msg
}

fn conversation(buddy: String, text: String) -> proto::ConversationMessage {
    // The reference plugin writes these optional fields even when empty.
    proto::ConversationMessage {
        user_name: String::new(),
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

fn buddy(name: String) -> proto::Buddy {
    // Buddy.status is optional but an absent one reads as ONLINE: always set it.
    proto::Buddy {
        user_name: String::new(),
        buddy_name: name,
        alias: Some(String::new()),
        group: Vec::new(),
        status: Some(StatusType::StatusOnline as i32),
        status_message: Some(String::new()),
        icon_hash: Some(String::new()),
        blocked: Some(false),
    }
}

fn bare_buddy(user: &str, name: String) -> proto::Buddy {
    proto::Buddy {
        user_name: user.to_owned(),
        buddy_name: name,
        ..Default::default()
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

    #[test]
    fn replies_are_addressed_when_sent() {
        let Payload::ConvMessage(m) = Message::private("#r", "bob", "hi").into_payload("u@x")
        else {
            panic!("not a message")
        };
        assert_eq!(
            (m.user_name.as_str(), m.nickname.as_deref(), m.pm),
            ("u@x", Some("bob"), Some(true))
        );
        let Payload::BuddyChanged(b) = Buddy::new("c").into_payload("u@x") else {
            panic!("not a buddy")
        };
        assert_eq!(b.status, Some(StatusType::StatusOnline as i32));
        let Payload::ConvMessageAck(a) = Receipt::new("c", "7").into_payload("u@x") else {
            panic!("not an ack")
        };
        assert_eq!((a.user_name.as_str(), a.id.as_deref()), ("u@x", Some("7")));
    }
}
