//! proto2 `required` checks that prost does not make.
//!
//! prost fills an absent required field with its default, so a LOGIN without a
//! password would decode as one with an empty password. The main instance's
//! libprotobuf rejects such messages; we report them by name instead.

use bytes::{Buf, Bytes};
use prost::Message;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint};

use crate::DecodeError;

/// The fields of one message that the checks care about.
pub(crate) struct Schema {
    pub(crate) name: &'static str,
    /// `(field number, proto name)` of every required field.
    pub(crate) required: &'static [(u32, &'static str)],
    /// Embedded messages whose own required fields must be checked too.
    pub(crate) nested: &'static [(u32, &'static Schema)],
}

macro_rules! schema {
    ($id:ident, $name:literal, [$(($n:literal, $f:literal)),*] $(, nested [$(($nn:literal, $ns:ident)),*])?) => {
        pub(crate) static $id: Schema = Schema {
            name: $name,
            required: &[$(($n, $f)),*],
            nested: &[$($(($nn, &$ns)),*)?],
        };
    };
}

schema!(CONNECTED, "Connected", [(1, "user")]);
schema!(DISCONNECTED, "Disconnected", [(1, "user"), (2, "error")]);
schema!(
    LOGIN,
    "Login",
    [(1, "user"), (2, "legacyName"), (3, "password")]
);
schema!(LOGOUT, "Logout", [(1, "user"), (2, "legacyName")]);
schema!(BUDDY, "Buddy", [(1, "userName"), (2, "buddyName")]);
schema!(BUDDIES, "Buddies", [], nested[(1, BUDDY)]);
schema!(ATTACHMENT, "Attachment", [(1, "url")]);
schema!(
    CONVERSATION_MESSAGE,
    "ConversationMessage",
    [(1, "userName"), (2, "buddyName"), (3, "message")],
    nested[(11, ATTACHMENT)]
);
schema!(
    ROOM,
    "Room",
    [(1, "userName"), (2, "nickname"), (3, "room")]
);
schema!(ROOM_LIST, "RoomList", []);
schema!(
    PARTICIPANT,
    "Participant",
    [
        (1, "userName"),
        (2, "room"),
        (3, "nickname"),
        (4, "flag"),
        (5, "status")
    ]
);
schema!(
    VCARD,
    "VCard",
    [(1, "userName"), (2, "buddyName"), (3, "id")]
);
schema!(STATUS, "Status", [(1, "userName"), (3, "status")]);
schema!(
    STATS,
    "Stats",
    [(1, "res"), (2, "init_res"), (3, "shared"), (4, "id")]
);
schema!(BACKEND_CONFIG, "BackendConfig", [(1, "config")]);
schema!(API_VERSION, "APIVersion", [(1, "version")]);
schema!(WRAPPER, "WrapperMessage", [(1, "type")]);

/// Decodes `M` from `buf` and checks its required fields in the same pass.
///
/// The result is exactly that of prost's `M::decode` followed by
/// [`check_required`], which this replaces on the hot path (one walk over
/// the bytes instead of two): a prost error wins, since it stopped the
/// decode before any check; then the first problem the check meets in
/// field order; then the first missing required field.
pub(crate) fn decode_checked<M: Message + Default>(
    mut buf: Bytes,
    schema: &Schema,
) -> Result<M, DecodeError> {
    let malformed = |source| DecodeError::Malformed {
        message: schema.name,
        source,
    };
    let mut message = M::default();
    let mut seen: u64 = 0;
    let mut problem = None;
    // What `Message::merge` does, one field at a time, so that the field
    // numbers are seen as they go by. `merge_field` is the hook prost's
    // derived code decodes through (hidden from its docs, as `encode_raw`,
    // which the encoders use too): decoding and errors stay prost's own.
    let ctx = DecodeContext::default();
    while buf.has_remaining() {
        let (field, wire_type) = decode_key(&mut buf).map_err(malformed)?;
        if problem.is_none() {
            problem = check_field(field, wire_type, &buf, schema).err();
        }
        if field < 64 {
            seen |= 1 << field;
        }
        message
            .merge_field(field, wire_type, &mut buf, ctx.clone())
            .map_err(malformed)?;
    }
    match problem {
        Some(problem) => Err(problem),
        None => all_present(seen, schema).map(|()| message),
    }
}

