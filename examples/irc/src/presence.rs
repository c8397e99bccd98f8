//! Presence both ways: the XMPP user's away state as IRC AWAY; others'
//! away state from `away-notify` where the server grants it and from WHO
//! polls otherwise; contacts' online state from WHO.

use irc_proto::Command;
use spectrum_backend::gateway::prelude::*;

use crate::state::State;
use crate::text::{fold, is_channel};

/// The AWAY command for an XMPP status: away, xa and dnd set the text
/// (`Away` when there is none); other states clear it.
pub(crate) fn away_command(status: StatusType, text: &str) -> Option<String> {
    match status {
        StatusType::StatusAway | StatusType::StatusXa | StatusType::StatusDnd => {
            let text = crate::text::clean(text.lines().next().unwrap_or_default());
            Some(if text.trim().is_empty() {
                "Away".to_owned()
            } else {
                text
            })
        }
        _ => None,
    }
}

impl State {
    /// Whether the server tells us of away changes itself.
    pub(crate) fn away_notify(&self) -> bool {
        self.caps.iter().any(|c| c == "away-notify")
    }

    /// The WHO lines of one poll: the rooms of the session's `rooms` on
    /// this server (unless away-notify keeps them current) and the contacts.
    pub(crate) fn poll(&self, rooms: &Rooms) -> Vec<String> {
        let mut targets: Vec<String> = Vec::new();
        if !self.away_notify() {
            targets.extend(
                (self.rooms_of(rooms).iter())
                    .filter(|r| rooms.is_joined(r))
                    .map(|r| self.irc_name(r).to_owned()),
            );
        }
        targets.extend(
            self.contacts
                .iter()
                .map(|(name, _)| self.irc_name(name).to_owned()),
        );
        targets
            .into_iter()
            .map(|t| String::from(&Command::WHO(Some(t), None)))
            .collect()
    }

    /// `nick` is now `status` with `text`: in every room they are in, and
    /// in the roster if they are a contact.
    pub(crate) fn presence(
        &mut self,
        rooms: &mut Rooms,
        nick: &str,
        status: StatusType,
        text: &str,
    ) -> Vec<Payload> {
        let mut out = Vec::new();
        if fold(nick) != fold(&self.nick) {
            // The tracker says nothing where nothing changed.
            for room in self.rooms_of(rooms) {
                if let Some(o) = rooms.occupant_of(&room, nick) {
                    let changed = o.clone().status(status, text);
                    out.extend(rooms.occupant(&room, changed));
                }
            }
        }
        let buddy = self.buddy(nick);
        if self.contacts.get(&buddy).is_some() {
            out.extend(self.contacts.status_changed(&buddy, status, text));
        }
        out
    }

    /// `:nick AWAY [:text]` (away-notify).
    pub(crate) fn on_away(
        &mut self,
        rooms: &mut Rooms,
        nick: &str,
        text: Option<&str>,
    ) -> Vec<Payload> {
        match text.filter(|t| !t.is_empty()) {
            Some(text) => self.presence(rooms, nick, StatusType::StatusAway, text),
            None => self.presence(rooms, nick, StatusType::StatusOnline, ""),
        }
    }

    /// RPL_WHOREPLY: `me channel user host server nick flags :hops real`.
    pub(crate) fn on_who_reply(&mut self, rooms: &mut Rooms, args: &[String]) -> Vec<Payload> {
        let (Some(nick), Some(flags)) = (args.get(5), args.get(6)) else {
            return Vec::new();
        };
        // Kept for contacts only: a server cannot grow it with made-up names.
        if self.contacts.get(&self.buddy(nick)).is_some() {
            self.who_answered.insert(fold(nick));
        }
        let status = if flags.starts_with('G') {
            StatusType::StatusAway
        } else {
            StatusType::StatusOnline
        };
        // WHO gives the state, not the text: keep a text already known.
        let text = match status {
            StatusType::StatusAway => self
                .contacts
                .get(&self.buddy(nick))
                .filter(|c| c.status == StatusType::StatusAway)
                .map(|c| c.status_message.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        self.presence(rooms, nick, status, &text)
    }

    /// RPL_ENDOFWHO for `target`: a contact nobody answered for is offline.
    pub(crate) fn on_who_end(&mut self, target: &str) -> Vec<Payload> {
        if is_channel(target) || self.who_answered.remove(&fold(target)) {
            return Vec::new();
        }
        let buddy = self.buddy(target);
        match self.contacts.get(&buddy) {
            Some(_) => self
                .contacts
                .status_changed(&buddy, StatusType::StatusNone, "")
                .into_iter()
                .collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn away_xa_and_dnd_set_away_others_clear_it() {
        assert_eq!(
            away_command(StatusType::StatusAway, "lunch").as_deref(),
            Some("lunch")
        );
        assert_eq!(
            away_command(StatusType::StatusXa, "").as_deref(),
            Some("Away")
        );
        assert_eq!(
            away_command(StatusType::StatusDnd, "busy\nreally").as_deref(),
            Some("busy")
        );
        assert_eq!(away_command(StatusType::StatusOnline, "here"), None);
        assert_eq!(away_command(StatusType::StatusFfc, ""), None);
    }
}
