//! A per-session room tracker.
//!
//! [`Rooms`] remembers what the legacy network said about the rooms the
//! user is in (own nickname, occupants with their flags, subject) and turns
//! each change into the PARTICIPANT_CHANGED, ROOM_NICKNAME_CHANGED and
//! ROOM_SUBJECT_CHANGED frames Spectrum 2 expects, addressed to the user:
//!
//! * room names are echoed exactly as JOIN_ROOM gave them (Spectrum 2
//!   lower-cases them and matches them case-sensitively), whatever case the
//!   legacy network uses;
//! * a join is answered with every occupant, then the user with the ME
//!   flag, then the subject; a nickname the network forced is announced
//!   with ROOM_NICKNAME_CHANGED first;
//! * the JOIN_ROOM that Spectrum 2 replays after every CONNECTED, for a room
//!   already joined, is answered from memory without touching the network;
//! * a full occupant list becomes only the differences;
//! * a network with identifiers of its own, for rooms ([`Rooms::identify`])
//!   or people ([`Occupant::id`](Occupant#structfield.id)), finds rooms by
//!   them and sees a changed nickname in a full list as a rename.
//!
//! ```
//! use spectrum_backend::gateway::rooms::{JoinAction, Occupant, Rooms};
//! use spectrum_backend::proto::{Payload, Room};
//!
//! let mut rooms = Rooms::new("alice@example.org");
//! let request = Room {
//!     user_name: "alice@example.org".into(),
//!     nickname: "alice".into(),
//!     room: "#rust".into(),
//!     password: Some(String::new()),
//! };
//! // The first JOIN_ROOM: join on the network.
//! assert!(matches!(rooms.join_requested(&request), JoinAction::Join(_)));
//! // The network confirms, with the occupants (IRC spells the channel "#Rust").
//! let frames = rooms.joined("#Rust", "alice", [Occupant::new("bob").moderator()]);
//! assert_eq!(frames.len(), 2); // bob, then alice with the ME flag
//! // Spectrum 2 replays the join after a CONNECTED: answered from memory.
//! assert!(matches!(rooms.join_requested(&request), JoinAction::Replay(f) if f == frames));
//! ```

mod changes;
mod occupant;
mod per_link;
mod private;
mod room;

use std::collections::BTreeMap;

use spectrum_proto::{self as proto, ParticipantFlag, Payload};

use super::frames;
pub use occupant::{Flags, Occupant};
pub use private::MAX_PRIVATE_CHATS;
use room::{Names, Room};

/// Maps a room name or nickname to the key it is compared by.
pub type Fold = fn(&str) -> String;

/// A join to perform on the legacy network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    /// The room name as Spectrum 2 gave it (lower-cased by Spectrum 2).
    pub room: String,
    /// The nickname to join with.
    pub nickname: String,
    /// The room password; empty for none.
    pub password: String,
}

/// What to do for a JOIN_ROOM; see [`Rooms::join_requested`].
#[derive(Clone, Debug, PartialEq)]
pub enum JoinAction {
    /// A room the user is not in: join it on the network, then report the
    /// answer with [`Rooms::joined`] (or [`Rooms::join_failed`]).
    Join(JoinRequest),
    /// A join of this room is already on its way; its answer serves this
    /// request too.
    Pending,
    /// Already in the room (Spectrum 2 replays joins after every
    /// CONNECTED): send these frames; nothing goes to the network.
    Replay(Vec<Payload>),
}

/// At most this many occupants of one room are kept while its list arrives
/// in pieces ([`Rooms::occupants_arriving`]).
pub const MAX_ARRIVING: usize = 20_000;

/// The rooms of one user's session; see the [module](self) documentation.
#[derive(Debug, Clone)]
pub struct Rooms {
    names: Names,
    fold_room: Fold,
    /// By folded room name.
    rooms: BTreeMap<String, Room>,
    /// The network's identifiers of rooms ([`Rooms::identify`]), exact, to
    /// the folded room name.
    ids: BTreeMap<String, String>,
    private: private::PrivateChats,
}

fn lowercase(name: &str) -> String {
    name.to_lowercase()
}

fn exact(name: &str) -> String {
    name.to_owned()
}

