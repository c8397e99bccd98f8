use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use tokio_util::codec::{Decoder, Encoder};

use crate::validate::{WRAPPER, decode_checked};
use crate::{DecodeError, EncodeError, FrameError, TypeNumber, WrapperMessage};

/// Size of the length prefix: an unsigned 32-bit big-endian integer.
pub const HEADER_LEN: usize = 4;

/// Default maximum body length: 16 MiB.
///
/// Spectrum 2 itself sets no limit. The largest real frames are VCARD replies
/// carrying a photo and BUDDIES rosters; 16 MiB admits a photo several times
/// larger than any XMPP server will store, while bounding what a corrupt
/// length prefix can make us buffer.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 16 * 1024 * 1024;

/// A length prefix above this (or above the maximum frame length, if that is
/// larger) is not a frame but a stream out of step: 1 GiB.
///
/// Real frames are at most a few MiB (a vCard photo, a large roster). A frame
/// between the maximum frame length and this ceiling is skipped and the
/// stream goes on; a prefix beyond it (`0xFFFFFFFF`, or text where a prefix
/// should be) would make a reader skip gigabytes while looking alive, so the
/// codec fails the stream with [`CorruptStream`] instead.
pub const CORRUPT_FRAME_LENGTH: usize = 1 << 30;

/// The stream cannot be read any further: a length prefix beyond
/// [`CORRUPT_FRAME_LENGTH`]. Returned inside the codec's `std::io::Error`
/// (kind `InvalidData`); find it with `get_ref()` and `downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "corrupt stream: a length prefix of {len} bytes (0x{len:08x}) is beyond any real frame (ceiling {ceiling} bytes)"
)]
pub struct CorruptStream {
    /// The announced body length.
    pub len: usize,
    /// The ceiling it exceeded.
    pub ceiling: usize,
}

/// The Spectrum 2 framing: a 4-byte big-endian body length, then the body, a
/// serialized [`WrapperMessage`].
///
/// Decoding yields one `Result` per frame: a frame that is not a valid
/// wrapper, or that is longer than the maximum, is reported as a
/// [`FrameError`] *item* and the stream continues with the next frame. An
/// oversize frame is skipped as its bytes arrive, never buffered. The codec's
/// own `Error` is reserved for I/O failures and for a [`CorruptStream`].
///
/// ```
/// use bytes::BytesMut;
/// use spectrum_proto::{FrameCodec, MessageType, WrapperMessage};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new();
/// let mut buf = BytesMut::new();
/// codec.encode(WrapperMessage::new(MessageType::Ping, None), &mut buf).unwrap();
/// assert_eq!(&buf[..], [0, 0, 0, 2, 0x08, 0x09]);
/// let frame = codec.decode(&mut buf).unwrap().unwrap().unwrap();
/// assert_eq!(frame.kind(), Some(MessageType::Ping));
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_length: usize,
    /// Bytes of an oversize frame still to discard.
    skipping: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameCodec {
    /// A codec with the [`DEFAULT_MAX_FRAME_LENGTH`].
    pub fn new() -> Self {
        Self::with_max_frame_length(DEFAULT_MAX_FRAME_LENGTH)
    }

    /// A codec that rejects bodies longer than `max` bytes, both ways.
    pub fn with_max_frame_length(max: usize) -> Self {
        FrameCodec {
            max_frame_length: max,
            skipping: 0,
        }
    }

    /// The configured maximum body length.
    pub fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }
}

impl FrameCodec {
    /// Counts the PINGs among the frames of `src` from `from` on, without
    /// decoding or consuming anything; returns the count and where the
    /// first frame not looked at yet starts (beyond `src` while an oversize
    /// frame is still arriving). `from` must be where a frame starts, as
    /// the codec sees the stream: 0 for a buffer the codec has not started
    /// on, or a position returned by the previous call, moved back by the
    /// bytes decoded since.
    ///
    /// A reader answers these ahead of the frames in front of them (a PING
    /// names no user, so no user's order changes), and then skips as many
    /// PINGs when it decodes them. Only the form every writer sends (a body
    /// of exactly type PING) is counted; any other PING is answered when
    /// it is decoded. A corrupt length prefix ends the scan where it is.
    pub fn pings_ahead(&self, src: &[u8], from: usize) -> (usize, usize) {
        const PING: [u8; 2] = [TYPE_KEY, crate::MessageType::Ping as u8];
        let ceiling = CORRUPT_FRAME_LENGTH.max(self.max_frame_length);
        let (mut pings, mut at) = (0, from);
        while let Some(header) = src
            .get(at..)
            .and_then(|rest| rest.first_chunk::<HEADER_LEN>())
        {
            let len = u32::from_be_bytes(*header) as usize;
            if len > ceiling {
                break;
            }
            if len == PING.len() {
                match src.get(at + HEADER_LEN..at + HEADER_LEN + len) {
                    Some(body) if body == PING => pings += 1,
                    Some(_) => {}
                    // Not all here yet: looked at again after the next read.
                    None => break,
                }
            }
            at += HEADER_LEN + len;
        }
        (pings, at)
    }
}

impl Decoder for FrameCodec {
    type Item = Result<WrapperMessage, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if self.skipping > 0 {
            let n = self.skipping.min(src.len());
            src.advance(n);
            self.skipping -= n;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        let Some(header) = src.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        let ceiling = CORRUPT_FRAME_LENGTH.max(self.max_frame_length);
        if len > ceiling {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                CorruptStream { len, ceiling },
            ));
        }
        if len > self.max_frame_length {
            src.advance(HEADER_LEN);
            let n = len.min(src.len());
            src.advance(n);
            self.skipping = len - n;
            return Ok(Some(Err(FrameError::TooLarge {
                len,
                max: self.max_frame_length,
            })));
        }
        if src.len() < HEADER_LEN + len {
            // Reserve for the rest of this frame only: `len` is bounded by the maximum.
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let body = src.split_to(len).freeze();
        Ok(Some(decode_wrapper(body).map_err(FrameError::from)))
    }
}

