use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};

use crate::codec::{PAYLOAD_KEY, TYPE_KEY};
use crate::validate::{self, Schema};
use crate::{
    ApiVersion, BackendConfig, Buddies, Buddy, Connected, ConversationMessage, DecodeError,
    Disconnected, EncodeError, Login, Logout, MessageType, Participant, ParticipantFlag, Room,
    RoomList, Stats, Status, StatusType, TypeNumber, VCard, WrapperMessage,
};

/// Generates [`Payload`] and its conversions from one table: variant, the
/// payload shape (`msg` = protobuf message with its schema, `none`, `xml`).
macro_rules! payloads {
    ($($(#[doc = $doc:literal])* $variant:ident => $shape:ident $(($ty:ident $(, $schema:ident)?))?;)*) => {
        /// A decoded frame: one variant per message type, holding its payload.
        ///
        /// Several types share a payload message (`Buddy` for BUDDY_CHANGED,
        /// BUDDY_REMOVED, the typing states and AUTH_REQUEST), so the mapping
        /// is *type → payload*, never the reverse.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Payload {
            $($(#[doc = $doc])* $variant $(($ty))?,)*
            /// A type number this crate does not decode: one of the dead FT_*
            /// types, or a type newer than this crate. Kept so that a newer
            /// main instance does not break the stream.
            Unknown {
                /// The wrapper's `type` number.
                type_number: i32,
                /// The raw payload bytes, if any.
                payload: Option<Bytes>,
            },
        }

        impl Payload {
            /// The wrapper type of this payload, `None` for [`Payload::Unknown`].
            pub fn message_type(&self) -> Option<MessageType> {
                match self {
                    $(payloads!(@pat $variant $shape) => Some(MessageType::$variant),)*
                    Payload::Unknown { .. } => None,
                }
            }

            /// Decodes a wrapper's payload according to its type.
            ///
            /// Unknown type numbers (and the dead FT_* types) give
            /// [`Payload::Unknown`] rather than an error. Missing required
            /// fields, invalid values of required enums and malformed bytes
            /// are errors that name the problem.
            pub fn from_wrapper(wrapper: WrapperMessage) -> Result<Payload, DecodeError> {
                Payload::from_parts(wrapper.r#type, wrapper.payload)
            }

            /// [`Payload::from_wrapper`] of the wrapper's two fields.
            fn from_parts(type_number: i32, raw: Option<Bytes>) -> Result<Payload, DecodeError> {
                let Ok(kind) = MessageType::try_from(type_number) else {
                    // Keep an absent payload absent, so that the frame re-encodes as it came.
                    return Ok(Payload::Unknown { type_number, payload: raw });
                };
                match kind {
                    $(MessageType::$variant => payloads!(@decode $variant raw $shape $(($ty $(, $schema)?))?),)*
                    MessageType::FtStart
                    | MessageType::FtFinish
                    | MessageType::FtData
                    | MessageType::FtPause
                    | MessageType::FtContinue => {
                        Ok(Payload::Unknown { type_number, payload: raw })
                    }
                }
            }

            /// Encodes this payload into a wrapper ready for the codec.
            ///
            /// PING, PONG and EXIT get no payload field at all, as on the
            /// wire of the reference implementations.
            pub fn to_wrapper(&self) -> WrapperMessage {
                match self {
                    $(payloads!(@bind $variant $shape p) => WrapperMessage {
                        r#type: MessageType::$variant as i32,
                        payload: payloads!(@encode p $shape),
                    },)*
                    Payload::Unknown { type_number, payload } => WrapperMessage {
                        r#type: *type_number,
                        payload: payload.clone(),
                    },
                }
            }

            /// Writes this payload as one whole frame (length prefix and
            /// wrapper) into `dst`, byte for byte what [`FrameCodec`] writes
            /// for [`Payload::to_wrapper`], without the intermediate buffer.
            ///
            /// [`FrameCodec`]: crate::FrameCodec
            pub fn encode_frame(&self, dst: &mut BytesMut, max_frame_length: usize) -> Result<(), EncodeError> {
                match self {
                    $(payloads!(@bind $variant $shape p) => {
                        payloads!(@frame p $shape, MessageType::$variant as i32, dst, max_frame_length)
                    })*
                    Payload::Unknown { type_number, payload } => {
                        frame_bytes(*type_number, payload.as_deref(), dst, max_frame_length)
                    }
                }
            }
        }
    };
    (@frame $p:ident none, $t:expr, $dst:ident, $max:ident) => { frame_bytes($t, None, $dst, $max) };
    (@frame $p:ident xml, $t:expr, $dst:ident, $max:ident) => { frame_bytes($t, Some($p.as_bytes()), $dst, $max) };
    (@frame $p:ident msg, $t:expr, $dst:ident, $max:ident) => { frame_message($t, $p, $dst, $max) };
    (@pat $v:ident none) => { Payload::$v };
    (@pat $v:ident $other:ident) => { Payload::$v(_) };
    (@bind $v:ident none $p:ident) => { Payload::$v };
    (@bind $v:ident $other:ident $p:ident) => { Payload::$v($p) };
    (@encode $p:ident none) => { None };
    (@encode $p:ident xml) => { Some(Bytes::copy_from_slice($p.as_bytes())) };
    (@encode $p:ident msg) => { Some(Bytes::from($p.encode_to_vec())) };
    (@decode $v:ident $b:ident none) => { Ok(Payload::$v) };
    (@decode $v:ident $b:ident xml ($ty:ident)) => {
        String::from_utf8($b.unwrap_or_default().into()).map(Payload::$v).map_err(|_| DecodeError::InvalidXmlText)
    };
    (@decode $v:ident $b:ident msg ($ty:ident, $schema:ident)) => {
        decode::<$ty>($b.unwrap_or_default(), &validate::$schema).map(Payload::$v)
    };
}

payloads! {
    /// TYPE_CONNECTED (1), B→M.
    Connected => msg(Connected, CONNECTED);
    /// TYPE_DISCONNECTED (2), B→M.
    Disconnected => msg(Disconnected, DISCONNECTED);
    /// TYPE_LOGIN (3), M→B.
    Login => msg(Login, LOGIN);
    /// TYPE_LOGOUT (4), M→B.
    Logout => msg(Logout, LOGOUT);
    /// TYPE_BUDDY_CHANGED (6), both ways.
    BuddyChanged => msg(Buddy, BUDDY);
    /// TYPE_BUDDY_REMOVED (7), both ways.
    BuddyRemoved => msg(Buddy, BUDDY);
    /// TYPE_CONV_MESSAGE (8), both ways.
    ConvMessage => msg(ConversationMessage, CONVERSATION_MESSAGE);
    /// TYPE_PING (9), M→B, no payload.
    Ping => none;
    /// TYPE_PONG (10), B→M, no payload.
    Pong => none;
    /// TYPE_JOIN_ROOM (11), M→B.
    JoinRoom => msg(Room, ROOM);
    /// TYPE_LEAVE_ROOM (12), M→B.
    LeaveRoom => msg(Room, ROOM);
    /// TYPE_PARTICIPANT_CHANGED (13), B→M.
    ParticipantChanged => msg(Participant, PARTICIPANT);
    /// TYPE_ROOM_NICKNAME_CHANGED (14), B→M.
    RoomNicknameChanged => msg(Room, ROOM);
    /// TYPE_ROOM_SUBJECT_CHANGED (15), both ways.
    RoomSubjectChanged => msg(ConversationMessage, CONVERSATION_MESSAGE);
    /// TYPE_VCARD (16), both ways.
    Vcard => msg(VCard, VCARD);
    /// TYPE_STATUS_CHANGED (17), M→B.
    StatusChanged => msg(Status, STATUS);
    /// TYPE_BUDDY_TYPING (18), both ways.
    BuddyTyping => msg(Buddy, BUDDY);
    /// TYPE_BUDDY_STOPPED_TYPING (19), both ways.
    BuddyStoppedTyping => msg(Buddy, BUDDY);
    /// TYPE_BUDDY_TYPED (20), both ways.
    BuddyTyped => msg(Buddy, BUDDY);
    /// TYPE_AUTH_REQUEST (21), B→M.
    AuthRequest => msg(Buddy, BUDDY);
    /// TYPE_ATTENTION (22), both ways.
    Attention => msg(ConversationMessage, CONVERSATION_MESSAGE);
    /// TYPE_STATS (23), B→M.
    Stats => msg(Stats, STATS);
    /// TYPE_EXIT (29), M→B, no payload.
    Exit => none;
    /// TYPE_BACKEND_CONFIG (30), B→M.
    BackendConfig => msg(BackendConfig, BACKEND_CONFIG);
    /// TYPE_QUERY (31): an admin command (B→M) or its output (M→B).
    Query => msg(BackendConfig, BACKEND_CONFIG);
    /// TYPE_ROOM_LIST (32), B→M.
    RoomList => msg(RoomList, ROOM_LIST);
    /// TYPE_CONV_MESSAGE_ACK (33), B→M.
    ConvMessageAck => msg(ConversationMessage, CONVERSATION_MESSAGE);
    /// TYPE_RAW_XML (34), both ways: XML text, not protobuf.
    RawXml => xml(String);
    /// TYPE_BUDDIES (35), M→B.
    Buddies => msg(Buddies, BUDDIES);
    /// TYPE_API_VERSION (36), defined but never sent.
    ApiVersion => msg(ApiVersion, API_VERSION);
}

impl Payload {
    /// The XMPP bare JID this payload is about (`user` / `userName`), which
    /// routes it to a session. `None` for types that are not per user.
    pub fn user(&self) -> Option<&str> {
        use Payload as P;
        match self {
            P::Connected(m) => Some(&m.user),
            P::Disconnected(m) => Some(&m.user),
            P::Login(m) => Some(&m.user),
            P::Logout(m) => Some(&m.user),
            P::BuddyChanged(m)
            | P::BuddyRemoved(m)
            | P::BuddyTyping(m)
            | P::BuddyStoppedTyping(m)
            | P::BuddyTyped(m)
            | P::AuthRequest(m) => Some(&m.user_name),
            P::ConvMessage(m)
            | P::RoomSubjectChanged(m)
            | P::Attention(m)
            | P::ConvMessageAck(m) => Some(&m.user_name),
            P::JoinRoom(m) | P::LeaveRoom(m) | P::RoomNicknameChanged(m) => Some(&m.user_name),
            P::ParticipantChanged(m) => Some(&m.user_name),
            P::Vcard(m) => Some(&m.user_name),
            P::StatusChanged(m) => Some(&m.user_name),
            P::RoomList(m) => m.user.as_deref().filter(|u| !u.is_empty()),
            P::Buddies(m) => m.buddy.first().map(|b| b.user_name.as_str()),
            P::Ping
            | P::Pong
            | P::Exit
            | P::Stats(_)
            | P::BackendConfig(_)
            | P::Query(_)
            | P::RawXml(_)
            | P::ApiVersion(_)
            | P::Unknown { .. } => None,
        }
    }
}

fn decode<M: Message + Default + CheckEnums>(
    bytes: Bytes,
    schema: &Schema,
) -> Result<M, DecodeError> {
    let message: M = validate::decode_checked(bytes, schema)?;
    message.check_enums()?;
    Ok(message)
}

/// proto2 enums are closed: the main instance rejects a required enum field
/// holding an unlisted number, while prost keeps the raw `i32`.
trait CheckEnums {
    fn check_enums(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

fn status(message: &'static str, field: &'static str, value: i32) -> Result<(), DecodeError> {
    match StatusType::try_from(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(DecodeError::InvalidEnum {
            message,
            field,
            enum_name: "StatusType",
            value,
        }),
    }
}

impl CheckEnums for Participant {
    fn check_enums(&self) -> Result<(), DecodeError> {
        status("Participant", "status", self.status)
    }
}
impl CheckEnums for Status {
    fn check_enums(&self) -> Result<(), DecodeError> {
        status("Status", "status", self.status)
    }
}
impl CheckEnums for Connected {}
impl CheckEnums for Disconnected {}
impl CheckEnums for Login {}
impl CheckEnums for Logout {}
impl CheckEnums for Buddy {}
impl CheckEnums for Buddies {}
impl CheckEnums for ConversationMessage {}
impl CheckEnums for Room {}
impl CheckEnums for RoomList {}
impl CheckEnums for VCard {}
impl CheckEnums for Stats {}
impl CheckEnums for BackendConfig {}
impl CheckEnums for ApiVersion {}

impl WrapperMessage {
    /// A wrapper of `kind` carrying `payload`.
    pub fn new(kind: MessageType, payload: Option<Bytes>) -> Self {
        WrapperMessage {
            r#type: kind as i32,
            payload,
        }
    }

    /// The wrapper's type, or `None` for a number this crate does not know.
    ///
    /// Prefer this to prost's `r#type()` getter, which silently maps unknown
    /// numbers to `TYPE_CONNECTED`.
    pub fn kind(&self) -> Option<MessageType> {
        MessageType::try_from(self.r#type).ok()
    }
}

impl ParticipantFlag {
    /// This flag's bit, for building a `Participant.flag` mask.
    pub const fn bit(self) -> i32 {
        self as i32
    }
}

/// Grows `dst` by one whole frame of `type_number` whose payload field has
/// `payload_len` bytes of content (or is absent), writes the length prefix
/// and the wrapper's fields, and returns the (zeroed) bytes where the
/// payload's content goes.
///
/// The frame is written into room made in one step, through a plain slice:
/// no capacity check per byte, as `BytesMut`'s `BufMut` makes.
fn frame_slot(
    type_number: i32,
    payload_len: Option<usize>,
    dst: &mut BytesMut,
    max: usize,
) -> Result<&mut [u8], EncodeError> {
    // int32 and enum values are varints of their sign-extended 64-bit form.
    let type_value = type_number as i64 as u64;
    let len = 1
        + encoded_len_varint(type_value)
        + payload_len.map_or(0, |n| 1 + encoded_len_varint(n as u64) + n);
    let prefix = u32::try_from(len).ok().filter(|_| len <= max);
    let Some(prefix) = prefix else {
        return Err(EncodeError::TooLarge {
            kind: TypeNumber(type_number),
            len,
            max,
        });
    };
    let start = dst.len();
    dst.resize(start + crate::HEADER_LEN + len, 0);
    let mut frame = &mut dst[start..];
    frame.put_u32(prefix);
    frame.put_u8(TYPE_KEY);
    encode_varint(type_value, &mut frame);
    if let Some(n) = payload_len {
        frame.put_u8(PAYLOAD_KEY);
        encode_varint(n as u64, &mut frame);
    }
    Ok(frame)
}

fn frame_bytes(
    type_number: i32,
    payload: Option<&[u8]>,
    dst: &mut BytesMut,
    max: usize,
) -> Result<(), EncodeError> {
    let content = frame_slot(type_number, payload.map(<[u8]>::len), dst, max)?;
    if let Some(payload) = payload {
        content.copy_from_slice(payload);
    }
    Ok(())
}

fn frame_message<M: Message>(
    type_number: i32,
    message: &M,
    dst: &mut BytesMut,
    max: usize,
) -> Result<(), EncodeError> {
    let mut content = frame_slot(type_number, Some(message.encoded_len()), dst, max)?;
    // prost writes exactly `encoded_len` bytes, so this fills the slot.
    message.encode_raw(&mut content);
    debug_assert!(content.is_empty());
    Ok(())
}

/// The fields of a LOGIN read without insisting on UTF-8: what a strict
/// decode refused can still be answered.
#[derive(Clone, PartialEq, prost::Message)]
struct LoginBytes {
    #[prost(bytes = "vec", tag = "1")]
    user: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    legacy_name: Vec<u8>,
}

/// The `user` and `legacyName` of a LOGIN payload that failed to decode,
/// when its `user` is still readable UTF-8 (the legacy name is converted
/// lossily). Spectrum 2 forwards string fields unvalidated, so a password
/// in another encoding makes the strict decode fail; with this, the backend
/// can still tell that user why (DISCONNECTED) instead of staying silent.
///
/// ```
/// // user "u", legacyName "l", password "\xff" (not UTF-8).
/// let payload = [0x0a, 0x01, b'u', 0x12, 0x01, b'l', 0x1a, 0x01, 0xff];
/// assert_eq!(
///     spectrum_proto::login_names_lossy(&payload),
///     Some(("u".to_owned(), "l".to_owned()))
/// );
/// ```
pub fn login_names_lossy(payload: &[u8]) -> Option<(String, String)> {
    let login = LoginBytes::decode(payload).ok()?;
    let user = String::from_utf8(login.user).ok()?;
    if user.is_empty() {
        return None;
    }
    Some((
        user,
        String::from_utf8_lossy(&login.legacy_name).into_owned(),
    ))
}