impl Rooms {
    /// No room yet, for `user` (the XMPP bare JID every frame is addressed
    /// to). Room names are compared without case (Spectrum 2 lower-cases
    /// them), nicknames exactly; see [`Rooms::fold_nicknames`].
    pub fn new(user: impl Into<String>) -> Rooms {
        Rooms {
            names: Names {
                user: user.into(),
                fold_nickname: exact,
            },
            fold_room: lowercase,
            rooms: BTreeMap::new(),
            ids: BTreeMap::new(),
            private: private::PrivateChats::default(),
        }
    }

    /// The key of `room`: by the network's identifier if it is one, else
    /// by its folded name.
    fn key(&self, room: &str) -> String {
        match self.ids.get(room) {
            Some(key) => key.clone(),
            None => (self.fold_room)(room),
        }
    }

    /// Forgets the room under `key`, identifier included.
    fn remove(&mut self, key: &str) -> Option<Room> {
        let room = self.rooms.remove(key)?;
        if let Some(id) = &room.id {
            self.ids.remove(id);
        }
        Some(room)
    }

    /// Names `room` (joined or being joined) also by `id`, the legacy
    /// network's own identifier for it when that is not the name the user
    /// joined by (a Matrix room ID under an alias): every method that takes
    /// a room then takes `id` too, compared exactly, so that news read from
    /// the network find their room without a map of the backend's own.
    /// Forgotten with the room. Nothing happens if the user is not in
    /// `room`.
    pub fn identify(&mut self, room: &str, id: impl Into<String>) {
        let key = self.key(room);
        let Some(r) = self.rooms.get_mut(&key) else {
            return;
        };
        let id = id.into();
        if let Some(old) = r.id.replace(id.clone()) {
            self.ids.remove(&old);
        }
        self.ids.insert(id, key);
    }

    /// The identifier [`Rooms::identify`] gave `room`.
    pub fn id(&self, room: &str) -> Option<&str> {
        self.rooms.get(&self.key(room))?.id.as_deref()
    }

    /// Compares nicknames by `fold` (IRC: ASCII lower case).
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::Rooms;
    /// let rooms = Rooms::new("alice@example.org").fold_nicknames(|n| n.to_ascii_lowercase());
    /// ```
    #[must_use]
    pub fn fold_nicknames(mut self, fold: Fold) -> Rooms {
        self.names.fold_nickname = fold;
        self
    }

    /// Compares room names by `fold` instead of Unicode lower case.
    #[must_use]
    pub fn fold_rooms(mut self, fold: Fold) -> Rooms {
        self.fold_room = fold;
        self
    }

    /// The XMPP bare JID the frames are addressed to.
    pub fn user(&self) -> &str {
        &self.names.user
    }

    /// A JOIN_ROOM from Spectrum 2: join on the network, wait for a join
    /// already on its way, or answer from memory (the replay after
    /// CONNECTED). The request's room name and nickname become the ones
    /// echoed from now on.
    pub fn join_requested(&mut self, request: &proto::Room) -> JoinAction {
        let key = (self.fold_room)(&request.room);
        let password = request.password.clone().unwrap_or_default();
        if let Some(room) = self.rooms.get_mut(&key) {
            room.name.clone_from(&request.room);
            room.requested.clone_from(&request.nickname);
            room.password = password;
            return if room.joined {
                JoinAction::Replay(room.answer(&self.names))
            } else {
                JoinAction::Pending
            };
        }
        self.rooms.insert(
            key,
            Room {
                name: request.room.clone(),
                requested: request.nickname.clone(),
                password: password.clone(),
                joined: false,
                announced: false,
                own: Occupant::new(request.nickname.clone()),
                others: BTreeMap::new(),
                subject: None,
                id: None,
                arriving: Vec::new(),
            },
        );
        JoinAction::Join(JoinRequest {
            room: request.room.clone(),
            nickname: request.nickname.clone(),
            password,
        })
    }

