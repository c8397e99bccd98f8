//! Events for sessions: what a frame from the main instance becomes on its
//! way to a user's session, and the user it is for.
//!
//! Plain data over the protocol types; nothing here knows about sessions,
//! handlers or the connection.

use spectrum_proto::{self as proto, Payload};

/// Every event a backend can handle, as a plain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// [`crate::event::Login`].
    Login,
    /// [`crate::event::Logout`].
    Logout,
    /// [`crate::event::Exit`].
    Exit,
    /// [`crate::event::StatusChanged`].
    StatusChanged,
    /// [`crate::event::ConvMessage`].
    ConvMessage,
    /// [`crate::event::JoinRoom`].
    JoinRoom,
    /// [`crate::event::LeaveRoom`].
    LeaveRoom,
    /// [`crate::event::BuddyChanged`].
    BuddyChanged,
    /// [`crate::event::BuddyRemoved`].
    BuddyRemoved,
    /// [`crate::event::BuddyTyping`].
    BuddyTyping,
    /// [`crate::event::BuddyTyped`].
    BuddyTyped,
    /// [`crate::event::BuddyStoppedTyping`].
    BuddyStoppedTyping,
    /// [`crate::event::Attention`].
    Attention,
    /// [`crate::event::VCard`].
    VCard,
    /// [`crate::event::VCardUpdate`].
    VCardUpdate,
    /// [`crate::event::RoomSubjectChanged`].
    RoomSubjectChanged,
    /// [`crate::event::RawXml`].
    RawXml,
    /// [`crate::event::Buddies`].
    Buddies,
}

/// An event for one user's session, decoded and routed by the runtime.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// See [`crate::event::StatusChanged`].
    StatusChanged(proto::Status),
    /// See [`crate::event::ConvMessage`].
    ConvMessage(proto::ConversationMessage),
    /// See [`crate::event::JoinRoom`].
    JoinRoom(proto::Room),
    /// See [`crate::event::LeaveRoom`].
    LeaveRoom(proto::Room),
    /// See [`crate::event::BuddyChanged`].
    BuddyChanged(proto::Buddy),
    /// See [`crate::event::BuddyRemoved`].
    BuddyRemoved(proto::Buddy),
    /// See [`crate::event::BuddyTyping`].
    BuddyTyping(proto::Buddy),
    /// See [`crate::event::BuddyTyped`].
    BuddyTyped(proto::Buddy),
    /// See [`crate::event::BuddyStoppedTyping`].
    BuddyStoppedTyping(proto::Buddy),
    /// See [`crate::event::Attention`].
    Attention(proto::ConversationMessage),
    /// See [`crate::event::VCard`].
    VCard(proto::VCard),
    /// See [`crate::event::VCardUpdate`].
    VCardUpdate(proto::VCard),
    /// See [`crate::event::RoomSubjectChanged`].
    RoomSubjectChanged(proto::ConversationMessage),
    /// See [`crate::event::RawXml`].
    RawXml(String),
    /// See [`crate::event::Buddies`].
    Buddies(proto::Buddies),
}

impl Event {
    /// The XMPP bare JID of the user the event is for. For RAW_XML, the bare
    /// part of the stanza's `from` attribute.
    pub fn user(&self) -> Option<&str> {
        match self {
            Event::StatusChanged(m) => Some(&m.user_name),
            Event::ConvMessage(m) | Event::Attention(m) | Event::RoomSubjectChanged(m) => {
                Some(&m.user_name)
            }
            Event::JoinRoom(m) | Event::LeaveRoom(m) => Some(&m.user_name),
            Event::BuddyChanged(m)
            | Event::BuddyRemoved(m)
            | Event::BuddyTyping(m)
            | Event::BuddyTyped(m)
            | Event::BuddyStoppedTyping(m) => Some(&m.user_name),
            Event::VCard(m) | Event::VCardUpdate(m) => Some(&m.user_name),
            Event::RawXml(xml) => raw_xml_user(xml),
            Event::Buddies(m) => m.buddy.first().map(|b| b.user_name.as_str()),
        }
    }

    /// The event's name, as written in `#[on(..)]`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::StatusChanged(_) => "StatusChanged",
            Event::ConvMessage(_) => "ConvMessage",
            Event::JoinRoom(_) => "JoinRoom",
            Event::LeaveRoom(_) => "LeaveRoom",
            Event::BuddyChanged(_) => "BuddyChanged",
            Event::BuddyRemoved(_) => "BuddyRemoved",
            Event::BuddyTyping(_) => "BuddyTyping",
            Event::BuddyTyped(_) => "BuddyTyped",
            Event::BuddyStoppedTyping(_) => "BuddyStoppedTyping",
            Event::Attention(_) => "Attention",
            Event::VCard(_) => "VCard",
            Event::VCardUpdate(_) => "VCardUpdate",
            Event::RoomSubjectChanged(_) => "RoomSubjectChanged",
            Event::RawXml(_) => "RawXml",
            Event::Buddies(_) => "Buddies",
        }
    }
}

/// Turns a per-user message into its session event.
// The event is handed back by value on the hot path; boxing it would cost
// an allocation per event.
#[allow(clippy::result_large_err)]
pub(crate) fn into_event(payload: Payload) -> std::result::Result<Event, Payload> {
    let event = match payload {
        Payload::StatusChanged(m) => Event::StatusChanged(m),
        Payload::ConvMessage(m) => Event::ConvMessage(m),
        Payload::JoinRoom(m) => Event::JoinRoom(m),
        Payload::LeaveRoom(m) => Event::LeaveRoom(m),
        Payload::BuddyChanged(m) => Event::BuddyChanged(m),
        Payload::BuddyRemoved(m) => Event::BuddyRemoved(m),
        Payload::BuddyTyping(m) => Event::BuddyTyping(m),
        Payload::BuddyTyped(m) => Event::BuddyTyped(m),
        Payload::BuddyStoppedTyping(m) => Event::BuddyStoppedTyping(m),
        Payload::Attention(m) => Event::Attention(m),
        // The main marks an own-vCard update by the presence of a photo.
        Payload::Vcard(m) if m.photo.is_some() => Event::VCardUpdate(m),
        Payload::Vcard(m) => Event::VCard(m),
        Payload::RoomSubjectChanged(m) => Event::RoomSubjectChanged(m),
        Payload::RawXml(xml) => Event::RawXml(xml),
        Payload::Buddies(m) => match m.buddy.first() {
            Some(_) => Event::Buddies(m),
            None => return Err(Payload::Buddies(m)),
        },
        other => return Err(other),
    };
    Ok(event)
}

/// The bare JID in the `from` attribute of a RAW_XML stanza: the user.
pub(crate) fn raw_xml_user(xml: &str) -> Option<&str> {
    let start = xml.find('<')?;
    let end = xml[start..].find('>')? + start;
    let tag = &xml[start..end];
    let at = tag.find(" from=")? + " from=".len();
    let quote = tag[at..].chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let value = &tag[at + 1..];
    let value = &value[..value.find(quote)?];
    Some(value.split('/').next().unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::raw_xml_user;

    #[test]
    fn raw_xml_is_routed_by_from() {
        assert_eq!(
            raw_xml_user("<message from='a@b.c/res' to='x@y'><body/></message>"),
            Some("a@b.c")
        );
        assert_eq!(raw_xml_user("<iq to=\"x\" from=\"u@h\"/>"), Some("u@h"));
        assert_eq!(raw_xml_user("<presence to='x'/>"), None);
    }
}
