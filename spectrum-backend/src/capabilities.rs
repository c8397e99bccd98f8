//! BACKEND_CONFIG: the features Spectrum 2 enables for the whole transport.

use crate::events::EventKind;

/// What this backend announces in BACKEND_CONFIG, once, before its first
/// PONG. Derived from the handled events; override with
/// [`crate::Runtime::capabilities`].
///
/// Spectrum 2 keeps the first value it receives for a key, for its whole
/// life, across backend restarts: choose deliberately.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `registration.needPassword`: the registration form asks for a password.
    pub need_password: bool,
    /// `registration.needRegistration`: users must register before use.
    pub need_registration: bool,
    /// `features.muc`: rooms are supported (derived: JoinRoom is handled).
    pub muc: bool,
    /// `features.rawxml`: stanzas travel as RAW_XML (derived: RawXml is handled).
    pub raw_xml: bool,
    /// `features.disable_jid_escaping`: map `@` to `%` instead of XEP-0106.
    pub disable_jid_escaping: bool,
    /// `features.receipts`: advertise message receipts; the backend then
    /// answers messages with an `id` using [`crate::Ctx::message_ack`].
    pub receipts: bool,
    /// `features.send_buddies_on_login` (derived: Buddies is handled).
    pub send_buddies_on_login: bool,
}

impl Capabilities {
    /// The announcement for a backend handling `events`.
    pub fn derive(events: &[EventKind]) -> Self {
        Capabilities {
            need_password: true,
            need_registration: true,
            muc: events.contains(&EventKind::JoinRoom),
            raw_xml: events.contains(&EventKind::RawXml),
            disable_jid_escaping: false,
            receipts: false,
            send_buddies_on_login: events.contains(&EventKind::Buddies),
        }
    }

    /// The INI text, in the layout of the reference C++ library; the two
    /// keys it cannot express are added only when set.
    ///
    /// ```
    /// use spectrum_backend::{Capabilities, EventKind};
    /// let text = Capabilities::derive(&[EventKind::Login, EventKind::JoinRoom]).to_ini();
    /// assert_eq!(text, "[registration]\nneedPassword=1\nneedRegistration=1\n\
    ///                   [features]\nmuc=1\nrawxml=0\ndisable_jid_escaping=0\n");
    /// ```
    pub fn to_ini(&self) -> String {
        let b = |v: bool| if v { "1" } else { "0" };
        let mut text = format!(
            "[registration]\nneedPassword={}\nneedRegistration={}\n[features]\nmuc={}\nrawxml={}\ndisable_jid_escaping={}\n",
            b(self.need_password),
            b(self.need_registration),
            b(self.muc),
            b(self.raw_xml),
            b(self.disable_jid_escaping),
        );
        if self.receipts {
            text.push_str("receipts=1\n");
        }
        if self.send_buddies_on_login {
            text.push_str("send_buddies_on_login=1\n");
        }
        text
    }
}
