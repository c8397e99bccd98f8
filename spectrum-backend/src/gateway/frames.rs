//! The few protocol messages the building blocks build as protocol structs
//! (to keep and compare them), on the one construction in
//! [`crate::reply`].

use spectrum_proto::{self as proto, Payload};

use crate::reply::{self, Reply as _};

/// A PARTICIPANT_CHANGED for `nickname` in `room`, present, no flags.
pub(crate) fn participant(user: &str, room: &str, nickname: &str) -> proto::Participant {
    reply::Participant::new(room, nickname).into_proto(user)
}

/// ROOM_NICKNAME_CHANGED: the user is now `nickname` in `room`.
pub(crate) fn room_nickname(user: &str, room: &str, nickname: &str) -> Payload {
    reply::RoomNickname::new(room, nickname).into_payload(user)
}

/// ROOM_SUBJECT_CHANGED: `room`'s subject is `text`, set by `by`.
pub(crate) fn subject(user: &str, room: &str, text: &str, by: &str) -> Payload {
    reply::Subject::new(room, text).by(by).into_payload(user)
}