    /// The network let the user into `room` as `own_nickname`, with these
    /// occupants (the user's own entry among them, if any, gives the user's
    /// flags). The first time: the full answer to JOIN_ROOM. After
    /// [`Rooms::connection_lost`]: only what changed meanwhile.
    ///
    /// A room the user did not ask for gives nothing: Spectrum 2 would drop
    /// its frames.
    pub fn joined(
        &mut self,
        room: &str,
        own_nickname: &str,
        occupants: impl IntoIterator<Item = Occupant>,
    ) -> Vec<Payload> {
        let Some(r) = self.rooms.get_mut(&self.key(room)) else {
            return Vec::new();
        };
        let names = &self.names;
        let mut own = Occupant::new(own_nickname);
        let mut others = BTreeMap::new();
        for o in occupants {
            if names.same_nickname(&o.nickname, own_nickname) {
                own = Occupant {
                    nickname: own_nickname.to_owned(),
                    ..o
                };
            } else {
                others.insert((names.fold_nickname)(&o.nickname), o);
            }
        }
        r.joined = true;
        if !r.announced {
            r.announced = true;
            r.own = own;
            r.others = others;
            return r.answer(names);
        }
        let mut out = Vec::new();
        if own.nickname != r.own.nickname {
            let old = r.own.nickname.clone();
            out.extend(r.rename(names, &old, own_nickname));
        }
        out.extend(r.sync(names, own, others));
        out
    }

    /// The network refused the join: the user's requested nickname with
    /// the error `flag` (CONFLICT, NOT_AUTHORIZED or ROOM_NOT_FOUND) and
    /// `reason` as the error text. The room is forgotten (Spectrum 2 sends
    /// LEAVE_ROOM after it).
    pub fn join_failed(&mut self, room: &str, flag: ParticipantFlag, reason: &str) -> Vec<Payload> {
        let Some(r) = self.remove(&self.key(room)) else {
            return Vec::new();
        };
        vec![r.refused(&self.names, flag, reason)]
    }

    /// The complete occupant list of a joined room, as the network sends it
    /// again: PARTICIPANT_CHANGED for the differences only. The user's own
    /// entry, if present, updates the user's flags.
    pub fn occupants_are(
        &mut self,
        room: &str,
        occupants: impl IntoIterator<Item = Occupant>,
    ) -> Vec<Payload> {
        let Some(r) = self.rooms.get_mut(&self.key(room)).filter(|r| r.joined) else {
            return Vec::new();
        };
        let names = &self.names;
        let same = |a: &str, b: &str| names.same_nickname(a, b);
        let mut own = r.own.clone();
        let mut renamed = None;
        let mut others = BTreeMap::new();
        for o in occupants {
            if o.is(&r.own, same) {
                // Known by identity under another nickname: the user's
                // own rename, from elsewhere.
                if !same(&o.nickname, &r.own.nickname) {
                    renamed = Some(o.nickname.clone());
                }
                own = Occupant {
                    nickname: renamed.clone().unwrap_or_else(|| r.own.nickname.clone()),
                    ..o
                };
            } else {
                others.insert((names.fold_nickname)(&o.nickname), o);
            }
        }
        let mut out = Vec::new();
        if let Some(new) = renamed {
            let old = r.own.nickname.clone();
            out.extend(r.rename(names, &old, &new));
        }
        out.extend(r.sync(names, own, others));
        out
    }

    /// A piece of `room`'s occupant list, for a network that sends it in
    /// several messages (IRC's NAMES replies, Matrix's member pages): kept
    /// until [`Rooms::occupants_done`]. At most [`MAX_ARRIVING`] are kept
    /// per room, so that a network that never ends the list cannot take
    /// the memory; pieces for a room the user is not in or joining are
    /// dropped.
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::{Occupant, Rooms};
    /// # use spectrum_backend::proto::{Payload, Room};
    /// let mut rooms = Rooms::new("alice@example.org");
    /// let join = Room { room: "#a".into(), nickname: "alice".into(), ..Room::default() };
    /// rooms.join_requested(&join);
    /// rooms.occupants_arriving("#a", [Occupant::new("bob")]);
    /// rooms.occupants_arriving("#a", [Occupant::new("carol"), Occupant::new("alice")]);
    /// let frames = rooms.occupants_done("#a", "alice");
    /// let names = frames.iter().filter(|p| matches!(p, Payload::ParticipantChanged(_))).count();
    /// assert_eq!(names, 3);
    /// ```
    pub fn occupants_arriving(
        &mut self,
        room: &str,
        occupants: impl IntoIterator<Item = Occupant>,
    ) {
        if let Some(r) = self.rooms.get_mut(&self.key(room)) {
            let space = MAX_ARRIVING.saturating_sub(r.arriving.len());
            r.arriving.extend(occupants.into_iter().take(space));
        }
    }

