//! Events as meaning: views over the protocol messages a handler receives.
//!
//! A handler may take the view instead of the protocol message: write
//! `msg: view::Message` where `msg: ConversationMessage` would go. The view
//! decodes the wire's conventions (empty strings for "none", `room/nick`
//! for a room occupant, numbers for presence); the protocol message stays
//! reachable through [`Message::raw`] or `Deref`.
//!
//! ```
//! use spectrum_backend::prelude::*;
//! use spectrum_backend::view::{self, Target};
//!
//! struct Chat;
//!
//! #[backend]
//! impl Chat {
//!     #[on(Login)]
//!     async fn login(_login: Login) -> Self {
//!         Chat
//!     }
//!
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
//!         match msg.target() {
//!             Target::Contact(name) => ctx.message(name, msg.text()).await,
//!             Target::Room(room) => ctx.room_message(room, "echo", msg.text()).await,
//!             Target::Occupant { room, nickname } => {
//!                 ctx.private_message(room, nickname, msg.text()).await
//!             }
//!         }
//!         // A receipt, when the user's client asked for one, goes out now.
//!     }
//! }
//! ```

use std::time::{Duration, SystemTime};

use spectrum_proto::{self as proto, StatusType};

use crate::ctx::Ctx;
use crate::reply::Receipt;

/// Whom the user's message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A contact of the legacy roster (or any legacy name).
    Contact(&'a str),
    /// A room the user asked to join: a groupchat message.
    Room(&'a str),
    /// An occupant of a room the user asked to join: a private message
    /// (Spectrum 2 names it `room/nick`).
    Occupant {
        /// The room.
        room: &'a str,
        /// The occupant's nickname.
        nickname: &'a str,
    },
}

/// CONV_MESSAGE, as meaning: the user sent a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    raw: proto::ConversationMessage,
    /// Where `buddy_name` splits into room and nickname, or the whole name
    /// is a room: decided when the event arrived, from the session's rooms.
    kind: TargetKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    Contact,
    Room,
    Occupant(usize),
}

impl Message {
    /// The view of `raw`, knowing the rooms of the session of `ctx`.
    pub fn new(raw: proto::ConversationMessage, ctx: &Ctx) -> Self {
        let name = raw.buddy_name.as_str();
        let kind = if ctx.asked_to_join(name) {
            TargetKind::Room
        } else {
            // The room part of a JID never holds a '/': the first one ends it.
            match name.find('/') {
                Some(at) if ctx.asked_to_join(&name[..at]) => TargetKind::Occupant(at),
                _ => TargetKind::Contact,
            }
        };
        Message { raw, kind }
    }

    /// Whom the message is for. A name is a room (or `room/nick` an
    /// occupant of one) when the user asked to join that room (a JOIN_ROOM
    /// not followed by LEAVE_ROOM).
    pub fn target(&self) -> Target<'_> {
        let name = self.raw.buddy_name.as_str();
        match self.kind {
            TargetKind::Contact => Target::Contact(name),
            TargetKind::Room => Target::Room(name),
            TargetKind::Occupant(at) => Target::Occupant {
                room: &name[..at],
                nickname: &name[at + 1..],
            },
        }
    }

    /// The conversation's legacy name as the wire gives it: a contact, a
    /// room, or `room/nick`.
    pub fn to(&self) -> &str {
        &self.raw.buddy_name
    }

    /// The plain text.
    pub fn text(&self) -> &str {
        &self.raw.message
    }

    /// The XHTML-IM body, if the user's client sent one.
    pub fn xhtml(&self) -> Option<&str> {
        non_empty(self.raw.xhtml.as_deref())
    }

    /// The id of the receipt the user's client asked for, if it did.
    pub fn receipt_id(&self) -> Option<&str> {
        non_empty(self.raw.id.as_deref())
    }

    /// Takes over the receipt the user's client asked for: the runtime will
    /// not send it when the handler returns. Send the returned value
    /// (`ctx.send(receipt)`) once the legacy network confirms delivery.
    pub fn defer_receipt(&self, ctx: &Ctx) -> Option<Receipt> {
        ctx.defer_receipt(&self.raw)
    }

    /// When the message was written, if the wire says (an ISO 8601 basic
    /// UTC timestamp, `YYYYMMDDTHHMMSS`); `None` means now.
    pub fn timestamp(&self) -> Option<SystemTime> {
        parse_iso_basic_utc(non_empty(self.raw.timestamp.as_deref())?)
    }

    /// The protocol message.
    pub fn raw(&self) -> &proto::ConversationMessage {
        &self.raw
    }

    /// The protocol message, owned.
    pub fn into_raw(self) -> proto::ConversationMessage {
        self.raw
    }
}

