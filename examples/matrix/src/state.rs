//! What the session knows about the Matrix account, and what each sync
//! answer means for the XMPP side.
//!
//! No I/O here: [`Tracker::on_sync`] takes one sync answer and returns what
//! to tell Spectrum 2 ([`Out`]: frames, or contacts to look up); the
//! handlers ask it where an XMPP message goes. Group chats are the
//! session's room tracker ([`Rooms`]): a Matrix room the user joined is
//! identified there by its room ID, its members are occupants identified
//! by user ID, and this module only says what the room's state is now.
//! The sync task applies answers under a lock and sends after releasing it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::SystemTime;

use serde_json::Value;
use spectrum_backend::gateway::contacts::Contacts;
use spectrum_backend::gateway::rooms::{Occupant, Rooms};
use spectrum_backend::proto::Payload;
use spectrum_backend::reply::{self, Reply as _};
use spectrum_backend::{ParticipantFlag, StatusType};

use crate::matrix::parse_direct;
use crate::matrix::room::RoomState;
use crate::matrix::types::{Event, SyncResponse};
use crate::view::{self, ENCRYPTED_ROOM, Shown};

/// Messages awaiting a read receipt, per room; older ones are forgotten.
const PENDING_ACKS: usize = 64;

/// Something to tell Spectrum 2.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A frame, ready to send.
    Frame(Payload),
    /// A new direct-message partner: look up and announce as a contact.
    Contact { user_id: String },
    /// An invitation to a direct chat: accept it.
    AcceptInvite { room_id: String, from: String },
}

/// A Matrix room the account is in.
#[derive(Debug, Default)]
struct Joined {
    state: RoomState,
    /// Newly joined: its timeline up to the account's own join is history,
    /// not shown.
    fresh: bool,
    /// Members or power levels changed since the room tracker was told.
    members_changed: bool,
    /// The newest event from someone else not yet marked read.
    unread: Option<String>,
    /// Whether the direct-chat partner is typing.
    typing: bool,
    /// (event ID, XMPP message id) of sent messages awaiting a receipt.
    pending: VecDeque<(String, String)>,
}

/// A room's members as occupants: display names (see
/// [`view::nicknames`]), identified by user ID, moderators flagged.
fn occupants(state: &RoomState, nicks: BTreeMap<String, String>) -> Vec<Occupant> {
    nicks
        .into_iter()
        .map(|(user, nick)| {
            let o = Occupant::new(nick);
            let o = if state.is_moderator(&user) {
                o.flag(ParticipantFlag::Moderator)
            } else {
                o
            };
            o.id(user)
        })
        .collect()
}

/// A message as shown, with what Matrix adds to the text.
fn dress(mut message: reply::Message, shown: Shown, at: Option<SystemTime>) -> reply::Message {
    if let Some(xhtml) = shown.xhtml {
        message = message.xhtml(xhtml);
    }
    if let Some((url, name)) = shown.attachment {
        message = message.attachment(url, name);
    }
    if let Some(at) = at {
        message = message.timestamp(at);
    }
    message
}