    /// `room`'s occupant list is complete: [`Rooms::joined`] as
    /// `own_nickname` for a room being joined (the answer to JOIN_ROOM),
    /// [`Rooms::occupants_are`] for one joined already (the differences).
    pub fn occupants_done(&mut self, room: &str, own_nickname: &str) -> Vec<Payload> {
        let Some(r) = self.rooms.get_mut(&self.key(room)) else {
            return Vec::new();
        };
        let occupants = std::mem::take(&mut r.arriving);
        match r.joined {
            true => self.occupants_are(room, occupants),
            false => self.joined(room, own_nickname, occupants),
        }
    }

    /// `id`'s entry in `room` (the user's own included), by the identity
    /// the network gave it ([`Occupant::id`](Occupant#structfield.id)).
    pub fn occupant_with_id(&self, room: &str, id: &str) -> Option<&Occupant> {
        let r = self.rooms.get(&self.key(room))?;
        std::iter::once(&r.own)
            .chain(r.others.values())
            .find(|o| o.id.as_deref() == Some(id))
    }

    /// An occupant joined `room` or changed (flags, presence, alias,
    /// avatar); the user's own nickname updates the user's entry. Nothing
    /// if nothing changed.
    pub fn occupant(&mut self, room: &str, occupant: Occupant) -> Vec<Payload> {
        match self.rooms.get_mut(&self.key(room)) {
            Some(r) if r.joined => r.upsert(&self.names, occupant),
            _ => Vec::new(),
        }
    }

    /// `nickname`'s flags in `room` are now `flags` (e.g. given or taken
    /// operator status).
    pub fn flags_changed(&mut self, room: &str, nickname: &str, flags: Flags) -> Vec<Payload> {
        let names = &self.names;
        let Some(r) = self.rooms.get_mut(&self.key(room)) else {
            return Vec::new();
        };
        let Some(current) = r.get(names, nickname).filter(|_| r.joined) else {
            return Vec::new();
        };
        let changed = Occupant {
            flags,
            ..current.clone()
        };
        r.upsert(names, changed)
    }

    /// `nickname` left `room` (`reason` is shown to the user). If it is the
    /// user (kicked), the user leaves too and the room is forgotten.
    pub fn occupant_left(&mut self, room: &str, nickname: &str, reason: &str) -> Vec<Payload> {
        let key = self.key(room);
        let Some(r) = self.rooms.get_mut(&key).filter(|r| r.joined) else {
            return Vec::new();
        };
        let names = &self.names;
        if names.same_nickname(nickname, &r.own.nickname) {
            let frame = r.own_left(names, reason);
            self.remove(&key);
            return vec![frame];
        }
        match r.others.remove(&(names.fold_nickname)(nickname)) {
            Some(o) => vec![r.left(names, &o, reason)],
            None => Vec::new(),
        }
    }

    /// `nickname` left every room (a network-wide quit). The user's own
    /// nickname is left alone: that is the link's business.
    pub fn occupant_left_everywhere(&mut self, nickname: &str, reason: &str) -> Vec<Payload> {
        self.occupant_left_where(|_| true, nickname, reason)
    }

    /// `old` is now called `new` in `room`. For the user's own nickname:
    /// ROOM_NICKNAME_CHANGED, then the rename.
    pub fn renamed(&mut self, room: &str, old: &str, new: &str) -> Vec<Payload> {
        self.private_chat_renamed(old, new);
        match self.rooms.get_mut(&self.key(room)) {
            Some(r) if r.joined => r.rename(&self.names, old, new),
            _ => Vec::new(),
        }
    }

    /// `old` is now called `new` in every room (a network-wide nickname).
    pub fn renamed_everywhere(&mut self, old: &str, new: &str) -> Vec<Payload> {
        self.renamed_where(|_| true, old, new)
    }

