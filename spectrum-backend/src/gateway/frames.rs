//! Protocol messages with every field the reference plugins write, filled.
//!
//! Spectrum 2's C++ side rejects a message that lacks a required field and
//! reads an absent `Buddy.status` as "online", so the builders here set the
//! optional fields the way the reference plugins do.

use spectrum_proto::{self as proto, Payload, StatusType};

/// A PARTICIPANT_CHANGED for `nickname` in `room`, present, no flags.
pub(crate) fn participant(user: &str, room: &str, nickname: &str) -> proto::Participant {
    proto::Participant {
        user_name: user.to_owned(),
        room: room.to_owned(),
        nickname: nickname.to_owned(),
        flag: 0,
        status: StatusType::StatusOnline as i32,
        status_message: Some(String::new()),
        newname: Some(String::new()),
        icon_hash: None,
        alias: Some(String::new()),
    }
}

/// ROOM_NICKNAME_CHANGED: the user is now `nickname` in `room`.
pub(crate) fn room_nickname(user: &str, room: &str, nickname: &str) -> Payload {
    Payload::RoomNicknameChanged(proto::Room {
        user_name: user.to_owned(),
        nickname: nickname.to_owned(),
        room: room.to_owned(),
        password: Some(String::new()),
    })
}

/// ROOM_SUBJECT_CHANGED: `room`'s subject is `text`, set by `by`.
pub(crate) fn subject(user: &str, room: &str, text: &str, by: &str) -> Payload {
    Payload::RoomSubjectChanged(proto::ConversationMessage {
        user_name: user.to_owned(),
        buddy_name: room.to_owned(),
        message: text.to_owned(),
        nickname: Some(by.to_owned()),
        xhtml: Some(String::new()),
        timestamp: Some(String::new()),
        headline: Some(false),
        id: None,
        pm: Some(false),
        carbon: Some(false),
        attachment: Vec::new(),
    })
}
