//! Invariants checked on arbitrary input, shared by the cargo-fuzz targets
//! (`fuzz/`) and the bounded proptest harness of the normal test suite.
//!
//! Each function panics when an invariant is broken; on any input, it must
//! return normally.

use bytes::{Bytes, BytesMut};
use prost::Message;
use tokio_util::codec::Decoder;

use crate::validate::{self, Schema, check_required};
use crate::{DecodeError, FrameCodec, FrameError, Payload, WrapperMessage};

/// The frame limit used while fuzzing: small, so that an allocation sized
/// by an untrusted length prefix would stand out.
pub const FUZZ_MAX_FRAME: usize = 64 * 1024;

/// Feeds `data` to the frame decoder in chunks cut at `cuts` (offsets, any
/// order, out-of-range ones ignored), then checks that:
/// * decoding never fails as a stream (only per-frame errors);
/// * the frames are the same as when `data` arrives in one piece;
/// * every decoded wrapper survives typed decoding without panicking, and a
///   payload that decodes re-encodes to a wrapper that decodes to itself.
pub fn frame_stream(data: &[u8], cuts: &[usize]) -> Vec<Result<WrapperMessage, FrameError>> {
    let whole = decode_chunks(data, &[]);
    let chunked = decode_chunks(data, cuts);
    assert_eq!(whole, chunked, "chunking changed the decoded frames");
    for wrapper in whole.iter().flatten() {
        typed(wrapper.clone());
    }
    whole
}

/// Typed decoding of one wrapper: never panics, a decodable payload
/// round-trips through `to_wrapper` unchanged, and the one-pass decoders
/// agree with the two-pass reference on its payload bytes ([`one_pass`]).
pub fn typed(wrapper: WrapperMessage) {
    one_pass(wrapper.payload.as_deref().unwrap_or_default());
    if let Ok(payload) = Payload::from_wrapper(wrapper) {
        let again = Payload::from_wrapper(payload.to_wrapper());
        assert_eq!(
            again.as_ref(),
            Ok(&payload),
            "re-encoding changed the payload"
        );
    }
}

fn decode_chunks(data: &[u8], cuts: &[usize]) -> Vec<Result<WrapperMessage, FrameError>> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < data.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(data.len());
    let mut codec = FrameCodec::with_max_frame_length(FUZZ_MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut start = 0;
    for end in cuts {
        buf.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                // A length beyond any real frame ends the stream, at the same
                // frame however the bytes were cut.
                Err(e) if e.get_ref().is_some_and(|e| e.is::<crate::CorruptStream>()) => {
                    return frames;
                }
                Err(e) => panic!("the decoder failed as a stream: {e}"),
            }
        }
    }
    frames
}

/// The decoders that read a body in one pass give exactly what prost's
/// decode followed by the separate required-field check gives, error for
/// error, on `bytes` taken as a frame body (a wrapper) and as each payload
/// message.
pub fn one_pass(bytes: &[u8]) {
    let body = Bytes::copy_from_slice(bytes);
    let reference = if bytes.is_empty() {
        Err(DecodeError::EmptyFrame)
    } else {
        two_pass::<WrapperMessage>(bytes, &validate::WRAPPER)
    };
    assert_eq!(
        crate::codec::decode_wrapper(body.clone()),
        reference,
        "wrapper decoding differs"
    );
    macro_rules! each {
        ($($ty:ident $schema:ident),*) => {$(
            assert_eq!(
                validate::decode_checked::<crate::$ty>(body.clone(), &validate::$schema),
                two_pass::<crate::$ty>(bytes, &validate::$schema),
                concat!(stringify!($ty), " decoding differs"),
            );
        )*};
    }
    each!(
        Connected CONNECTED, Disconnected DISCONNECTED, Login LOGIN, Logout LOGOUT,
        Buddy BUDDY, Buddies BUDDIES, ConversationMessage CONVERSATION_MESSAGE, Room ROOM,
        RoomList ROOM_LIST, Participant PARTICIPANT, VCard VCARD, Status STATUS, Stats STATS,
        BackendConfig BACKEND_CONFIG, ApiVersion API_VERSION
    );
}

/// prost's decode, then the required-field check over the same bytes: how
/// every message was decoded before the one-pass decoder.
fn two_pass<M: Message + Default>(bytes: &[u8], schema: &Schema) -> Result<M, DecodeError> {
    let message = M::decode(bytes).map_err(|source| DecodeError::Malformed {
        message: schema.name,
        source,
    })?;
    check_required(bytes, schema)?;
    Ok(message)
}
