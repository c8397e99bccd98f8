use crate::MessageType;

/// Who sends a message type in today's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Only the main instance sends it (LOGIN, PING, EXIT...).
    ToBackend,
    /// Only backends send it (CONNECTED, PONG, STATS...).
    ToMain,
    /// Both sides send it (CONV_MESSAGE, BUDDY_CHANGED, VCARD, typing...).
    Both,
    /// Nobody: the FT_* types, dead since 2022 (files travel as attachments).
    Dead,
}

/// What a message type's `payload` field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// No payload field at all (PING, PONG, EXIT).
    None,
    /// A serialized protobuf message, named as in the proto.
    Message(&'static str),
    /// Raw XML text, not protobuf (RAW_XML).
    XmlText,
    /// The type's payload message was deleted from the protocol (FT_*).
    Removed,
}

impl MessageType {
    /// Every type, in wire-number order.
    pub const ALL: [MessageType; 35] = [
        Self::Connected,
        Self::Disconnected,
        Self::Login,
        Self::Logout,
        Self::BuddyChanged,
        Self::BuddyRemoved,
        Self::ConvMessage,
        Self::Ping,
        Self::Pong,
        Self::JoinRoom,
        Self::LeaveRoom,
        Self::ParticipantChanged,
        Self::RoomNicknameChanged,
        Self::RoomSubjectChanged,
        Self::Vcard,
        Self::StatusChanged,
        Self::BuddyTyping,
        Self::BuddyStoppedTyping,
        Self::BuddyTyped,
        Self::AuthRequest,
        Self::Attention,
        Self::Stats,
        Self::FtStart,
        Self::FtFinish,
        Self::FtData,
        Self::FtPause,
        Self::FtContinue,
        Self::Exit,
        Self::BackendConfig,
        Self::Query,
        Self::RoomList,
        Self::ConvMessageAck,
        Self::RawXml,
        Self::Buddies,
        Self::ApiVersion,
    ];

    /// The payload this type carries.
    pub const fn payload_kind(self) -> PayloadKind {
        use MessageType as T;
        match self {
            T::Ping | T::Pong | T::Exit => PayloadKind::None,
            T::RawXml => PayloadKind::XmlText,
            T::FtStart | T::FtFinish | T::FtData | T::FtPause | T::FtContinue => {
                PayloadKind::Removed
            }
            T::Connected => PayloadKind::Message("Connected"),
            T::Disconnected => PayloadKind::Message("Disconnected"),
            T::Login => PayloadKind::Message("Login"),
            T::Logout => PayloadKind::Message("Logout"),
            T::BuddyChanged
            | T::BuddyRemoved
            | T::BuddyTyping
            | T::BuddyStoppedTyping
            | T::BuddyTyped
            | T::AuthRequest => PayloadKind::Message("Buddy"),
            T::ConvMessage | T::RoomSubjectChanged | T::Attention | T::ConvMessageAck => {
                PayloadKind::Message("ConversationMessage")
            }
            T::JoinRoom | T::LeaveRoom | T::RoomNicknameChanged => PayloadKind::Message("Room"),
            T::ParticipantChanged => PayloadKind::Message("Participant"),
            T::Vcard => PayloadKind::Message("VCard"),
            T::StatusChanged => PayloadKind::Message("Status"),
            T::Stats => PayloadKind::Message("Stats"),
            T::BackendConfig | T::Query => PayloadKind::Message("BackendConfig"),
            T::RoomList => PayloadKind::Message("RoomList"),
            T::Buddies => PayloadKind::Message("Buddies"),
            T::ApiVersion => PayloadKind::Message("APIVersion"),
        }
    }

    /// Who sends this type today.
    pub const fn direction(self) -> Direction {
        use MessageType as T;
        match self {
            T::Login
            | T::Logout
            | T::Ping
            | T::JoinRoom
            | T::LeaveRoom
            | T::StatusChanged
            | T::Exit
            | T::Buddies
            | T::ApiVersion => Direction::ToBackend,
            T::Connected
            | T::Disconnected
            | T::Pong
            | T::ParticipantChanged
            | T::RoomNicknameChanged
            | T::AuthRequest
            | T::Stats
            | T::BackendConfig
            | T::RoomList
            | T::ConvMessageAck => Direction::ToMain,
            T::BuddyChanged
            | T::BuddyRemoved
            | T::ConvMessage
            | T::RoomSubjectChanged
            | T::Vcard
            | T::BuddyTyping
            | T::BuddyStoppedTyping
            | T::BuddyTyped
            | T::Attention
            | T::Query
            | T::RawXml => Direction::Both,
            T::FtStart | T::FtFinish | T::FtData | T::FtPause | T::FtContinue => Direction::Dead,
        }
    }

    /// Whether the main instance has a handler for this type.
    ///
    /// A type it does not handle is not merely ignored: the main stops
    /// processing its read buffer until more bytes arrive, stalling every
    /// frame queued behind it. A backend must send only these types.
    pub const fn main_handles(self) -> bool {
        matches!(self.direction(), Direction::ToMain | Direction::Both)
    }
}
