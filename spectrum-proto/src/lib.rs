//! The Spectrum 2 main instance ⇄ backend protocol.
//!
//! Spectrum 2 talks to each backend process over one TCP connection carrying
//! frames of *4-byte big-endian length, then a serialized [`WrapperMessage`]*.
//! The wrapper's `type` selects which payload message its `payload` bytes hold.
//!
//! This crate has three layers:
//!
//! * the prost types generated from `proto/protocol.proto` (package
//!   `pbnetwork`, proto2), re-exported at the crate root: [`Login`],
//!   [`ConversationMessage`], [`WrapperMessage`]...;
//! * [`Payload`], one enum over every message type with the payload it
//!   carries, and [`MessageType`] with what the protocol says of each type;
//! * [`FrameCodec`], a tokio-util codec for the framing, with a maximum frame
//!   length.
//!
//! ```
//! use spectrum_proto::{MessageType, Payload, Connected};
//!
//! let frame = Payload::Connected(Connected { user: "alice@example.org".into() }).to_wrapper();
//! assert_eq!(frame.kind(), Some(MessageType::Connected));
//! let back = Payload::from_wrapper(frame).unwrap();
//! assert_eq!(back.user(), Some("alice@example.org"));
//! ```
//!
//! The generated code is checked in (`src/generated/pbnetwork.rs`) so that no
//! `protoc` is needed to build; `tests/codegen.rs` regenerates it with the
//! pure-Rust `protox` compiler and fails if it drifted.

mod codec;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod message_type;
mod payload;
mod validate;

#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod generated {
    pub mod pbnetwork;
}

pub use codec::{
    CORRUPT_FRAME_LENGTH, CorruptStream, DEFAULT_MAX_FRAME_LENGTH, FrameCodec, HEADER_LEN,
};
pub use error::{DecodeError, EncodeError, FrameError, TypeNumber};
pub use generated::pbnetwork::*;
pub use message_type::{Direction, PayloadKind};
pub use payload::{Payload, login_names_lossy};

/// The wrapper's type enum, `WrapperMessage.Type` in the proto.
///
/// prost strips the `TYPE_` prefix: `TYPE_CONV_MESSAGE` is
/// [`MessageType::ConvMessage`].
pub use generated::pbnetwork::wrapper_message::Type as MessageType;

/// `NETWORK_PLUGIN_API_VERSION` of the main instance, the value an
/// [`ApiVersion`] message would carry.
pub const API_VERSION: i32 = 1;
