//! One contact as the legacy network describes it, and its avatar hash.

use sha1::{Digest as _, Sha1};
use spectrum_proto::StatusType;

/// The avatar hash Spectrum 2 publishes for `avatar`: the SHA-1 of the image
/// bytes in lower-case hex, as XEP-0153's vCard-update `<photo/>` carries it.
/// No image (empty bytes) gives the empty hash, which clears the avatar.
///
/// ```
/// use spectrum_backend::gateway::contacts::icon_hash;
///
/// assert_eq!(icon_hash(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
/// assert_eq!(icon_hash(b""), "");
/// ```
pub fn icon_hash(avatar: &[u8]) -> String {
    use std::fmt::Write as _;
    if avatar.is_empty() {
        return String::new();
    }
    Sha1::digest(avatar)
        .iter()
        .fold(String::with_capacity(40), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// A contact: how XMPP shows it and its presence.
///
/// ```
/// use spectrum_backend::StatusType;
/// use spectrum_backend::gateway::contacts::Contact;
///
/// let bob = Contact::new()
///     .alias("Bob")
///     .group("Friends")
///     .status(StatusType::StatusAway, "lunch")
///     .avatar(b"\x89PNG...");
/// assert_eq!(bob.icon_hash.len(), 40);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Display name. Spectrum 2 keeps the current one when this is empty.
    pub alias: String,
    /// Roster groups. Spectrum 2 keeps the current ones when this is empty.
    pub groups: Vec<String>,
    /// Presence; [`StatusType::StatusNone`] is offline.
    pub status: StatusType,
    /// Presence text.
    pub status_message: String,
    /// Avatar hash ([`icon_hash`]); empty for none.
    pub icon_hash: String,
    /// Blocked by the user on the legacy network.
    pub blocked: bool,
}

impl Default for Contact {
    fn default() -> Contact {
        Contact::new()
    }
}

impl Contact {
    /// Online, without alias, groups or avatar.
    pub fn new() -> Contact {
        Contact {
            alias: String::new(),
            groups: Vec::new(),
            status: StatusType::StatusOnline,
            status_message: String::new(),
            icon_hash: String::new(),
            blocked: false,
        }
    }

    /// The display name.
    #[must_use]
    pub fn alias(mut self, alias: impl Into<String>) -> Contact {
        self.alias = alias.into();
        self
    }

    /// Also in roster group `group`.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Contact {
        self.groups.push(group.into());
        self
    }

    /// Presence show and text.
    #[must_use]
    pub fn status(mut self, status: StatusType, message: impl Into<String>) -> Contact {
        self.status = status;
        self.status_message = message.into();
        self
    }

    /// The avatar image; only its hash is kept.
    #[must_use]
    pub fn avatar(mut self, image: &[u8]) -> Contact {
        self.icon_hash = icon_hash(image);
        self
    }

    /// Blocked or not.
    #[must_use]
    pub fn blocked(mut self, blocked: bool) -> Contact {
        self.blocked = blocked;
        self
    }
}
