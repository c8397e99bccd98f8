//! What the session knows about the Matrix account, and what each sync
//! answer means for the XMPP side.
//!
//! No I/O here: [`Tracker::on_sync`] takes one sync answer and returns the
//! [`Out`] events to report to Spectrum 2; the handlers ask it where an XMPP
//! message goes. The sync task applies answers under a lock and sends the
//! events after releasing it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::SystemTime;

use serde_json::Value;
use spectrum_backend::StatusType;
use spectrum_backend::gateway::contacts::Contacts;
use spectrum_backend::proto::Payload;

use crate::matrix::parse_direct;
use crate::matrix::room::RoomState;
use crate::matrix::types::{Event, SyncResponse};
use crate::view::{self, ENCRYPTED_ROOM, Shown};

/// Messages awaiting a read receipt, per room; older ones are forgotten.
const PENDING_ACKS: usize = 64;

/// Something to tell Spectrum 2.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A direct message from (or, as a carbon, to) `buddy`.
    Message {
        buddy: String,
        shown: Shown,
        carbon: bool,
        at: Option<SystemTime>,
    },
    /// A message in a room the XMPP user joined.
    RoomMessage {
        room: String,
        nick: String,
        shown: Shown,
        at: Option<SystemTime>,
    },
    /// An occupant appeared, changed, left or was renamed.
    Participant {
        room: String,
        nick: String,
        moderator: bool,
        change: Change,
    },
    /// A room's topic changed.
    Subject {
        room: String,
        text: String,
        by: String,
    },
    /// A direct-message partner started or stopped typing.
    Typing { buddy: String, typing: bool },
    /// A direct-message partner read the message the XMPP user sent with `id`.
    Ack { buddy: String, id: String },
    /// A new direct-message partner: announce as a contact.
    Contact { user_id: String },
    /// A contact's presence changed.
    Presence {
        user_id: String,
        status: StatusType,
        message: String,
    },
    /// An invitation to a direct chat: accept it.
    AcceptInvite { room_id: String, from: String },
}

/// How an occupant changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Present (joined, or their flags changed).
    Present,
    /// Left the room.
    Left,
    /// Now called this.
    Renamed(String),
}

/// A Matrix room the account is in.
#[derive(Debug, Default)]
struct Joined {
    state: RoomState,
    nicks: BTreeMap<String, String>,
    /// Newly joined: its timeline up to the account's own join is history,
    /// not shown.
    fresh: bool,
    /// The newest event from someone else not yet marked read.
    unread: Option<String>,
    /// Partners typing now.
    typing: BTreeSet<String>,
    /// (event ID, XMPP message id) of sent messages awaiting a receipt.
    pending: VecDeque<(String, String)>,
}

/// A room the XMPP user joined as a group chat.
#[derive(Debug, Clone)]
struct Attached {
    /// The room name exactly as JOIN_ROOM gave it.
    name: String,
    /// The user's nickname in it, as Spectrum 2 knows it.
    nick: String,
}

/// What a JOIN_ROOM is answered with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Occupants {
    /// Other members: nickname and whether a moderator.
    pub(crate) others: Vec<(String, bool)>,
    /// The user's own nickname on Matrix.
    pub(crate) own_nick: String,
    pub(crate) own_moderator: bool,
    /// Topic and who set it (as a nickname).
    pub(crate) topic: Option<(String, String)>,
    pub(crate) encrypted: bool,
}

/// The session's view of the Matrix account.
#[derive(Debug)]
pub(crate) struct Tracker {
    me: String,
    rooms: HashMap<String, Joined>,
    /// Rooms joined as group chats, by room ID.
    attached: HashMap<String, Attached>,
    /// `m.direct`: partner → rooms.
    direct: BTreeMap<String, Vec<String>>,
    /// Partners announced as contacts.
    contacts: BTreeSet<String>,
    /// What Spectrum 2 was told about each contact: only changes are sent,
    /// and an outage takes them all offline.
    pub(crate) roster: Contacts,
    presence: HashMap<String, (StatusType, String)>,
    /// Rooms the user is invited to, not yet joined.
    invited: BTreeSet<String>,
}

/// Pending invitations remembered; more are still told, not remembered.
const INVITATIONS: usize = 256;