/// What [`check_required`] finds wrong with one field whose key prost
/// accepted, `rest` being the bytes after the key.
fn check_field(
    field: u32,
    wire_type: WireType,
    rest: &[u8],
    schema: &Schema,
) -> Result<(), DecodeError> {
    match wire_type {
        WireType::StartGroup | WireType::EndGroup => Err(DecodeError::InvalidWire {
            message: schema.name,
            problem: "unsupported wire type",
        }),
        WireType::LengthDelimited => {
            let Some((_, nested)) = schema.nested.iter().find(|(n, _)| *n == field) else {
                return Ok(());
            };
            // Bytes that do not hold the announced length fail prost's
            // decode of this field, which then wins: nothing to check.
            let mut body = rest;
            let Ok(len) = decode_varint(&mut body) else {
                return Ok(());
            };
            match usize::try_from(len).ok().and_then(|len| body.get(..len)) {
                Some(body) => check_required(body, nested),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The first required field of `schema` not in `seen` (a bit per field
/// number), as an error.
fn all_present(seen: u64, schema: &Schema) -> Result<(), DecodeError> {
    match schema.required.iter().find(|(n, _)| seen & (1 << n) == 0) {
        Some((_, field)) => Err(DecodeError::MissingField {
            message: schema.name,
            field,
        }),
        None => Ok(()),
    }
}

/// Checks that every required field of `schema` (and of its checked nested
/// messages) is present in `buf`. Call it on bytes prost already accepted.
pub(crate) fn check_required(mut buf: &[u8], schema: &Schema) -> Result<(), DecodeError> {
    let malformed = |problem: &'static str| DecodeError::InvalidWire {
        message: schema.name,
        problem,
    };
    let mut seen: u64 = 0;
    while !buf.is_empty() {
        let key = read_varint(&mut buf).ok_or_else(|| malformed("truncated field key"))?;
        let field = u32::try_from(key >> 3).map_err(|_| malformed("field number too large"))?;
        match key & 7 {
            0 => {
                read_varint(&mut buf).ok_or_else(|| malformed("truncated varint"))?;
            }
            1 => buf = buf.get(8..).ok_or_else(|| malformed("truncated fixed64"))?,
            5 => buf = buf.get(4..).ok_or_else(|| malformed("truncated fixed32"))?,
            2 => {
                let len = read_varint(&mut buf).ok_or_else(|| malformed("truncated length"))?;
                let len = usize::try_from(len).map_err(|_| malformed("length too large"))?;
                let body = buf.get(..len).ok_or_else(|| malformed("truncated field"))?;
                if let Some((_, nested)) = schema.nested.iter().find(|(n, _)| *n == field) {
                    check_required(body, nested)?;
                }
                buf = &buf[len..];
            }
            _ => return Err(malformed("unsupported wire type")),
        }
        if field < 64 {
            seen |= 1 << field;
        }
    }
    all_present(seen, schema)
}

fn read_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_missing_field() {
        // Login with user (1) and legacyName (2) but no password (3).
        let bytes = [0x0a, 0x01, b'u', 0x12, 0x01, b'n'];
        assert_eq!(
            check_required(&bytes, &LOGIN),
            Err(DecodeError::MissingField {
                message: "Login",
                field: "password"
            })
        );
    }

    #[test]
    fn checks_nested_attachments() {
        // ConversationMessage with an Attachment lacking its url.
        let bytes = [
            0x0a, 0x01, b'u', 0x12, 0x01, b'b', 0x1a, 0x00, 0x5a, 0x02, 0x12, 0x00,
        ];
        assert_eq!(
            check_required(&bytes, &CONVERSATION_MESSAGE),
            Err(DecodeError::MissingField {
                message: "Attachment",
                field: "url"
            })
        );
    }

    #[test]
    fn empty_is_fine_when_nothing_is_required() {
        assert_eq!(check_required(&[], &ROOM_LIST), Ok(()));
    }
}
