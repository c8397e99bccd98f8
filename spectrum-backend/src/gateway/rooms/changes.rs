//! Changes that networks send in parts: one flag of an occupant (IRC's
//! MODE +o), a subject's text and its setter in separate replies (IRC's
//! 332 and 333).

use spectrum_proto::{ParticipantFlag, Payload};

use super::Rooms;

impl Rooms {
    /// `flag` given (`on`) or taken from `nickname` in `room`, the other
    /// flags kept: PARTICIPANT_CHANGED if that changed anything.
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::{Occupant, Rooms};
    /// # use spectrum_backend::proto::Room;
    /// # use spectrum_backend::ParticipantFlag;
    /// let mut rooms = Rooms::new("alice@example.org");
    /// let join = Room { room: "#a".into(), nickname: "alice".into(), ..Room::default() };
    /// rooms.join_requested(&join);
    /// rooms.joined("#a", "alice", [Occupant::new("bob")]);
    /// assert_eq!(rooms.flag_set("#a", "bob", ParticipantFlag::Moderator, true).len(), 1);
    /// assert!(rooms.flag_set("#a", "bob", ParticipantFlag::Moderator, true).is_empty());
    /// ```
    pub fn flag_set(
        &mut self,
        room: &str,
        nickname: &str,
        flag: ParticipantFlag,
        on: bool,
    ) -> Vec<Payload> {
        let Some(current) = self.occupant_of(room, nickname) else {
            return Vec::new();
        };
        let flags = match on {
            true => current.flags.with(flag),
            false => current.flags.without(flag),
        };
        self.flags_changed(room, nickname, flags)
    }

    /// The subject's text, the setter kept
    /// ([`Rooms::subject_changed`] with both).
    pub fn subject_text(&mut self, room: &str, text: &str) -> Vec<Payload> {
        let by = self.subject(room).map(|(_, by)| by.to_owned());
        self.subject_changed(room, text, &by.unwrap_or_default())
    }

    /// Who set the subject, the text kept.
    pub fn subject_set_by(&mut self, room: &str, by: &str) -> Vec<Payload> {
        let text = self.subject(room).map(|(text, _)| text.to_owned());
        self.subject_changed(room, &text.unwrap_or_default(), by)
    }
}