impl Tracker {
    /// A tracker for the account `me` of XMPP user `jid`, before the
    /// first sync.
    pub(crate) fn new(me: impl Into<String>, jid: &str) -> Self {
        Tracker {
            roster: Contacts::new(jid),
            me: me.into(),
            rooms: HashMap::new(),
            attached: HashMap::new(),
            direct: BTreeMap::new(),
            contacts: BTreeSet::new(),
            presence: HashMap::new(),
            invited: BTreeSet::new(),
        }
    }

    /// A contact's presence, if the server reported it.
    pub(crate) fn presence_of(&self, user_id: &str) -> Option<&(StatusType, String)> {
        self.presence.get(user_id)
    }

    /// Every contact with the presence last reported for it (after an
    /// outage showed them all offline): a BUDDY_CHANGED for each that
    /// differs from what Spectrum 2 shows.
    pub(crate) fn roster_as_known(&mut self) -> Vec<Payload> {
        let names: Vec<String> = self.roster.iter().map(|(n, _)| n.to_owned()).collect();
        names
            .iter()
            .filter_map(|name| {
                let (status, message) = self
                    .presence
                    .get(name)
                    .cloned()
                    .unwrap_or((StatusType::StatusNone, String::new()));
                self.roster.status_changed(name, status, &message)
            })
            .collect()
    }

    /// Applies one sync answer. With `initial`, state is learned but no
    /// message is shown (it is history); contacts and presence still are.
    pub(crate) fn on_sync(
        &mut self,
        sync: &SyncResponse,
        initial: bool,
        own_txn: impl Fn(&str) -> bool,
        media_url: impl Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        for event in &sync.account_data.events {
            if event.kind == "m.direct" {
                self.set_direct(&event.content, &mut out);
            }
        }
        for (room_id, joined) in &sync.rooms.join {
            self.invited.remove(room_id);
            let room = self.rooms.entry(room_id.clone()).or_insert_with(|| Joined {
                fresh: !initial,
                ..Joined::default()
            });
            if initial {
                room.fresh = false;
            }
            // More arrived than one answer carries (a flood, or a shortened
            // timeline after an oversized answer): say so, never silently.
            if joined.timeline.limited && !initial && !room.fresh {
                self.on_gap(room_id, &mut out);
            }
            for event in &joined.state.events {
                self.on_state(room_id, event, &mut out);
            }
            for event in &joined.timeline.events {
                if event.state_key.is_some() {
                    self.on_state(room_id, event, &mut out);
                }
                let Some(room) = self.rooms.get_mut(room_id) else {
                    continue;
                };
                if room.fresh {
                    let own_join = event.kind == "m.room.member"
                        && event.state_key.as_deref() == Some(self.me.as_str())
                        && event.content_str("membership") == Some("join");
                    room.fresh = !own_join;
                    continue;
                }
                if initial || event.state_key.is_some() {
                    continue;
                }
                self.on_timeline(room_id, event, &own_txn, &media_url, now, &mut out);
            }
            // A sync that ends before the own join (a long history) leaves
            // the room fresh only until its next answer.
            if let Some(room) = self.rooms.get_mut(room_id) {
                room.fresh = false;
            }
            for event in &joined.ephemeral.events {
                self.on_ephemeral(room_id, event, &mut out);
            }
        }
        for (room_id, invited) in &sync.rooms.invite {
            let invite = invited.invite_state.events.iter().find(|e| {
                e.kind == "m.room.member" && e.state_key.as_deref() == Some(self.me.as_str())
            });
            let Some(invite) = invite else {
                continue;
            };
            if invite.content.get("is_direct").and_then(Value::as_bool) == Some(true) {
                out.push(Out::AcceptInvite {
                    room_id: room_id.clone(),
                    from: invite.sender.clone(),
                });
                continue;
            }
            if self.invited.contains(room_id) {
                continue;
            }
            if self.invited.len() < INVITATIONS {
                self.invited.insert(room_id.clone());
            }
            let state = RoomState::from_events(&invited.invite_state.events);
            let join = state.alias.clone().unwrap_or_else(|| room_id.clone());
            let name = state.name.clone().unwrap_or_else(|| join.clone());
            out.push(Out::Message {
                buddy: invite.sender.clone(),
                shown: Shown {
                    text: format!(
                        "{} invited you to the room {name}: join {join} as a group chat to accept.",
                        invite.sender
                    ),
                    xhtml: None,
                    attachment: None,
                },
                carbon: false,
                at: None,
            });
        }
        for room_id in sync.rooms.leave.keys() {
            self.invited.remove(room_id);
            self.rooms.remove(room_id);
            if let Some(attached) = self.attached.remove(room_id) {
                out.push(Out::Participant {
                    room: attached.name,
                    nick: attached.nick,
                    moderator: false,
                    change: Change::Left,
                });
            }
        }
        for event in &sync.presence.events {
            if event.kind != "m.presence" {
                continue;
            }
            let status = view::status(event.content_str("presence").unwrap_or("offline"));
            let message = event.content_str("status_msg").unwrap_or("").to_owned();
            let now = (status, message.clone());
            if self.presence.get(&event.sender) == Some(&now) {
                continue;
            }
            self.presence.insert(event.sender.clone(), now);
            if self.contacts.contains(&event.sender) {
                out.push(Out::Presence {
                    user_id: event.sender.clone(),
                    status,
                    message,
                });
            }
        }
        out
    }