    /// `room`'s subject is `text`, set by `by`. Remembered for a room being
    /// joined (it goes out with the join's answer); sent for a joined room
    /// if it changed.
    pub fn subject_changed(&mut self, room: &str, text: &str, by: &str) -> Vec<Payload> {
        let Some(r) = self.rooms.get_mut(&self.key(room)) else {
            return Vec::new();
        };
        let subject = Some((text.to_owned(), by.to_owned()));
        if r.subject == subject {
            return Vec::new();
        }
        r.subject = subject;
        if !r.joined {
            return Vec::new();
        }
        vec![frames::subject(&self.names.user, &r.name, text, by)]
    }

    /// A LEAVE_ROOM from Spectrum 2: forgets the room at once (later news
    /// about it gives nothing) and returns its name, to leave it on the
    /// network; `None` if the user was not in it.
    pub fn left(&mut self, room: &str) -> Option<String> {
        let key = self.key(room);
        self.remove(&key).map(|r| r.name)
    }

    /// The network connection was lost: every room must be joined again
    /// once it is back. Returns those joins, with the nickname Spectrum 2
    /// knows the user by; [`Rooms::joined`] then reports only what changed.
    pub fn connection_lost(&mut self) -> Vec<JoinRequest> {
        self.connection_lost_where(|_| true)
    }

    /// [`Rooms::connection_lost`] for the rooms whose name `on_link`
    /// accepts: one of the session's connections was lost (a gateway
    /// connected to several networks, rooms named after theirs), the
    /// others' rooms stay joined.
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::{Occupant, Rooms};
    /// # use spectrum_backend::proto::Room;
    /// let mut rooms = Rooms::new("alice@example.org");
    /// for room in ["#a%irc.one.net", "#b%irc.two.net"] {
    ///     let join = Room { room: room.into(), nickname: "alice".into(), ..Room::default() };
    ///     rooms.join_requested(&join);
    ///     rooms.joined(room, "alice", [Occupant::new("bob")]);
    /// }
    /// let rejoin = rooms.connection_lost_where(|room| room.ends_with("%irc.one.net"));
    /// assert_eq!(rejoin.len(), 1);
    /// assert!(!rooms.is_joined("#a%irc.one.net") && rooms.is_joined("#b%irc.two.net"));
    /// ```
    pub fn connection_lost_where(&mut self, on_link: impl Fn(&str) -> bool) -> Vec<JoinRequest> {
        self.rooms
            .values_mut()
            .filter(|r| on_link(&r.name))
            .map(|r| {
                r.joined = false;
                r.arriving.clear();
                JoinRequest {
                    room: r.name.clone(),
                    nickname: r.own.nickname.clone(),
                    password: r.password.clone(),
                }
            })
            .collect()
    }

    /// The name Spectrum 2 gave `room` (for frames about it built
    /// elsewhere, e.g. room messages), if the user joined or is joining it.
    pub fn name(&self, room: &str) -> Option<&str> {
        self.rooms.get(&self.key(room)).map(|r| r.name.as_str())
    }

    /// Whether the network has confirmed the user in `room`.
    pub fn is_joined(&self, room: &str) -> bool {
        self.rooms.get(&self.key(room)).is_some_and(|r| r.joined)
    }

    /// The user's nickname in `room`: the network's, once joined.
    pub fn own_nickname(&self, room: &str) -> Option<&str> {
        self.rooms
            .get(&self.key(room))
            .map(|r| r.own.nickname.as_str())
    }

    /// `nickname`'s entry in `room` (the user's own included).
    pub fn occupant_of(&self, room: &str, nickname: &str) -> Option<&Occupant> {
        self.rooms
            .get(&self.key(room))
            .and_then(|r| r.get(&self.names, nickname))
    }

    /// The other occupants of `room`.
    pub fn occupants_of(&self, room: &str) -> impl Iterator<Item = &Occupant> {
        self.rooms
            .get(&self.key(room))
            .into_iter()
            .flat_map(|r| r.others.values())
    }

    /// `room`'s subject and who set it.
    pub fn subject(&self, room: &str) -> Option<(&str, &str)> {
        self.rooms
            .get(&self.key(room))
            .and_then(|r| r.subject.as_ref())
            .map(|(text, by)| (text.as_str(), by.as_str()))
    }

    /// The names (as Spectrum 2 gave them) of the rooms joined or being
    /// joined.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rooms.values().map(|r| r.name.as_str())
    }
}

#[cfg(test)]
mod tests;
