//! Invariants checked on arbitrary input, shared by the cargo-fuzz targets
//! (`fuzz/`) and the bounded proptest harness of the normal test suite.
//!
//! Each function panics when an invariant is broken; on any input, it must
//! return normally.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::{FrameCodec, FrameError, Payload, WrapperMessage};

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

/// Typed decoding of one wrapper: never panics, and a decodable payload
/// round-trips through `to_wrapper` unchanged.
pub fn typed(wrapper: WrapperMessage) {
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