    /// New `m.direct` content: partners not yet announced become contacts.
    pub(crate) fn set_direct(&mut self, content: &Value, out: &mut Vec<Out>) {
        self.direct = parse_direct(content);
        for partner in self.direct.keys() {
            if *partner != self.me && self.contacts.insert(partner.clone()) {
                out.push(Out::Contact {
                    user_id: partner.clone(),
                });
            }
        }
    }

    /// The current `m.direct` content with `room_id` added for `partner`.
    pub(crate) fn direct_with(&self, partner: &str, room_id: &str) -> Value {
        let mut direct = self.direct.clone();
        let rooms = direct.entry(partner.to_owned()).or_default();
        if !rooms.iter().any(|r| r == room_id) {
            rooms.push(room_id.to_owned());
        }
        serde_json::to_value(direct).unwrap_or(Value::Null)
    }

    fn partner_of(&self, room_id: &str) -> Option<&str> {
        self.direct
            .iter()
            .find(|(_, rooms)| rooms.iter().any(|r| r == room_id))
            .map(|(partner, _)| partner.as_str())
    }

    fn on_state(&mut self, room_id: &str, event: &Event, out: &mut Vec<Out>) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let before = room.nicks.clone();
        let (topic_before, encrypted_before) = (room.state.topic.clone(), room.state.encrypted);
        let was_moderator: BTreeMap<String, bool> = room
            .state
            .members
            .keys()
            .map(|m| (m.clone(), room.state.is_moderator(m)))
            .collect();
        if !room.state.apply(event) {
            return;
        }
        room.nicks = view::nicknames(&room.state);
        let Some(attached) = self.attached.get(room_id) else {
            return;
        };
        let name = attached.name.clone();
        let room = &self.rooms[room_id];
        let participant = |nick: &str, user: &str, change| Out::Participant {
            room: name.clone(),
            nick: nick.to_owned(),
            moderator: room.state.is_moderator(user),
            change,
        };
        match event.kind.as_str() {
            "m.room.member" => {
                let Some(user) = event.state_key.as_deref() else {
                    return;
                };
                if user == self.me {
                    return;
                }
                match (before.get(user), room.nicks.get(user)) {
                    (None, Some(now)) => out.push(participant(now, user, Change::Present)),
                    (Some(old), None) => out.push(participant(old, user, Change::Left)),
                    (Some(old), Some(now)) if old != now => {
                        out.push(participant(old, user, Change::Renamed(now.clone())));
                    }
                    _ => {}
                }
            }
            "m.room.topic" if room.state.topic != topic_before => {
                let (text, by) = room.state.topic.clone().unwrap_or_default();
                let by = room
                    .nicks
                    .get(&by)
                    .cloned()
                    .unwrap_or_else(|| view::localpart(&by).to_owned());
                out.push(Out::Subject {
                    room: name.clone(),
                    text,
                    by,
                });
            }
            "m.room.power_levels" => {
                for (user, nick) in &room.nicks {
                    let now = room.state.is_moderator(user);
                    if was_moderator.get(user) != Some(&now) {
                        // The user's own entry goes under the nickname
                        // Spectrum 2 knows.
                        let nick = if *user == self.me {
                            &attached.nick
                        } else {
                            nick
                        };
                        out.push(participant(nick, user, Change::Present));
                    }
                }
            }
            "m.room.encryption" if !encrypted_before => out.push(Out::RoomMessage {
                room: name.clone(),
                nick: String::new(),
                shown: Shown {
                    text: ENCRYPTED_ROOM.to_owned(),
                    xhtml: None,
                    attachment: None,
                },
                at: None,
            }),
            _ => {}
        }
    }

    fn on_gap(&self, room_id: &str, out: &mut Vec<Out>) {
        let shown = Shown {
            text: view::SKIPPED.to_owned(),
            xhtml: None,
            attachment: None,
        };
        if let Some(attached) = self.attached.get(room_id) {
            out.push(Out::RoomMessage {
                room: attached.name.clone(),
                nick: String::new(),
                shown,
                at: None,
            });
        } else if let Some(partner) = self.partner_of(room_id) {
            out.push(Out::Message {
                buddy: partner.to_owned(),
                shown,
                carbon: false,
                at: None,
            });
        }
    }

    fn on_timeline(
        &mut self,
        room_id: &str,
        event: &Event,
        own_txn: &impl Fn(&str) -> bool,
        media_url: &impl Fn(&str) -> Option<String>,
        now: SystemTime,
        out: &mut Vec<Out>,
    ) {
        let Some(shown) = view::show(event, media_url) else {
            return;
        };
        let mine = event.sender == self.me;
        let sent_here = event
            .unsigned
            .transaction_id
            .as_deref()
            .is_some_and(own_txn);
        let at = view::delay(event, now);
        if !mine && let Some(room) = self.rooms.get_mut(room_id) {
            room.unread = Some(event.event_id.clone());
        }
        if let Some(attached) = self.attached.get(room_id) {
            // The user's own messages, sent here or elsewhere, are echoed:
            // Spectrum 2 does not show them otherwise.
            let nick = if mine {
                attached.nick.clone()
            } else {
                self.rooms
                    .get(room_id)
                    .and_then(|r| r.nicks.get(&event.sender))
                    .cloned()
                    .unwrap_or_else(|| view::localpart(&event.sender).to_owned())
            };
            out.push(Out::RoomMessage {
                room: attached.name.clone(),
                nick,
                shown,
                at,
            });
            return;
        }
        let Some(partner) = self.partner_of(room_id) else {
            return;
        };
        if mine && sent_here {
            return;
        }
        out.push(Out::Message {
            buddy: partner.to_owned(),
            shown,
            carbon: mine,
            at,
        });
    }

    fn on_ephemeral(&mut self, room_id: &str, event: &Event, out: &mut Vec<Out>) {
        let Some(partner) = self.partner_of(room_id).map(str::to_owned) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        match event.kind.as_str() {
            "m.typing" => {
                let now: BTreeSet<String> = event
                    .content
                    .get("user_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|u| *u == partner)
                    .map(str::to_owned)
                    .collect();
                let (was, is) = (room.typing.contains(&partner), now.contains(&partner));
                if was != is {
                    out.push(Out::Typing {
                        buddy: partner.clone(),
                        typing: is,
                    });
                }
                room.typing = now;
            }
            "m.receipt" => {
                let Some(receipts) = event.content.as_object() else {
                    return;
                };
                // A receipt for one event reads everything before it.
                let read_upto = room.pending.iter().rposition(|(event_id, _)| {
                    receipts
                        .get(event_id)
                        .and_then(|r| r.get("m.read"))
                        .and_then(Value::as_object)
                        .is_some_and(|by| by.keys().any(|u| *u != self.me))
                });
                if let Some(last) = read_upto {
                    for (_, id) in room.pending.drain(..=last) {
                        out.push(Out::Ack {
                            buddy: partner.clone(),
                            id,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// A room the handlers just joined, with its state: shown from now on.
    pub(crate) fn add_room(&mut self, room_id: &str, state: RoomState) {
        let room = self
            .rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| Joined {
                fresh: true,
                ..Joined::default()
            });
        room.nicks = view::nicknames(&state);
        room.state = state;
    }

    /// The joined room a JOIN_ROOM name means: its ID or its alias, in any
    /// case (Spectrum 2 lower-cases room names; Matrix IDs are not).
    pub(crate) fn find_room(&self, name: &str) -> Option<String> {
        self.rooms
            .iter()
            .find(|(id, room)| {
                id.eq_ignore_ascii_case(name)
                    || room
                        .state
                        .alias
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(name))
            })
            .map(|(id, _)| id.clone())
    }

    /// The room ID of an invitation a JOIN_ROOM name means, in any case.
    pub(crate) fn invited_room(&self, name: &str) -> Option<String> {
        self.invited
            .iter()
            .find(|id| id.eq_ignore_ascii_case(name))
            .cloned()
    }

    /// The room ID of a group chat the XMPP user is in, by its name.
    pub(crate) fn attached_room(&self, name: &str) -> Option<String> {
        self.attached
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| id.clone())
    }

    /// Shows `room_id` to the XMPP user as the group chat `name`; what to
    /// answer the JOIN_ROOM with.
    pub(crate) fn attach(&mut self, room_id: &str, name: &str, nick: &str) -> Option<Occupants> {
        let room = self.rooms.get(room_id)?;
        let own_nick = room
            .nicks
            .get(&self.me)
            .cloned()
            .unwrap_or_else(|| nick.to_owned());
        self.attached.insert(
            room_id.to_owned(),
            Attached {
                name: name.to_owned(),
                nick: own_nick.clone(),
            },
        );
        Some(Occupants {
            others: room
                .nicks
                .iter()
                .filter(|(user, _)| **user != self.me)
                .map(|(user, nick)| (nick.clone(), room.state.is_moderator(user)))
                .collect(),
            own_moderator: room.state.is_moderator(&self.me),
            own_nick,
            topic: room.state.topic.clone().map(|(text, by)| {
                let by = room
                    .nicks
                    .get(&by)
                    .cloned()
                    .unwrap_or_else(|| view::localpart(&by).to_owned());
                (text, by)
            }),
            encrypted: room.state.encrypted,
        })
    }

    /// Whether a room is shown as a group chat.
    pub(crate) fn is_attached(&self, room_id: &str) -> bool {
        self.attached.contains_key(room_id)
    }

    /// Stops showing a group chat; its room ID.
    pub(crate) fn detach(&mut self, name: &str) -> Option<String> {
        let id = self.attached_room(name)?;
        self.attached.remove(&id);
        Some(id)
    }

    /// Whether a room is end-to-end encrypted.
    pub(crate) fn is_encrypted(&self, room_id: &str) -> bool {
        self.rooms.get(room_id).is_some_and(|r| r.state.encrypted)
    }

    /// The direct chat with `partner` the account is in, if any.
    pub(crate) fn direct_room(&self, partner: &str) -> Option<String> {
        self.direct
            .get(partner)?
            .iter()
            .find(|r| self.rooms.contains_key(*r))
            .cloned()
    }

    /// The user ID behind a nickname in a group chat.
    pub(crate) fn user_by_nick(&self, room_name: &str, nick: &str) -> Option<String> {
        let id = self.attached_room(room_name)?;
        self.rooms[&id]
            .nicks
            .iter()
            .find(|(_, n)| *n == nick)
            .map(|(user, _)| user.clone())
    }

    /// Remembers a sent message whose read receipt should answer `id`.
    pub(crate) fn expect_receipt(&mut self, room_id: &str, event_id: String, id: String) {
        if let Some(room) = self.rooms.get_mut(room_id) {
            if room.pending.len() == PENDING_ACKS {
                room.pending.pop_front();
            }
            room.pending.push_back((event_id, id));
        }
    }

    /// The newest unread event of a room, now to be marked read.
    pub(crate) fn take_unread(&mut self, room_id: &str) -> Option<String> {
        self.rooms.get_mut(room_id)?.unread.take()
    }

    /// The joined rooms that are not direct chats: (name to join with,
    /// display name).
    pub(crate) fn room_list(&self) -> Vec<(String, String)> {
        let mut list: Vec<(String, String)> = self
            .rooms
            .iter()
            .filter(|(id, _)| self.partner_of(id).is_none())
            .map(|(id, room)| {
                let join = room.state.alias.clone().unwrap_or_else(|| id.clone());
                let name = room.state.name.clone().unwrap_or_else(|| join.clone());
                (join, name)
            })
            .collect();
        list.sort();
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "@me:x";

    fn sync(value: Value) -> SyncResponse {
        serde_json::from_value(value).expect("a sync answer")
    }

    fn apply(tracker: &mut Tracker, value: Value) -> Vec<Out> {
        tracker.on_sync(
            &sync(value),
            false,
            |txn| txn.starts_with("mine."),
            |mxc| Some(format!("https://media/{mxc}")),
            SystemTime::UNIX_EPOCH,
        )
    }

    fn member(user: &str, name: &str, membership: &str) -> Value {
        json!({"type": "m.room.member", "state_key": user, "sender": user,
               "content": {"membership": membership, "displayname": name}, "event_id": format!("$m{user}{name}{membership}")})
    }

    fn text(sender: &str, body: &str, id: &str) -> Value {
        json!({"type": "m.room.message", "sender": sender, "event_id": id,
               "content": {"msgtype": "m.text", "body": body}})
    }

    fn plain(s: &str) -> Shown {
        Shown {
            text: s.into(),
            xhtml: None,
            attachment: None,
        }
    }

    /// A tracker after an initial sync with a direct chat with @bob and a
    /// group room with @carol.
    fn tracker() -> Tracker {
        let mut t = Tracker::new(ME, "alice@xmpp.test");
        let out = t.on_sync(
            &sync(json!({
                "next_batch": "1",
                "account_data": {"events": [{"type": "m.direct", "content": {"@bob:x": ["!dm:x"]}}]},
                "rooms": {"join": {
                    "!dm:x": {"state": {"events": [member(ME, "Me", "join"), member("@bob:x", "Bob", "join")]},
                              "timeline": {"events": [text("@bob:x", "old", "$old")]}},
                    "!room:x": {"state": {"events": [
                        member(ME, "Me", "join"), member("@carol:x", "Carol", "join"),
                        {"type": "m.room.canonical_alias", "state_key": "", "sender": "@carol:x", "content": {"alias": "#Lobby:x"}},
                        {"type": "m.room.topic", "state_key": "", "sender": "@carol:x", "content": {"topic": "Hi"}},
                        {"type": "m.room.power_levels", "state_key": "", "sender": "@carol:x", "content": {"users": {"@carol:x": 100}}},
                    ]}},
                }},
            })),
            true,
            |_| false,
            |_| None,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            out,
            [Out::Contact {
                user_id: "@bob:x".into()
            }],
            "history is not shown"
        );
        t
    }

    #[test]
    fn direct_messages_come_from_the_partner_and_own_ones_from_elsewhere_as_carbons() {
        let mut t = tracker();
        let mut own = text(ME, "sent here", "$2");
        own["unsigned"] = json!({"transaction_id": "mine.1"});
        let out = apply(
            &mut t,
            json!({"next_batch": "2", "rooms": {"join": {"!dm:x": {"timeline": {"events": [
                text("@bob:x", "hi", "$1"), own, text(ME, "from my phone", "$3"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [
                Out::Message {
                    buddy: "@bob:x".into(),
                    shown: plain("hi"),
                    carbon: false,
                    at: None
                },
                Out::Message {
                    buddy: "@bob:x".into(),
                    shown: plain("from my phone"),
                    carbon: true,
                    at: None
                },
            ]
        );
        assert_eq!(t.take_unread("!dm:x").as_deref(), Some("$1"));
        assert_eq!(t.take_unread("!dm:x"), None);
    }

    #[test]
    fn a_joined_group_chat_shows_occupants_messages_and_changes() {
        let mut t = tracker();
        assert_eq!(t.find_room("#lobby:x").as_deref(), Some("!room:x"));
        assert_eq!(t.find_room("!ROOM:x").as_deref(), Some("!room:x"));
        let occupants = t.attach("!room:x", "#lobby:x", "me").expect("joined");
        assert_eq!(occupants.others, [("Carol".to_owned(), true)]);
        assert_eq!(occupants.own_nick, "Me");
        assert!(!occupants.own_moderator);
        assert_eq!(occupants.topic, Some(("Hi".into(), "Carol".into())));

        let out = apply(
            &mut t,
            json!({"next_batch": "2", "rooms": {"join": {"!room:x": {"timeline": {"events": [
                text("@carol:x", "hello", "$1"),
                text(ME, "hi all", "$2"),
                member("@dave:x", "Dave", "join"),
                member("@dave:x", "David", "join"),
                {"type": "m.room.power_levels", "state_key": "", "sender": "@carol:x", "content": {"users": {"@carol:x": 100, "@david:x": 0, "@dave:x": 50}}},
                member("@dave:x", "David", "leave"),
                {"type": "m.room.topic", "state_key": "", "sender": "@carol:x", "content": {"topic": "New"}},
            ]}}}}}),
        );
        let p = |nick: &str, moderator, change| Out::Participant {
            room: "#lobby:x".into(),
            nick: nick.into(),
            moderator,
            change,
        };
        assert_eq!(
            out,
            [
                Out::RoomMessage {
                    room: "#lobby:x".into(),
                    nick: "Carol".into(),
                    shown: plain("hello"),
                    at: None
                },
                Out::RoomMessage {
                    room: "#lobby:x".into(),
                    nick: "Me".into(),
                    shown: plain("hi all"),
                    at: None
                },
                p("Dave", false, Change::Present),
                p("Dave", false, Change::Renamed("David".into())),
                p("David", true, Change::Present),
                p("David", true, Change::Left),
                Out::Subject {
                    room: "#lobby:x".into(),
                    text: "New".into(),
                    by: "Carol".into()
                },
            ]
        );
        assert_eq!(
            t.user_by_nick("#lobby:x", "Carol").as_deref(),
            Some("@carol:x")
        );
        assert_eq!(t.detach("#lobby:x").as_deref(), Some("!room:x"));
        let after = apply(
            &mut t,
            json!({"next_batch": "3", "rooms": {"join": {"!room:x": {"timeline": {"events": [text("@carol:x", "gone?", "$9")]}}}}}),
        );
        assert!(after.is_empty(), "{after:?}");
    }

    #[test]
    fn a_newly_joined_room_shows_nothing_before_the_own_join() {
        let mut t = tracker();
        t.add_room("!new:x", RoomState::default());
        t.attach("!new:x", "!new:x", "me");
        let out = apply(
            &mut t,
            json!({"next_batch": "2", "rooms": {"join": {"!new:x": {"timeline": {"events": [
                text("@carol:x", "history", "$1"), member(ME, "Me", "join"), text("@carol:x", "welcome", "$2"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [Out::RoomMessage {
                room: "!new:x".into(),
                nick: "carol".into(),
                shown: plain("welcome"),
                at: None
            }]
        );
    }

    #[test]
    fn a_gap_in_the_timeline_is_told() {
        let mut t = tracker();
        let out = apply(
            &mut t,
            json!({"next_batch": "2", "rooms": {"join": {"!dm:x": {"timeline": {"limited": true, "events": [
                text("@bob:x", "the last one", "$9"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [
                Out::Message {
                    buddy: "@bob:x".into(),
                    shown: plain(view::SKIPPED),
                    carbon: false,
                    at: None
                },
                Out::Message {
                    buddy: "@bob:x".into(),
                    shown: plain("the last one"),
                    carbon: false,
                    at: None
                },
            ]
        );
    }

    #[test]
    fn typing_and_receipts_of_the_partner() {
        let mut t = tracker();
        t.expect_receipt("!dm:x", "$a".into(), "xmpp-1".into());
        t.expect_receipt("!dm:x", "$b".into(), "xmpp-2".into());
        t.expect_receipt("!dm:x", "$c".into(), "xmpp-3".into());
        let ephemeral = |events: Value| json!({"next_batch": "n", "rooms": {"join": {"!dm:x": {"ephemeral": {"events": events}}}}});
        let out = apply(
            &mut t,
            ephemeral(json!([
                {"type": "m.typing", "content": {"user_ids": ["@bob:x"]}},
                {"type": "m.receipt", "content": {"$b": {"m.read": {"@bob:x": {"ts": 1}}}, "$c": {"m.read": {ME: {"ts": 1}}}}},
            ])),
        );
        assert_eq!(
            out,
            [
                Out::Typing {
                    buddy: "@bob:x".into(),
                    typing: true
                },
                Out::Ack {
                    buddy: "@bob:x".into(),
                    id: "xmpp-1".into()
                },
                Out::Ack {
                    buddy: "@bob:x".into(),
                    id: "xmpp-2".into()
                },
            ]
        );
        let out = apply(
            &mut t,
            ephemeral(json!([{"type": "m.typing", "content": {"user_ids": []}}])),
        );
        assert_eq!(
            out,
            [Out::Typing {
                buddy: "@bob:x".into(),
                typing: false
            }]
        );
        for i in 0..(PENDING_ACKS + 10) {
            t.expect_receipt("!dm:x", format!("$p{i}"), format!("id{i}"));
        }
        assert_eq!(t.rooms["!dm:x"].pending.len(), PENDING_ACKS, "bounded");
    }

    #[test]
    fn invites_presence_leaves_and_the_room_list() {
        let mut t = tracker();
        t.attach("!room:x", "#lobby:x", "me");
        let out = apply(
            &mut t,
            json!({"next_batch": "2",
                "rooms": {
                    "invite": {"!inv:x": {"invite_state": {"events": [
                        {"type": "m.room.member", "state_key": ME, "sender": "@eve:x", "content": {"membership": "invite", "is_direct": true}}
                    ]}}, "!grp:x": {"invite_state": {"events": [
                        {"type": "m.room.member", "state_key": ME, "sender": "@eve:x", "content": {"membership": "invite"}}
                    ]}}},
                    "leave": {"!room:x": {}},
                },
                "presence": {"events": [
                    {"type": "m.presence", "sender": "@bob:x", "content": {"presence": "unavailable", "status_msg": "lunch"}},
                    {"type": "m.presence", "sender": "@stranger:x", "content": {"presence": "online"}},
                ]},
            }),
        );
        assert_eq!(
            out,
            [
                Out::Message {
                    buddy: "@eve:x".into(),
                    shown: plain(
                        "@eve:x invited you to the room !grp:x: join !grp:x as a group chat to accept."
                    ),
                    carbon: false,
                    at: None
                },
                Out::AcceptInvite {
                    room_id: "!inv:x".into(),
                    from: "@eve:x".into()
                },
                Out::Participant {
                    room: "#lobby:x".into(),
                    nick: "Me".into(),
                    moderator: false,
                    change: Change::Left
                },
                Out::Presence {
                    user_id: "@bob:x".into(),
                    status: StatusType::StatusAway,
                    message: "lunch".into()
                },
            ]
        );
        assert!(t.room_list().is_empty(), "only the direct chat is left");
        assert_eq!(t.invited_room("!GRP:x").as_deref(), Some("!grp:x"));
        assert_eq!(t.direct_room("@bob:x").as_deref(), Some("!dm:x"));
        assert_eq!(
            t.direct_with("@eve:x", "!inv:x"),
            json!({"@bob:x": ["!dm:x"], "@eve:x": ["!inv:x"]})
        );
    }

    #[test]
    fn an_outage_shows_contacts_offline_then_as_last_known() {
        use spectrum_backend::gateway::contacts::Contact;
        let mut t = tracker();
        apply(
            &mut t,
            json!({"next_batch": "2", "presence": {"events": [
                {"type": "m.presence", "sender": "@bob:x", "content": {"presence": "unavailable", "status_msg": "lunch"}},
            ]}}),
        );
        let announced = t.roster.update(
            "@bob:x",
            Contact::new()
                .alias("Bob")
                .status(StatusType::StatusAway, "lunch"),
        );
        assert!(announced.is_some());
        let status = |frames: &[Payload]| -> Vec<(String, Option<i32>)> {
            frames
                .iter()
                .filter_map(|f| match f {
                    Payload::BuddyChanged(b) => Some((b.buddy_name.clone(), b.status)),
                    _ => None,
                })
                .collect()
        };
        let away = t.roster.all_offline();
        assert_eq!(
            status(&away),
            [("@bob:x".into(), Some(StatusType::StatusNone as i32))]
        );
        let back = t.roster_as_known();
        assert_eq!(
            status(&back),
            [("@bob:x".into(), Some(StatusType::StatusAway as i32))]
        );
        assert!(t.roster_as_known().is_empty(), "nothing changed since");
    }
}
