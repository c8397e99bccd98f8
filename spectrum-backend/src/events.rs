//! Events for sessions: what a frame from the main instance becomes on its
//! way to a user's session, and the user it is for.
//!
//! Plain data over the protocol types; nothing here knows about sessions,
//! handlers or the connection. Everything that lists events is generated
//! from the one table, [`spectrum_events::events!`].

use spectrum_proto::Payload;

/// The payload types named in the event table, by the names the table uses.
pub(crate) mod payload_types {
    pub(crate) use spectrum_proto::{
        Buddies, Buddy, ConversationMessage, Login, Logout, Room, Status, VCard,
    };
    pub(crate) use std::string::String;
}

use payload_types::*;

macro_rules! event_types {
    (
        lifecycle { $($(#[doc = $ld:literal])* $l:ident $(($lp:ident))?;)* }
        session { $($(#[doc = $sd:literal])* $s:ident($sp:ident) $(<- $sv:ident)?;)* }
        request { $($(#[doc = $rd:literal])* $r:ident($rp:ident) $(<- $rv:ident)?;)* }
        outgoing { $($(#[doc = $od:literal])* $o:ident => $hint:literal;)* }
    ) => {
        /// Every event a backend can handle, as a plain value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventKind {
            $(#[doc = concat!("[`crate::event::", stringify!($l), "`].")] $l,)*
            $(#[doc = concat!("[`crate::event::", stringify!($s), "`].")] $s,)*
            $(#[doc = concat!("[`crate::event::", stringify!($r), "`].")] $r,)*
        }

        /// An event for one user's session, decoded and routed by the runtime.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            $(#[doc = concat!("See [`crate::event::", stringify!($s), "`].")] $s($sp),)*
            $(#[doc = concat!("See [`crate::event::", stringify!($r), "`].")] $r($rp),)*
        }

        impl Event {
            /// The XMPP bare JID of the user the event is for. For RAW_XML, the
            /// bare part of the stanza's `from` attribute.
            pub fn user(&self) -> Option<&str> {
                match self {
                    $(Event::$s(m) => m.session_user(),)*
                    $(Event::$r(m) => m.session_user(),)*
                }
            }

            /// The event's name, as written in `#[on(..)]`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Event::$s(_) => stringify!($s),)*
                    $(Event::$r(_) => stringify!($r),)*
                }
            }

            /// The event as a plain value.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$s(_) => EventKind::$s,)*
                    $(Event::$r(_) => EventKind::$r,)*
                }
            }
        }

        /// Turns a per-user message into its session event: the events
        /// decided by hand (the ones without a `<- Variant` in the table:
        /// one frame type, several events), then the table's entries.
        ///
        /// One match, so that the message is moved once: an event is a
        /// few hundred bytes, copied at every move.
        // The event is handed back by value on the hot path; boxing it would
        // cost an allocation per event.
        #[allow(clippy::result_large_err)]
        pub(crate) fn into_event(payload: Payload) -> std::result::Result<Event, Payload> {
            match payload {
                // The main marks an own-vCard update by the presence of a photo.
                Payload::Vcard(m) if m.photo.is_some() => Ok(Event::VCardUpdate(m)),
                Payload::Vcard(m) => Ok(Event::VCard(m)),
                // A roster names its user in its first entry: an empty one names nobody.
                Payload::Buddies(m) if m.buddy.is_empty() => Err(Payload::Buddies(m)),
                Payload::Buddies(m) => Ok(Event::Buddies(m)),
                $($(Payload::$sv(m) => Ok(Event::$s(m)),)?)*
                $($(Payload::$rv(m) => Ok(Event::$r(m)),)?)*
                other => Err(other),
            }
        }
    };
}

spectrum_events::events!(event_types);

/// The user a payload of an event is for.
trait SessionUser {
    fn session_user(&self) -> Option<&str>;
}

macro_rules! user_name_field {
    ($($ty:ty),*) => {$(
        impl SessionUser for $ty {
            fn session_user(&self) -> Option<&str> {
                Some(&self.user_name)
            }
        }
    )*};
}

user_name_field!(Status, ConversationMessage, Room, Buddy, VCard);

impl SessionUser for String {
    fn session_user(&self) -> Option<&str> {
        raw_xml_user(self)
    }
}

impl SessionUser for Buddies {
    fn session_user(&self) -> Option<&str> {
        self.buddy.first().map(|b| b.user_name.as_str())
    }
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
