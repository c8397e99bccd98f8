use crate::MessageType;

/// Why one frame could not be turned into a message.
///
/// The frame boundary is intact when this is returned, so a reader can log it
/// and carry on with the next frame, as the main instance does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A frame of length zero: the wrapper's required `type` is missing.
    #[error("empty frame: a WrapperMessage needs at least its required `type` field")]
    EmptyFrame,
    /// The bytes are not valid protobuf for the message they should hold.
    #[error("malformed {message}: {source}")]
    Malformed {
        /// The message being decoded, as named in the proto.
        message: &'static str,
        /// What prost found wrong.
        #[source]
        source: prost::DecodeError,
    },
    /// The protobuf wire format itself is broken (found while checking
    /// required fields).
    #[error("malformed {message}: {problem}")]
    InvalidWire {
        /// The message being decoded.
        message: &'static str,
        /// What is wrong with the bytes.
        problem: &'static str,
    },
    /// A proto2 `required` field is absent.
    #[error("{message} is missing its required field `{field}`")]
    MissingField {
        /// The message being decoded, as named in the proto.
        message: &'static str,
        /// The proto name of the missing field.
        field: &'static str,
    },
    /// A required enum field holds a number its (closed, proto2) enum lacks.
    #[error("{message}.{field} is {value}, which is not a {enum_name} value")]
    InvalidEnum {
        /// The message being decoded.
        message: &'static str,
        /// The proto name of the field.
        field: &'static str,
        /// The enum the field is declared with.
        enum_name: &'static str,
        /// The number found on the wire.
        value: i32,
    },
    /// A RAW_XML payload that is not UTF-8 text.
    #[error("the RAW_XML payload is not valid UTF-8")]
    InvalidXmlText,
}

/// A frame that was skipped or could not be decoded; the stream goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announced more than the configured maximum. The
    /// frame's bytes are discarded as they arrive, never buffered.
    #[error("frame of {len} bytes exceeds the maximum frame length of {max} bytes; skipped")]
    TooLarge {
        /// The announced body length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The frame body is not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Why a message could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded wrapper is longer than the configured maximum frame length.
    #[error("{kind} frame of {len} bytes exceeds the maximum frame length of {max} bytes")]
    TooLarge {
        /// The wrapper's type number.
        kind: TypeNumber,
        /// The encoded body length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The underlying writer failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A wrapper type number, printed by name when it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeNumber(pub i32);

impl std::fmt::Display for TypeNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match MessageType::try_from(self.0) {
            Ok(t) => f.write_str(t.as_str_name()),
            Err(_) => write!(f, "type {}", self.0),
        }
    }
}
