//! One room's state and the frames its changes give.

use std::collections::BTreeMap;

use spectrum_proto::{self as proto, ParticipantFlag, Payload, StatusType};

use super::{Fold, Occupant};
use crate::gateway::frames;

/// The names and rules shared by every room of a session.
#[derive(Debug, Clone)]
pub(super) struct Names {
    pub(super) user: String,
    pub(super) fold_nickname: Fold,
}

impl Names {
    pub(super) fn same_nickname(&self, a: &str, b: &str) -> bool {
        (self.fold_nickname)(a) == (self.fold_nickname)(b)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Room {
    /// The room name exactly as the latest JOIN_ROOM gave it.
    pub(super) name: String,
    /// The nickname the latest JOIN_ROOM asked for.
    pub(super) requested: String,
    pub(super) password: String,
    /// The network has confirmed the join (and not lost it since).
    pub(super) joined: bool,
    /// Spectrum 2 has been sent the occupant list once.
    pub(super) announced: bool,
    /// The user in this room; the nickname is the one the network uses.
    pub(super) own: Occupant,
    /// Other occupants by folded nickname.
    pub(super) others: BTreeMap<String, Occupant>,
    /// Subject text and who set it.
    pub(super) subject: Option<(String, String)>,
    /// The network's identifier of the room, if it gave one.
    pub(super) id: Option<String>,
    /// An occupant list arriving in pieces
    /// ([`Rooms::occupants_arriving`](super::Rooms::occupants_arriving)).
    pub(super) arriving: Vec<Occupant>,
}

impl Room {
    pub(super) fn participant(&self, names: &Names, o: &Occupant) -> proto::Participant {
        let mut p = frames::participant(&names.user, &self.name, &o.nickname);
        p.flag = o.flags.bits();
        p.status = o.status as i32;
        p.status_message = Some(o.status_message.clone());
        p.alias = Some(o.alias.clone());
        p.icon_hash = (!o.icon_hash.is_empty()).then(|| o.icon_hash.clone());
        p
    }

    /// The user's own entry: the ME flag on top of what the network said.
    pub(super) fn own_participant(&self, names: &Names) -> proto::Participant {
        let mut p = self.participant(names, &self.own);
        p.flag |= ParticipantFlag::Me.bit();
        p
    }

    pub(super) fn left(&self, names: &Names, o: &Occupant, reason: &str) -> Payload {
        gone(self.participant(names, o), reason)
    }

    /// The user is out of the room (kicked, or its link gave up).
    pub(super) fn own_left(&self, names: &Names, reason: &str) -> Payload {
        gone(self.own_participant(names), reason)
    }

    /// The answer to a join the network did not grant: the requested
    /// nickname with the error `flag`, `reason` as the text.
    pub(super) fn refused(&self, names: &Names, flag: ParticipantFlag, reason: &str) -> Payload {
        let mut p = frames::participant(&names.user, &self.name, &self.requested);
        p.flag = flag.bit();
        gone(p, reason)
    }

    /// The full answer to a JOIN_ROOM: the nickname change if the network
    /// forced one, every other occupant, the user last, then the subject.
    pub(super) fn answer(&self, names: &Names) -> Vec<Payload> {
        let mut out = Vec::with_capacity(self.others.len() + 3);
        let forced = self.own.nickname != self.requested;
        if forced {
            out.push(frames::room_nickname(
                &names.user,
                &self.name,
                &self.own.nickname,
            ));
        }
        for o in self.others.values() {
            out.push(Payload::ParticipantChanged(self.participant(names, o)));
        }
        let mut me = self.own_participant(names);
        if forced {
            // Spectrum 2 knows the user by the requested nickname: a rename
            // to the actual one gives the self-presence (110 and 210).
            me.nickname = self.requested.clone();
            me.newname = Some(self.own.nickname.clone());
        }
        out.push(Payload::ParticipantChanged(me));
        if let Some((text, by)) = &self.subject {
            out.push(frames::subject(&names.user, &self.name, text, by));
        }
        out
    }

    /// Replaces the occupants with `own` and `others`; the frames for what
    /// differs.
    pub(super) fn sync(
        &mut self,
        names: &Names,
        own: Occupant,
        others: BTreeMap<String, Occupant>,
    ) -> Vec<Payload> {
        let mut out = self.renames(names, &others);
        for (key, old) in &self.others {
            if !others.contains_key(key) {
                out.push(self.left(names, old, ""));
            }
        }
        for (key, new) in &others {
            if self.others.get(key) != Some(new) {
                out.push(Payload::ParticipantChanged(self.participant(names, new)));
            }
        }
        self.others = others;
        if own != self.own {
            self.own = own;
            out.push(Payload::ParticipantChanged(self.own_participant(names)));
        }
        out
    }

    /// The occupants whose identity ([`Occupant::id`]) is in `others`
    /// under another nickname: renamed first (so that the differences that
    /// follow are about the new nicknames), one rename frame each.
    fn renames(&mut self, names: &Names, others: &BTreeMap<String, Occupant>) -> Vec<Payload> {
        let new_key: BTreeMap<&str, &String> = others
            .iter()
            .filter_map(|(key, o)| Some((o.id.as_deref()?, key)))
            .collect();
        if new_key.is_empty() {
            return Vec::new();
        }
        let moving: Vec<(String, String)> = self
            .others
            .iter()
            .filter_map(|(key, o)| {
                let to = *new_key.get(o.id.as_deref()?)?;
                (to != key).then(|| (key.clone(), to.clone()))
            })
            .collect();
        // All out first, then all in: two occupants may swap nicknames.
        let moved: Vec<(String, Occupant)> = moving
            .into_iter()
            .filter_map(|(from, to)| Some((to, self.others.remove(&from)?)))
            .collect();
        let mut out = Vec::with_capacity(moved.len());
        for (to, mut o) in moved {
            let mut p = self.participant(names, &o);
            o.nickname.clone_from(&others[&to].nickname);
            p.newname = Some(o.nickname.clone());
            out.push(Payload::ParticipantChanged(p));
            if let Some(displaced) = self.others.insert(to, o) {
                // Someone else held that nickname and is not in the list
                // under it any more: gone.
                out.push(self.left(names, &displaced, ""));
            }
        }
        out
    }

    /// An occupant (or the user) appeared or changed.
    pub(super) fn upsert(&mut self, names: &Names, mut o: Occupant) -> Vec<Payload> {
        if names.same_nickname(&o.nickname, &self.own.nickname) {
            o.nickname = self.own.nickname.clone();
            if o == self.own {
                return Vec::new();
            }
            self.own = o;
            return vec![Payload::ParticipantChanged(self.own_participant(names))];
        }
        let key = (names.fold_nickname)(&o.nickname);
        if self.others.get(&key) == Some(&o) {
            return Vec::new();
        }
        let frame = Payload::ParticipantChanged(self.participant(names, &o));
        self.others.insert(key, o);
        vec![frame]
    }

    /// `old` is now called `new`: another occupant, or the user.
    pub(super) fn rename(&mut self, names: &Names, old: &str, new: &str) -> Vec<Payload> {
        if names.same_nickname(old, &self.own.nickname) {
            let mut p = self.own_participant(names);
            p.newname = Some(new.to_owned());
            self.own.nickname = new.to_owned();
            // The new nickname first, so that the rename lands on the user.
            return vec![
                frames::room_nickname(&names.user, &self.name, new),
                Payload::ParticipantChanged(p),
            ];
        }
        let Some(mut o) = self.others.remove(&(names.fold_nickname)(old)) else {
            return Vec::new();
        };
        let mut p = self.participant(names, &o);
        p.newname = Some(new.to_owned());
        o.nickname = new.to_owned();
        self.others.insert((names.fold_nickname)(new), o);
        vec![Payload::ParticipantChanged(p)]
    }

    /// `nickname`'s entry, the user's or another occupant's.
    pub(super) fn get(&self, names: &Names, nickname: &str) -> Option<&Occupant> {
        if names.same_nickname(nickname, &self.own.nickname) {
            return Some(&self.own);
        }
        self.others.get(&(names.fold_nickname)(nickname))
    }
}

/// `p` as gone from the room: unavailable, with `reason` as the status text.
pub(super) fn gone(mut p: proto::Participant, reason: &str) -> Payload {
    p.status = StatusType::StatusNone as i32;
    p.status_message = Some(reason.to_owned());
    Payload::ParticipantChanged(p)
}