pub(crate) fn decode_wrapper(body: Bytes) -> Result<WrapperMessage, DecodeError> {
    if let Some(parts) = WrapperParts::split(&body) {
        return Ok(WrapperMessage {
            r#type: parts.type_number,
            payload: parts.payload.map(|range| body.slice(range)),
        });
    }
    if body.is_empty() {
        return Err(DecodeError::EmptyFrame);
    }
    decode_checked(body, &WRAPPER)
}

/// A wrapper in the form every writer produces: `type` (field 1) as a
/// non-negative varint, then at most one `payload` (field 2) that ends the
/// body. Read by hand, without prost: it is every frame of a real stream.
/// Anything else (no `type`, fields repeated or out of order, unknown
/// fields, negative types) goes through prost, which decides what it
/// means and which error it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrapperParts {
    pub(crate) type_number: i32,
    /// Where the payload's bytes are in the body, if it has the field.
    pub(crate) payload: Option<std::ops::Range<usize>>,
}

impl WrapperParts {
    pub(crate) fn split(body: &[u8]) -> Option<WrapperParts> {
        let [TYPE_KEY, rest @ ..] = body else {
            return None;
        };
        let (type_value, rest) = short_varint(rest)?;
        let type_number = i32::try_from(type_value).ok()?;
        let payload = match rest {
            [] => None,
            [PAYLOAD_KEY, rest @ ..] => {
                let (len, content) = short_varint(rest)?;
                if usize::try_from(len).ok()? != content.len() {
                    return None;
                }
                Some(body.len() - content.len()..body.len())
            }
            _ => return None,
        };
        Some(WrapperParts {
            type_number,
            payload,
        })
    }
}

/// Wrapper field keys: `type` (1, varint) and `payload` (2, length-delimited).
pub(crate) const TYPE_KEY: u8 = 0x08;
pub(crate) const PAYLOAD_KEY: u8 = 0x12;

/// A varint of at most 5 bytes (any `u32`) and the bytes after it; `None`
/// for a longer or truncated one, which the caller leaves to prost.
fn short_varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(5) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &buf[i + 1..]));
        }
    }
    None
}

impl Encoder<WrapperMessage> for FrameCodec {
    type Error = EncodeError;

    fn encode(&mut self, item: WrapperMessage, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.encode(&item, dst)
    }
}

impl Encoder<&WrapperMessage> for FrameCodec {
    type Error = EncodeError;

    fn encode(&mut self, item: &WrapperMessage, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let len = item.encoded_len();
        if len > self.max_frame_length {
            return Err(EncodeError::TooLarge {
                kind: TypeNumber(item.r#type),
                len,
                max: self.max_frame_length,
            });
        }
        dst.reserve(HEADER_LEN + len);
        // `len` fits: it is at most `max_frame_length`, itself checked below u32 by callers'
        // configuration or by this conversion.
        let prefix = u32::try_from(len).map_err(|_| EncodeError::TooLarge {
            kind: TypeNumber(item.r#type),
            len,
            max: u32::MAX as usize,
        })?;
        dst.put_u32(prefix);
        item.encode_raw(dst);
        Ok(())
    }
}

#[cfg(test)]
mod pings_ahead {
    use super::*;
    use crate::MessageType;

    fn frame(kind: MessageType, payload: Option<&[u8]>) -> BytesMut {
        let mut buf = BytesMut::new();
        let wrapper = WrapperMessage::new(kind, payload.map(Bytes::copy_from_slice));
        FrameCodec::new()
            .encode(wrapper, &mut buf)
            .expect("encodes");
        buf
    }

    #[test]
    fn pings_behind_other_frames_are_counted_and_the_scan_resumes_where_it_stopped() {
        let codec = FrameCodec::with_max_frame_length(64);
        let mut stream = BytesMut::new();
        stream.extend_from_slice(&frame(MessageType::ConvMessage, Some(b"hi")));
        stream.extend_from_slice(&frame(MessageType::Ping, None));
        // Oversize: skipped by the codec, and by the scan.
        stream.extend_from_slice(&frame(MessageType::ConvMessage, Some(&[0; 100])));
        stream.extend_from_slice(&frame(MessageType::Ping, None));
        let ping = frame(MessageType::Ping, None);
        let whole = stream.len();
        stream.extend_from_slice(&ping[..5]);
        assert_eq!(codec.pings_ahead(&stream, 0), (2, whole));
        // The rest of the last PING arrives.
        stream.extend_from_slice(&ping[5..]);
        assert_eq!(codec.pings_ahead(&stream, whole), (1, stream.len()));
        // Positions past the end (an oversize frame still arriving) wait.
        assert_eq!(
            codec.pings_ahead(&stream, stream.len() + 10),
            (0, stream.len() + 10)
        );
    }

    #[test]
    fn a_corrupt_prefix_ends_the_scan() {
        let codec = FrameCodec::new();
        let mut stream = BytesMut::new();
        stream.extend_from_slice(&[0xff; 4]);
        stream.extend_from_slice(&frame(MessageType::Ping, None));
        assert_eq!(codec.pings_ahead(&stream, 0), (0, 0));
    }
}