/// The session's view of the Matrix account.
#[derive(Debug)]
pub(crate) struct Tracker {
    me: String,
    /// The XMPP user every frame is for.
    jid: String,
    rooms: HashMap<String, Joined>,
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
            jid: jid.to_owned(),
            me: me.into(),
            rooms: HashMap::new(),
            direct: BTreeMap::new(),
            contacts: BTreeSet::new(),
            presence: HashMap::new(),
            invited: BTreeSet::new(),
        }
    }

    fn frame(&self, reply: impl reply::Reply) -> Out {
        Out::Frame(reply.into_payload(&self.jid))
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

    /// Applies one sync answer; `rooms` are the group chats the user
    /// joined. With `initial`, state is learned but no message is shown
    /// (it is history); contacts and presence still are.
    pub(crate) fn on_sync(
        &mut self,
        rooms: &mut Rooms,
        sync: &SyncResponse,
        initial: bool,
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
                self.on_gap(rooms, room_id, &mut out);
            }
            for event in &joined.state.events {
                self.on_state(rooms, room_id, event, &mut out);
            }
            for event in &joined.timeline.events {
                if event.state_key.is_some() {
                    self.on_state(rooms, room_id, event, &mut out);
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
                self.on_timeline(rooms, room_id, event, &media_url, now, &mut out);
            }
            // A sync that ends before the own join (a long history) leaves
            // the room fresh only until its next answer.
            if let Some(room) = self.rooms.get_mut(room_id) {
                room.fresh = false;
            }
            self.tell_members(rooms, room_id, &mut out);
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
            // XMPP has no invitation Spectrum 2 carries: the inviter says
            // what to join.
            let state = RoomState::from_events(&invited.invite_state.events);
            let join = state.alias.clone().unwrap_or_else(|| room_id.clone());
            let name = state.name.clone().unwrap_or_else(|| join.clone());
            let text = format!(
                "{} invited you to the room {name}: join {join} as a group chat to accept.",
                invite.sender
            );
            out.push(self.frame(reply::Message::new(invite.sender.as_str(), text)));
        }
        for room_id in sync.rooms.leave.keys() {
            self.invited.remove(room_id);
            self.rooms.remove(room_id);
            // Left elsewhere, or kicked: the group chat ends too.
            let own = rooms.own_nickname(room_id).map(str::to_owned);
            if let Some(own) = own {
                out.extend(
                    rooms
                        .occupant_left(room_id, &own, "")
                        .into_iter()
                        .map(Out::Frame),
                );
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
            if self.contacts.contains(&event.sender)
                && let Some(frame) = self.roster.status_changed(&event.sender, status, &message)
            {
                out.push(Out::Frame(frame));
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

    /// The room tracker's news about `room_id`'s members, if they changed
    /// since it was last told: one full list, the tracker finds the
    /// differences (renames among them, by user ID).
    fn tell_members(&mut self, rooms: &mut Rooms, room_id: &str, out: &mut Vec<Out>) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        if !std::mem::take(&mut room.members_changed) || !rooms.is_joined(room_id) {
            return;
        }
        let list = occupants(&room.state, view::nicknames(&room.state));
        out.extend(
            rooms
                .occupants_are(room_id, list)
                .into_iter()
                .map(Out::Frame),
        );
    }

    fn on_state(&mut self, rooms: &mut Rooms, room_id: &str, event: &Event, out: &mut Vec<Out>) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let (topic_before, encrypted_before) = (room.state.topic.clone(), room.state.encrypted);
        if !room.state.apply(event) {
            return;
        }
        match event.kind.as_str() {
            // Told as one list before anything that needs it.
            "m.room.member" | "m.room.power_levels" => room.members_changed = true,
            "m.room.topic" if room.state.topic != topic_before => {
                self.tell_members(rooms, room_id, out);
                let (text, by) = self.rooms[room_id].state.topic.clone().unwrap_or_default();
                let by = self.nickname(rooms, room_id, &by);
                out.extend(
                    rooms
                        .subject_changed(room_id, &text, &by)
                        .into_iter()
                        .map(Out::Frame),
                );
            }
            "m.room.encryption" if !encrypted_before => {
                if let Some(name) = rooms.name(room_id).filter(|_| rooms.is_joined(room_id)) {
                    let notice = reply::Message::room(name, "", ENCRYPTED_ROOM);
                    out.push(self.frame(notice));
                }
            }
            _ => {}
        }
    }

    /// `user`'s nickname in a group chat: as an occupant, or the user ID's
    /// local part for someone not (or no longer) in it.
    fn nickname(&self, rooms: &Rooms, room_id: &str, user: &str) -> String {
        rooms
            .occupant_with_id(room_id, user)
            .map_or_else(|| view::localpart(user).to_owned(), |o| o.nickname.clone())
    }

    fn on_gap(&self, rooms: &Rooms, room_id: &str, out: &mut Vec<Out>) {
        if let Some(name) = rooms.name(room_id).filter(|_| rooms.is_joined(room_id)) {
            out.push(self.frame(reply::Message::room(name, "", view::SKIPPED)));
        } else if let Some(partner) = self.partner_of(room_id) {
            out.push(self.frame(reply::Message::new(partner, view::SKIPPED)));
        }
    }

    fn on_timeline(
        &mut self,
        rooms: &mut Rooms,
        room_id: &str,
        event: &Event,
        media_url: &impl Fn(&str) -> Option<String>,
        now: SystemTime,
        out: &mut Vec<Out>,
    ) {
        let Some(shown) = view::show(event, media_url) else {
            return;
        };
        let mine = event.sender == self.me;
        // A server shows a transaction ID only to the device that sent the
        // event: this session's, whichever process of the backend sent it.
        let sent_here = event.unsigned.transaction_id.is_some();
        let at = view::delay(event, now);
        if !mine && let Some(room) = self.rooms.get_mut(room_id) {
            room.unread = Some(event.event_id.clone());
        }
        if rooms.is_joined(room_id) {
            // The sender under the name the user was last told.
            self.tell_members(rooms, room_id, out);
            let name = rooms.name(room_id).unwrap_or(room_id).to_owned();
            // The user's own messages, sent here or elsewhere, are echoed:
            // Spectrum 2 does not show them otherwise.
            let nick = self.nickname(rooms, room_id, &event.sender);
            let text = shown.text.clone();
            out.push(self.frame(dress(reply::Message::room(name, nick, text), shown, at)));
            return;
        }
        let Some(partner) = self.partner_of(room_id) else {
            return;
        };
        if mine && sent_here {
            return;
        }
        let text = shown.text.clone();
        let mut message = dress(reply::Message::new(partner, text), shown, at);
        if mine {
            message = message.carbon();
        }
        out.push(self.frame(message));
    }

    fn on_ephemeral(&mut self, room_id: &str, event: &Event, out: &mut Vec<Out>) {
        let Some(partner) = self.partner_of(room_id).map(str::to_owned) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let mut frames = Vec::new();
        match event.kind.as_str() {
            "m.typing" => {
                let is = event
                    .content
                    .get("user_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|u| u.as_str() == Some(partner.as_str()));
                if room.typing != is {
                    let state = if is {
                        reply::TypingState::Typing
                    } else {
                        reply::TypingState::Stopped
                    };
                    frames
                        .push(reply::Typing::new(partner.as_str(), state).into_payload(&self.jid));
                }
                room.typing = is;
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
                        let receipt = reply::Receipt::new(partner.as_str(), id);
                        frames.push(receipt.into_payload(&self.jid));
                    }
                }
            }
            _ => {}
        }
        out.extend(frames.into_iter().map(Out::Frame));
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

    /// Shows `room_id` to the XMPP user as the group chat `name`, which
    /// `rooms` was asked to join: the answer to the JOIN_ROOM (members,
    /// the user last under their display name, the topic; a word if the
    /// room is encrypted). `None` if the account is not in the room.
    pub(crate) fn attach(
        &mut self,
        rooms: &mut Rooms,
        room_id: &str,
        name: &str,
    ) -> Option<Vec<Payload>> {
        let room = self.rooms.get_mut(room_id)?;
        room.members_changed = false;
        let room = &self.rooms[room_id];
        let nicks = view::nicknames(&room.state);
        let own = nicks.get(&self.me).cloned();
        rooms.identify(name, room_id);
        if let Some((text, by)) = &room.state.topic {
            let by = nicks
                .get(by)
                .cloned()
                .unwrap_or_else(|| view::localpart(by).to_owned());
            rooms.subject_changed(room_id, text, &by);
        }
        let mut list = occupants(&room.state, nicks);
        // Not yet a member in the state read (a join just made): the
        // requested nickname until the sync brings the user's own.
        let own = match own {
            Some(own) => own,
            None => {
                let own = rooms.own_nickname(room_id)?.to_owned();
                list.push(Occupant::new(own.as_str()).id(self.me.as_str()));
                own
            }
        };
        let mut frames = rooms.joined(room_id, &own, list);
        if room.state.encrypted {
            frames.push(reply::Message::room(name, "", ENCRYPTED_ROOM).into_payload(&self.jid));
        }
        Some(frames)
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
    use spectrum_backend::proto;

    const ME: &str = "@me:x";
    const JID: &str = "alice@xmpp.test";

    fn sync(value: Value) -> SyncResponse {
        serde_json::from_value(value).expect("a sync answer")
    }

    /// What was told, short: `M from text [carbon]`, `R room nick text`,
    /// `P room nick flags status [newname]`, `N room nick`, `S room text by`, `T buddy
    /// yes|no`, `A buddy id`, `B buddy status`, `contact`, `accept`.
    fn show(outs: &[Out]) -> Vec<String> {
        outs.iter()
            .map(|out| match out {
                Out::Frame(Payload::ConvMessage(m)) if m.buddy_name.starts_with(['#', '!']) => {
                    format!(
                        "R {} {} {}",
                        m.buddy_name,
                        m.nickname.as_deref().unwrap_or_default(),
                        m.message
                    )
                }
                Out::Frame(Payload::ConvMessage(m)) => format!(
                    "M {} {}{}",
                    m.buddy_name,
                    m.message,
                    if m.carbon == Some(true) {
                        " carbon"
                    } else {
                        ""
                    }
                ),
                Out::Frame(
                    frame @ (Payload::ParticipantChanged(_)
                    | Payload::RoomSubjectChanged(_)
                    | Payload::RoomNicknameChanged(_)),
                ) => spectrum_backend::testing::room_frame(frame).expect("a room frame"),
                Out::Frame(Payload::BuddyTyping(b)) => format!("T {} yes", b.buddy_name),
                Out::Frame(Payload::BuddyStoppedTyping(b)) => format!("T {} no", b.buddy_name),
                Out::Frame(Payload::ConvMessageAck(m)) => {
                    format!("A {} {}", m.buddy_name, m.id.as_deref().unwrap_or_default())
                }
                Out::Frame(Payload::BuddyChanged(b)) => {
                    let status = StatusType::try_from(b.status.unwrap_or_default());
                    format!(
                        "B {} {:?}",
                        b.buddy_name,
                        status.unwrap_or(StatusType::StatusNone)
                    )
                }
                Out::Frame(other) => panic!("unexpected {other:?}"),
                Out::Contact { user_id } => format!("contact {user_id}"),
                Out::AcceptInvite { room_id, from } => format!("accept {room_id} from {from}"),
            })
            .collect()
    }

    fn apply(tracker: &mut Tracker, rooms: &mut Rooms, value: Value) -> Vec<String> {
        show(&tracker.on_sync(
            rooms,
            &sync(value),
            false,
            |mxc| Some(format!("https://media/{mxc}")),
            SystemTime::UNIX_EPOCH,
        ))
    }

    fn member(user: &str, name: &str, membership: &str) -> Value {
        json!({"type": "m.room.member", "state_key": user, "sender": user,
               "content": {"membership": membership, "displayname": name}, "event_id": format!("$m{user}{name}{membership}")})
    }

    fn text(sender: &str, body: &str, id: &str) -> Value {
        json!({"type": "m.room.message", "sender": sender, "event_id": id,
               "content": {"msgtype": "m.text", "body": body}})
    }

    fn join_request(room: &str, nickname: &str) -> proto::Room {
        proto::Room {
            user_name: JID.into(),
            nickname: nickname.into(),
            room: room.into(),
            password: None,
        }
    }

    /// A tracker after an initial sync with a direct chat with @bob and a
    /// group room with @carol.
    fn tracker() -> (Tracker, Rooms) {
        let mut t = Tracker::new(ME, JID);
        let mut rooms = Rooms::new(JID);
        let out = t.on_sync(
            &mut rooms,
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
            |_| None,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(show(&out), ["contact @bob:x"], "history is not shown");
        (t, rooms)
    }

    /// [`tracker`] with `!room:x` joined as the group chat `#lobby:x`.
    fn in_lobby() -> (Tracker, Rooms) {
        let (mut t, mut rooms) = tracker();
        assert_eq!(t.find_room("#lobby:x").as_deref(), Some("!room:x"));
        assert_eq!(t.find_room("!ROOM:x").as_deref(), Some("!room:x"));
        rooms.join_requested(&join_request("#lobby:x", "me"));
        let answer = t.attach(&mut rooms, "!room:x", "#lobby:x").expect("joined");
        let answer: Vec<Out> = answer.into_iter().map(Out::Frame).collect();
        assert_eq!(
            show(&answer),
            [
                "N #lobby:x Me",
                "P #lobby:x Carol 1 0",
                "P #lobby:x me 16 0 Me",
                "S #lobby:x Hi Carol",
            ],
            "the display name replaces the requested nickname"
        );
        (t, rooms)
    }

    #[test]
    fn direct_messages_come_from_the_partner_and_own_ones_from_elsewhere_as_carbons() {
        let (mut t, mut rooms) = tracker();
        let mut own = text(ME, "sent here", "$2");
        own["unsigned"] = json!({"transaction_id": "mine.1"});
        let out = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "2", "rooms": {"join": {"!dm:x": {"timeline": {"events": [
                text("@bob:x", "hi", "$1"), own, text(ME, "from my phone", "$3"),
            ]}}}}}),
        );
        assert_eq!(out, ["M @bob:x hi", "M @bob:x from my phone carbon"]);
        assert_eq!(t.take_unread("!dm:x").as_deref(), Some("$1"));
        assert_eq!(t.take_unread("!dm:x"), None);
    }

    #[test]
    fn a_joined_group_chat_shows_occupants_messages_and_changes() {
        let (mut t, mut rooms) = in_lobby();
        let out = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "2", "rooms": {"join": {"!room:x": {"timeline": {"events": [
                text("@carol:x", "hello", "$1"),
                text(ME, "hi all", "$2"),
                member("@dave:x", "Dave", "join"),
                text("@dave:x", "hey", "$3"),
                member("@dave:x", "David", "join"),
                {"type": "m.room.power_levels", "state_key": "", "sender": "@carol:x", "content": {"users": {"@carol:x": 100, "@dave:x": 50}}},
                {"type": "m.room.topic", "state_key": "", "sender": "@dave:x", "content": {"topic": "New"}},
                member("@dave:x", "David", "leave"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [
                "R #lobby:x Carol hello",
                "R #lobby:x Me hi all",
                "P #lobby:x Dave 0 0",
                "R #lobby:x Dave hey",
                "P #lobby:x Dave 0 0 David",
                "P #lobby:x David 1 0",
                "S #lobby:x New David",
                "P #lobby:x David 1 5",
            ]
        );
        assert_eq!(
            rooms
                .occupant_of("#lobby:x", "Carol")
                .and_then(|o| o.id.as_deref()),
            Some("@carol:x")
        );
        // A replayed JOIN_ROOM is answered with the room as it is now.
        let spectrum_backend::gateway::rooms::JoinAction::Replay(replay) =
            rooms.join_requested(&join_request("#lobby:x", "Me"))
        else {
            panic!("joined already");
        };
        let replay: Vec<Out> = replay.into_iter().map(Out::Frame).collect();
        assert_eq!(
            show(&replay),
            [
                "P #lobby:x Carol 1 0",
                "P #lobby:x Me 16 0",
                "S #lobby:x New David"
            ]
        );
        // Left by the user: nothing more is shown.
        assert_eq!(rooms.left("#lobby:x").as_deref(), Some("#lobby:x"));
        let after = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "3", "rooms": {"join": {"!room:x": {"timeline": {"events": [text("@carol:x", "gone?", "$9")]}}}}}),
        );
        assert!(after.is_empty(), "{after:?}");
    }

    #[test]
    fn a_newly_joined_room_shows_nothing_before_the_own_join() {
        let (mut t, mut rooms) = tracker();
        t.add_room("!new:x", RoomState::from_events(&[]));
        rooms.join_requested(&join_request("!new:x", "me"));
        t.attach(&mut rooms, "!new:x", "!new:x");
        let out = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "2", "rooms": {"join": {"!new:x": {"timeline": {"events": [
                text("@carol:x", "history", "$1"), member(ME, "Me", "join"), text("@carol:x", "welcome", "$2"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [
                "N !new:x Me",
                &format!("P !new:x me {} 0 Me", ParticipantFlag::Me.bit()),
                "R !new:x carol welcome",
            ],
            "the user's display name, known once the own join arrives"
        );
    }

    #[test]
    fn a_gap_in_the_timeline_is_told() {
        let (mut t, mut rooms) = tracker();
        let out = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "2", "rooms": {"join": {"!dm:x": {"timeline": {"limited": true, "events": [
                text("@bob:x", "the last one", "$9"),
            ]}}}}}),
        );
        assert_eq!(
            out,
            [
                format!("M @bob:x {}", view::SKIPPED),
                "M @bob:x the last one".into()
            ]
        );
    }

    #[test]
    fn typing_and_receipts_of_the_partner() {
        let (mut t, mut rooms) = tracker();
        t.expect_receipt("!dm:x", "$a".into(), "xmpp-1".into());
        t.expect_receipt("!dm:x", "$b".into(), "xmpp-2".into());
        t.expect_receipt("!dm:x", "$c".into(), "xmpp-3".into());
        let ephemeral = |events: Value| json!({"next_batch": "n", "rooms": {"join": {"!dm:x": {"ephemeral": {"events": events}}}}});
        let out = apply(
            &mut t,
            &mut rooms,
            ephemeral(json!([
                {"type": "m.typing", "content": {"user_ids": ["@bob:x"]}},
                {"type": "m.receipt", "content": {"$b": {"m.read": {"@bob:x": {"ts": 1}}}, "$c": {"m.read": {ME: {"ts": 1}}}}},
            ])),
        );
        assert_eq!(out, ["T @bob:x yes", "A @bob:x xmpp-1", "A @bob:x xmpp-2"]);
        let out = apply(
            &mut t,
            &mut rooms,
            ephemeral(json!([{"type": "m.typing", "content": {"user_ids": []}}])),
        );
        assert_eq!(out, ["T @bob:x no"]);
        for i in 0..(PENDING_ACKS + 10) {
            t.expect_receipt("!dm:x", format!("$p{i}"), format!("id{i}"));
        }
        assert_eq!(t.rooms["!dm:x"].pending.len(), PENDING_ACKS, "bounded");
    }

    #[test]
    fn invites_presence_leaves_and_the_room_list() {
        let (mut t, mut rooms) = in_lobby();
        let out = apply(
            &mut t,
            &mut rooms,
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
                "M @eve:x @eve:x invited you to the room !grp:x: join !grp:x as a group chat to accept.",
                "accept !inv:x from @eve:x",
                "P #lobby:x Me 16 5",
                "B @bob:x StatusAway",
            ]
        );
        assert!(!rooms.is_joined("#lobby:x"), "left on Matrix: left here");
        assert!(t.room_list().is_empty(), "only the direct chat is left");
        assert_eq!(t.invited_room("!GRP:x").as_deref(), Some("!grp:x"));
        assert_eq!(t.direct_room("@bob:x").as_deref(), Some("!dm:x"));
        assert_eq!(
            t.direct_with("@eve:x", "!inv:x"),
            json!({"@bob:x": ["!dm:x"], "@eve:x": ["!inv:x"]})
        );
        assert_eq!(
            t.presence_of("@bob:x"),
            Some(&(StatusType::StatusAway, "lunch".to_owned()))
        );
    }

    #[test]
    fn an_outage_shows_contacts_offline_then_as_last_known() {
        use spectrum_backend::gateway::contacts::Contact;
        let (mut t, mut rooms) = tracker();
        let announced = t.roster.update("@bob:x", Contact::new().alias("Bob"));
        assert!(announced.is_some());
        let out = apply(
            &mut t,
            &mut rooms,
            json!({"next_batch": "2", "presence": {"events": [
                {"type": "m.presence", "sender": "@bob:x", "content": {"presence": "unavailable", "status_msg": "lunch"}},
            ]}}),
        );
        assert_eq!(out, ["B @bob:x StatusAway"]);
        let frames = |f: Vec<Payload>| show(&f.into_iter().map(Out::Frame).collect::<Vec<_>>());
        assert_eq!(frames(t.roster.all_offline()), ["B @bob:x StatusNone"]);
        assert_eq!(frames(t.roster_as_known()), ["B @bob:x StatusAway"]);
        assert!(t.roster_as_known().is_empty(), "nothing changed since");
    }
}
