//! Network-wide news for the rooms of one of the session's links (a gateway
//! connected to several networks at once, rooms named after theirs): like
//! [`Rooms::connection_lost_where`], the others' rooms are left alone.

use spectrum_proto::{ParticipantFlag, Payload};

use super::Rooms;

impl Rooms {
    /// [`Rooms::occupant_left_everywhere`] in the rooms whose name
    /// `on_link` accepts (a QUIT on one network).
    pub fn occupant_left_where(
        &mut self,
        on_link: impl Fn(&str) -> bool,
        nickname: &str,
        reason: &str,
    ) -> Vec<Payload> {
        let names = &self.names;
        let key = (names.fold_nickname)(nickname);
        let mut out = Vec::new();
        for r in self
            .rooms
            .values_mut()
            .filter(|r| r.joined && on_link(&r.name))
        {
            if let Some(o) = r.others.remove(&key) {
                out.push(r.left(names, &o, reason));
            }
        }
        out
    }

    /// [`Rooms::renamed_everywhere`] in the rooms whose name `on_link`
    /// accepts (a NICK on one network).
    pub fn renamed_where(
        &mut self,
        on_link: impl Fn(&str) -> bool,
        old: &str,
        new: &str,
    ) -> Vec<Payload> {
        self.private_chat_renamed(old, new);
        let names = &self.names;
        let mut out = Vec::new();
        for r in self
            .rooms
            .values_mut()
            .filter(|r| r.joined && on_link(&r.name))
        {
            out.extend(r.rename(names, old, new));
        }
        out
    }

    /// The link of the rooms `on_link` accepts gave up, and they are
    /// forgotten. Each room Spectrum 2 was shown as joined is left by the
    /// user, `reason` as the status text (also one being joined again
    /// after a lost connection); each join still waiting for the network
    /// is refused with ROOM_NOT_FOUND and `reason` (Spectrum 2 waits for an
    /// answer to it).
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::{Occupant, Rooms};
    /// # use spectrum_backend::proto::{Payload, Room};
    /// let mut rooms = Rooms::new("alice@example.org");
    /// for room in ["#a%irc.one.net", "#b%irc.two.net"] {
    ///     let join = Room { room: room.into(), nickname: "alice".into(), ..Room::default() };
    ///     rooms.join_requested(&join);
    ///     rooms.joined(room, "alice", [Occupant::new("bob")]);
    /// }
    /// let frames = rooms.link_gone_where(|room| room.ends_with("%irc.one.net"), "gave up");
    /// assert!(matches!(&frames[..], [Payload::ParticipantChanged(p)] if p.nickname == "alice"));
    /// assert!(!rooms.is_joined("#a%irc.one.net") && rooms.is_joined("#b%irc.two.net"));
    /// ```
    pub fn link_gone_where(
        &mut self,
        on_link: impl Fn(&str) -> bool,
        reason: &str,
    ) -> Vec<Payload> {
        let gone: Vec<String> = (self.rooms.iter())
            .filter(|(_, r)| on_link(&r.name))
            .map(|(key, _)| key.clone())
            .collect();
        let mut out = Vec::new();
        for key in gone {
            let Some(r) = self.remove(&key) else {
                continue;
            };
            out.push(if r.announced {
                r.own_left(&self.names, reason)
            } else {
                r.refused(&self.names, ParticipantFlag::RoomNotFound, reason)
            });
        }
        out
    }
}
