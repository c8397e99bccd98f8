//! One occupant of a room as the legacy network describes it.

use spectrum_proto::{ParticipantFlag, StatusType};

/// A set of [`ParticipantFlag`] bits, as `Participant.flag` carries them.
///
/// ```
/// use spectrum_backend::ParticipantFlag;
/// use spectrum_backend::gateway::rooms::Flags;
///
/// let flags = Flags::NONE.with(ParticipantFlag::Moderator);
/// assert!(flags.contains(ParticipantFlag::Moderator));
/// assert_eq!(flags.bits(), 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(i32);

impl Flags {
    /// No flag: an ordinary member.
    pub const NONE: Flags = Flags(0);

    /// The flags of a `Participant.flag` mask.
    pub const fn from_bits(bits: i32) -> Flags {
        Flags(bits)
    }

    /// The mask for `Participant.flag`.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// These flags and `flag`.
    #[must_use]
    pub const fn with(self, flag: ParticipantFlag) -> Flags {
        Flags(self.0 | flag.bit())
    }

    /// These flags without `flag`.
    #[must_use]
    pub const fn without(self, flag: ParticipantFlag) -> Flags {
        Flags(self.0 & !flag.bit())
    }

    /// Whether `flag` is set.
    pub const fn contains(self, flag: ParticipantFlag) -> bool {
        self.0 & flag.bit() != 0
    }
}

impl From<ParticipantFlag> for Flags {
    fn from(flag: ParticipantFlag) -> Flags {
        Flags::NONE.with(flag)
    }
}

/// An occupant of a room: nickname, flags, presence, and how XMPP shows it.
///
/// ```
/// use spectrum_backend::StatusType;
/// use spectrum_backend::gateway::rooms::Occupant;
///
/// let bob = Occupant::new("bob").moderator().status(StatusType::StatusAway, "lunch");
/// assert_eq!(bob.nickname, "bob");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupant {
    /// The nickname in the room, as the legacy network spells it.
    pub nickname: String,
    /// Moderator and other flags. The tracker adds ME to the user's own entry.
    pub flags: Flags,
    /// Presence show; never [`StatusType::StatusNone`] for someone present.
    pub status: StatusType,
    /// Presence text.
    pub status_message: String,
    /// Shown in XMPP instead of the nickname when not empty.
    pub alias: String,
    /// Avatar hash ([`contacts::icon_hash`](crate::gateway::contacts::icon_hash)); empty for none.
    pub icon_hash: String,
    /// The legacy network's lasting identity of the occupant, for networks
    /// where it is not the nickname (a Matrix user ID under a display
    /// name). With it, a full occupant list
    /// ([`Rooms::occupants_are`](super::Rooms::occupants_are)) in which
    /// someone's nickname changed gives a rename, not a leave and a join.
    pub id: Option<String>,
}

impl Occupant {
    /// `nickname`, present and online, without flags.
    pub fn new(nickname: impl Into<String>) -> Occupant {
        Occupant {
            nickname: nickname.into(),
            flags: Flags::NONE,
            status: StatusType::StatusOnline,
            status_message: String::new(),
            alias: String::new(),
            icon_hash: String::new(),
            id: None,
        }
    }

    /// Also a room moderator.
    #[must_use]
    pub fn moderator(self) -> Occupant {
        self.flag(ParticipantFlag::Moderator)
    }

    /// Also `flag`.
    #[must_use]
    pub fn flag(mut self, flag: ParticipantFlag) -> Occupant {
        self.flags = self.flags.with(flag);
        self
    }

    /// Presence show and text.
    #[must_use]
    pub fn status(mut self, status: StatusType, message: impl Into<String>) -> Occupant {
        self.status = status;
        self.status_message = message.into();
        self
    }

    /// The name XMPP shows instead of the nickname.
    #[must_use]
    pub fn alias(mut self, alias: impl Into<String>) -> Occupant {
        self.alias = alias.into();
        self
    }

    /// The avatar hash.
    #[must_use]
    pub fn icon_hash(mut self, hash: impl Into<String>) -> Occupant {
        self.icon_hash = hash.into();
        self
    }

    /// The legacy network's lasting identity of the occupant; see
    /// [`Occupant::id`](Occupant#structfield.id).
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Occupant {
        self.id = Some(id.into());
        self
    }

    /// Whether `self` and `other` are the same person: by identity when
    /// both have one, else by nickname under `same_nickname`.
    pub(super) fn is(&self, other: &Occupant, same_nickname: impl Fn(&str, &str) -> bool) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => same_nickname(&self.nickname, &other.nickname),
        }
    }
}