impl std::ops::Deref for Message {
    type Target = proto::ConversationMessage;
    fn deref(&self) -> &proto::ConversationMessage {
        &self.raw
    }
}

/// STATUS_CHANGED, as meaning: the user's presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    raw: proto::Status,
}

impl Presence {
    /// The view of `raw`.
    pub fn new(raw: proto::Status) -> Self {
        Presence { raw }
    }

    /// The presence. A value this crate does not know reads as online
    /// (what Spectrum 2's own decoding does).
    pub fn status(&self) -> StatusType {
        StatusType::try_from(self.raw.status).unwrap_or(StatusType::StatusOnline)
    }

    /// The status text, if any.
    pub fn message(&self) -> Option<&str> {
        non_empty(self.raw.status_message.as_deref())
    }

    /// The protocol message.
    pub fn raw(&self) -> &proto::Status {
        &self.raw
    }

    /// The protocol message, owned.
    pub fn into_raw(self) -> proto::Status {
        self.raw
    }
}

impl std::ops::Deref for Presence {
    type Target = proto::Status;
    fn deref(&self) -> &proto::Status {
        &self.raw
    }
}

/// JOIN_ROOM or LEAVE_ROOM, as meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    raw: proto::Room,
}

impl Join {
    /// The view of `raw`.
    pub fn new(raw: proto::Room) -> Self {
        Join { raw }
    }

    /// The room, as Spectrum 2 names it (lower-cased); echo it exactly.
    pub fn room(&self) -> &str {
        &self.raw.room
    }

    /// The nickname the user asked for.
    pub fn nickname(&self) -> &str {
        &self.raw.nickname
    }

    /// The room password, if one was given.
    pub fn password(&self) -> Option<&str> {
        non_empty(self.raw.password.as_deref())
    }

    /// The protocol message.
    pub fn raw(&self) -> &proto::Room {
        &self.raw
    }

    /// The protocol message, owned.
    pub fn into_raw(self) -> proto::Room {
        self.raw
    }
}

impl std::ops::Deref for Join {
    type Target = proto::Room;
    fn deref(&self) -> &proto::Room {
        &self.raw
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// `YYYYMMDDTHHMMSS[.fff][Z]` in UTC, the form Spectrum 2 uses.
fn parse_iso_basic_utc(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let s = s.split('.').next()?;
    let (date, time) = s.split_once('T')?;
    if date.len() != 8
        || time.len() != 6
        || !(date.bytes().chain(time.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let num = |t: &str| t.parse::<i64>().ok();
    let (year, month, day) = (num(&date[..4])?, num(&date[4..6])?, num(&date[6..])?);
    let (h, m, sec) = (num(&time[..2])?, num(&time[2..4])?, num(&time[4..])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Civil date to days since 1970-01-01 (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_back() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        for secs in [0, 951_782_400, 1_643_630_400, 4_102_444_799] {
            let text = crate::reply::iso_basic_utc(at(secs));
            assert_eq!(parse_iso_basic_utc(&text), Some(at(secs)), "{text}");
        }
        assert_eq!(
            parse_iso_basic_utc("20220131T120000.250Z"),
            Some(at(1_643_630_400))
        );
        for bad in [
            "",
            "2022-01-31T12:00:00",
            "20221331T000000",
            "1643630400",
            "2022013T1200000",
        ] {
            assert_eq!(parse_iso_basic_utc(bad), None, "{bad}");
        }
    }
}
