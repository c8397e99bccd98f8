//! What the session knows about the IRC side, and what each IRC message
//! means for the XMPP side.
//!
//! This module does no I/O. [`State::on_message`] takes one message from
//! the server and returns the [`Out`] events to report to Spectrum 2; the
//! session's handlers ask it where an XMPP message goes. The read task
//! applies messages under a lock and sends the events after releasing it,
//! so the rules here are unit-tested with plain strings.

use std::collections::{BTreeMap, HashMap};

use irc::client::prelude::{ChannelMode, Command, Message, Mode, Prefix, Response};
use spectrum_backend::ParticipantFlag;
use spectrum_backend::proto::Room as JoinRequest;

/// Something to tell Spectrum 2, produced by an IRC message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A private message from `from`.
    Message { from: String, text: String },
    /// A message in a room.
    RoomMessage {
        room: String,
        nick: String,
        text: String,
    },
    /// A private message from someone the user first wrote to as a room
    /// occupant (`room/nick`): it goes back to that conversation.
    PrivateMessage {
        room: String,
        nick: String,
        text: String,
    },
    /// The answer to JOIN_ROOM: every occupant, then the user.
    Joined {
        request: JoinRequest,
        /// The user's IRC nickname, which may differ from the requested one.
        nick: String,
        /// Other occupants and whether each is a moderator.
        occupants: Vec<(String, bool)>,
        moderator: bool,
        /// Topic text and who set it.
        subject: Option<(String, String)>,
    },
    /// An occupant appeared, changed, left or was renamed.
    Participant {
        room: String,
        nick: String,
        moderator: bool,
        change: Change,
    },
    /// The room's topic changed.
    Subject {
        room: String,
        text: String,
        by: String,
    },
    /// The user's own nickname changed (sent before the matching rename).
    RoomNickname { room: String, nick: String },
    /// The server refused to let the user into the room.
    JoinFailed {
        room: String,
        nick: String,
        flag: ParticipantFlag,
        reason: String,
    },
}

/// How an occupant changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// Present (joined, or their flags changed).
    Present,
    /// Left, with the reason the server gave (part or quit message).
    Left(String),
    /// Now called by this nickname.
    Renamed(String),
}

/// Where a message from the XMPP user goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A channel. `room` is the room name to echo with, if the user is in it.
    Channel {
        channel: String,
        room: Option<String>,
    },
    /// A nickname.
    Nick(String),
}

/// What to do for a JOIN_ROOM.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Join {
    /// Send JOIN to the server, with this key if not empty.
    Send { channel: String, key: String },
    /// A JOIN is already on its way; its answer will serve this request.
    Pending,
    /// Already in the room (Spectrum 2 replays joins after every
    /// CONNECTED): answer from what we know.
    Answer(Out),
}

#[derive(Debug, Clone)]
struct Member {
    nick: String,
    moderator: bool,
}

#[derive(Debug)]
struct Room {
    /// The JOIN_ROOM as received: its room name is the one Spectrum 2
    /// matches, exactly.
    request: JoinRequest,
    /// Whether the occupant list has been sent.
    announced: bool,
    /// Occupants by folded nickname, the user included.
    members: BTreeMap<String, Member>,
    topic: Option<(String, String)>,
}

/// The session's view of the IRC server.
#[derive(Debug)]
pub(crate) struct State {
    nick: String,
    /// Rooms joined or being joined, by folded channel name.
    rooms: HashMap<String, Room>,
    /// Nicknames the user wrote to as `room/nick`, by folded nickname.
    private_rooms: HashMap<String, String>,
}

/// IRC compares nicknames and channel names without case.
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Whether `name` names a channel rather than a nickname.
pub(crate) fn is_channel(name: &str) -> bool {
    name.starts_with(['#', '&', '+', '!'])
}

/// Room nickname prefixes in NAMES replies, and whether each makes a moderator.
fn strip_prefixes(entry: &str) -> (&str, bool) {
    let nick = entry.trim_start_matches(['~', '&', '@', '%', '+']);
    let prefixes = &entry[..entry.len() - nick.len()];
    (nick, prefixes.contains(['~', '&', '@', '%']))
}

/// The nickname part of `nick!user@host`.
fn nick_of(mask: &str) -> &str {
    mask.split(['!', '@']).next().unwrap_or(mask)
}

/// Plain text for XMPP: CTCP ACTION becomes `/me`; other CTCP requests are
/// not for people.
fn readable(text: &str) -> Option<String> {
    match text.strip_prefix('\u{1}') {
        None => Some(text.to_owned()),
        Some(ctcp) => {
            let ctcp = ctcp.strip_suffix('\u{1}').unwrap_or(ctcp);
            ctcp.strip_prefix("ACTION ")
                .map(|rest| format!("/me {rest}"))
        }
    }
}

impl Room {
    fn joined_event(&self, nick: &str) -> Out {
        let me = fold(nick);
        Out::Joined {
            request: self.request.clone(),
            nick: nick.to_owned(),
            occupants: self
                .members
                .iter()
                .filter(|(key, _)| **key != me)
                .map(|(_, m)| (m.nick.clone(), m.moderator))
                .collect(),
            moderator: self.members.get(&me).is_some_and(|m| m.moderator),
            subject: self.topic.clone().filter(|(text, _)| !text.is_empty()),
        }
    }
}

impl State {
    /// The state after the server welcomed the user as `nick`.
    pub(crate) fn new(nick: impl Into<String>) -> Self {
        State {
            nick: nick.into(),
            rooms: HashMap::new(),
            private_rooms: HashMap::new(),
        }
    }

    /// The user's current IRC nickname.
    pub(crate) fn nick(&self) -> &str {
        &self.nick
    }

    fn is_me(&self, nick: &str) -> bool {
        fold(nick) == fold(&self.nick)
    }

    /// The room name (as Spectrum 2 gave it) of a channel the user is in.
    fn room_name(&self, channel: &str) -> Option<String> {
        self.rooms
            .get(&fold(channel))
            .map(|r| r.request.room.clone())
    }

    /// A JOIN_ROOM from the user.
    pub(crate) fn join(&mut self, request: JoinRequest) -> Join {
        let key = fold(&request.room);
        if let Some(room) = self.rooms.get_mut(&key) {
            room.request = request;
            return if room.announced {
                Join::Answer(room.joined_event(&self.nick))
            } else {
                Join::Pending
            };
        }
        let send = Join::Send {
            channel: request.room.clone(),
            key: request.password.clone().unwrap_or_default(),
        };
        self.rooms.insert(
            key,
            Room {
                request,
                announced: false,
                members: BTreeMap::new(),
                topic: None,
            },
        );
        send
    }

    /// A LEAVE_ROOM: forgets the room at once (later messages for it are
    /// dropped); the channel to PART, if the user was in it.
    pub(crate) fn leave(&mut self, room: &str) -> Option<String> {
        self.rooms.remove(&fold(room)).map(|r| r.request.room)
    }

    /// Where an XMPP message to `buddy` goes: a room, `room/nick` (a
    /// private message to an occupant), or a nickname.
    pub(crate) fn target(&mut self, buddy: &str) -> Target {
        if let Some((room, nick)) = buddy.split_once('/')
            && is_channel(room)
            && !nick.is_empty()
        {
            let room = self.room_name(room).unwrap_or_else(|| room.to_owned());
            self.private_rooms.insert(fold(nick), room);
            return Target::Nick(nick.to_owned());
        }
        if is_channel(buddy) {
            return Target::Channel {
                channel: buddy.to_owned(),
                room: self.room_name(buddy),
            };
        }
        Target::Nick(buddy.to_owned())
    }

    /// What one message from the server means for the XMPP side.
    pub(crate) fn on_message(&mut self, msg: &Message) -> Vec<Out> {
        let source = match &msg.prefix {
            Some(Prefix::Nickname(nick, _, _)) => Some(nick.as_str()),
            _ => None,
        };
        match (&msg.command, source) {
            (Command::PRIVMSG(target, text), Some(from))
            | (Command::NOTICE(target, text), Some(from)) => self.on_text(from, target, text),
            (Command::JOIN(channels, _, _), Some(nick)) => self.on_join(nick, channels),
            (Command::PART(channel, reason), Some(nick)) => {
                self.on_left(nick, channel, reason.clone().unwrap_or_default())
            }
            (Command::KICK(channel, nick, reason), by) => {
                let reason = match (by, reason) {
                    (Some(by), Some(r)) if !r.is_empty() => format!("kicked by {by}: {r}"),
                    (Some(by), _) => format!("kicked by {by}"),
                    (None, _) => "kicked".to_owned(),
                };
                self.on_left(nick, channel, reason)
            }
            (Command::QUIT(reason), Some(nick)) => {
                self.on_quit(nick, reason.clone().unwrap_or_default())
            }
            (Command::NICK(new), Some(old)) => self.on_nick(old, new),
            (Command::TOPIC(channel, Some(text)), by) => {
                self.on_topic(channel, text, by.unwrap_or_default())
            }
            (Command::ChannelMODE(channel, modes), _) => self.on_modes(channel, modes),
            (Command::Response(code, args), _) => self.on_response(*code, args),
            _ => Vec::new(),
        }
    }

    fn on_text(&mut self, from: &str, target: &str, text: &str) -> Vec<Out> {
        let Some(text) = readable(text) else {
            return Vec::new();
        };
        if is_channel(target) {
            return match self.room_name(target) {
                Some(room) => vec![Out::RoomMessage {
                    room,
                    nick: from.to_owned(),
                    text,
                }],
                None => Vec::new(),
            };
        }
        if let Some(room) = self.private_rooms.get(&fold(from))
            && self.rooms.contains_key(&fold(room))
        {
            return vec![Out::PrivateMessage {
                room: room.clone(),
                nick: from.to_owned(),
                text,
            }];
        }
        vec![Out::Message {
            from: from.to_owned(),
            text,
        }]
    }

    fn on_join(&mut self, nick: &str, channels: &str) -> Vec<Out> {
        let mut out = Vec::new();
        for channel in channels.split(',') {
            let Some(room) = self.rooms.get_mut(&fold(channel)) else {
                continue;
            };
            room.members.insert(
                fold(nick),
                Member {
                    nick: nick.to_owned(),
                    moderator: false,
                },
            );
            if room.announced && fold(nick) != fold(&self.nick) {
                out.push(Out::Participant {
                    room: room.request.room.clone(),
                    nick: nick.to_owned(),
                    moderator: false,
                    change: Change::Present,
                });
            }
        }
        out
    }

    /// PART or KICK of `nick` from `channel`.
    fn on_left(&mut self, nick: &str, channel: &str, reason: String) -> Vec<Out> {
        let key = fold(channel);
        if self.is_me(nick) {
            // The echo of the PART sent for LEAVE_ROOM finds no room, or a
            // new join of it still waiting for its names (a quick rejoin):
            // both are left alone. Otherwise (a kick) the user is out.
            if !self.rooms.get(&key).is_some_and(|r| r.announced) {
                return Vec::new();
            }
            return match self.rooms.remove(&key) {
                Some(room) => vec![Out::Participant {
                    room: room.request.room,
                    nick: self.nick.clone(),
                    moderator: false,
                    change: Change::Left(reason),
                }],
                None => Vec::new(),
            };
        }
        let Some(room) = self.rooms.get_mut(&key) else {
            return Vec::new();
        };
        match room.members.remove(&fold(nick)) {
            Some(member) if room.announced => vec![Out::Participant {
                room: room.request.room.clone(),
                nick: member.nick,
                moderator: member.moderator,
                change: Change::Left(reason),
            }],
            _ => Vec::new(),
        }
    }

    fn on_quit(&mut self, nick: &str, reason: String) -> Vec<Out> {
        let key = fold(nick);
        let mut out = Vec::new();
        for room in self.rooms.values_mut() {
            if let Some(member) = room.members.remove(&key)
                && room.announced
            {
                out.push(Out::Participant {
                    room: room.request.room.clone(),
                    nick: member.nick,
                    moderator: member.moderator,
                    change: Change::Left(reason.clone()),
                });
            }
        }
        out
    }

    fn on_nick(&mut self, old: &str, new: &str) -> Vec<Out> {
        let (old_key, new_key) = (fold(old), fold(new));
        let me = self.is_me(old);
        if me {
            self.nick = new.to_owned();
        }
        if let Some(room) = self.private_rooms.remove(&old_key) {
            self.private_rooms.insert(new_key.clone(), room);
        }
        let mut out = Vec::new();
        for room in self.rooms.values_mut() {
            let Some(mut member) = room.members.remove(&old_key) else {
                continue;
            };
            let moderator = member.moderator;
            member.nick = new.to_owned();
            room.members.insert(new_key.clone(), member);
            if !room.announced {
                continue;
            }
            let name = room.request.room.clone();
            if me {
                out.push(Out::RoomNickname {
                    room: name.clone(),
                    nick: new.to_owned(),
                });
            }
            out.push(Out::Participant {
                room: name,
                nick: old.to_owned(),
                moderator,
                change: Change::Renamed(new.to_owned()),
            });
        }
        out
    }

    fn on_topic(&mut self, channel: &str, text: &str, by: &str) -> Vec<Out> {
        let Some(room) = self.rooms.get_mut(&fold(channel)) else {
            return Vec::new();
        };
        room.topic = Some((text.to_owned(), by.to_owned()));
        if !room.announced {
            return Vec::new();
        }
        vec![Out::Subject {
            room: room.request.room.clone(),
            text: text.to_owned(),
            by: by.to_owned(),
        }]
    }

    /// Operator status given or taken.
    fn on_modes(&mut self, channel: &str, modes: &[Mode<ChannelMode>]) -> Vec<Out> {
        let Some(room) = self.rooms.get_mut(&fold(channel)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for mode in modes {
            let (given, kind, nick) = match mode {
                Mode::Plus(kind, Some(nick)) => (true, kind, nick),
                Mode::Minus(kind, Some(nick)) => (false, kind, nick),
                _ => continue,
            };
            if !matches!(
                kind,
                ChannelMode::Founder | ChannelMode::Admin | ChannelMode::Oper | ChannelMode::Halfop
            ) {
                continue;
            }
            let Some(member) = room.members.get_mut(&fold(nick)) else {
                continue;
            };
            if member.moderator == given {
                continue;
            }
            member.moderator = given;
            if room.announced {
                out.push(Out::Participant {
                    room: room.request.room.clone(),
                    nick: member.nick.clone(),
                    moderator: given,
                    change: Change::Present,
                });
            }
        }
        out
    }

    fn on_response(&mut self, code: Response, args: &[String]) -> Vec<Out> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match code {
            Response::RPL_TOPIC => {
                if let Some(room) = self.rooms.get_mut(&fold(arg(1))) {
                    let by = room.topic.take().map(|(_, by)| by).unwrap_or_default();
                    room.topic = Some((arg(2).to_owned(), by));
                }
            }
            Response::RPL_TOPICWHOTIME => {
                if let Some(room) = self.rooms.get_mut(&fold(arg(1))) {
                    let text = room.topic.take().map(|(t, _)| t).unwrap_or_default();
                    room.topic = Some((text, nick_of(arg(2)).to_owned()));
                }
            }
            Response::RPL_NAMREPLY => {
                if let Some(room) = self.rooms.get_mut(&fold(arg(2))) {
                    for entry in arg(3).split_whitespace() {
                        let (nick, moderator) = strip_prefixes(entry);
                        let nick = nick_of(nick);
                        if !nick.is_empty() {
                            room.members.insert(
                                fold(nick),
                                Member {
                                    nick: nick.to_owned(),
                                    moderator,
                                },
                            );
                        }
                    }
                }
            }
            Response::RPL_ENDOFNAMES => {
                if let Some(room) = self.rooms.get_mut(&fold(arg(1)))
                    && !room.announced
                {
                    room.announced = true;
                    return vec![room.joined_event(&self.nick)];
                }
            }
            Response::ERR_NOSUCHCHANNEL
            | Response::ERR_TOOMANYCHANNELS
            | Response::ERR_CHANNELISFULL
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN
            | Response::ERR_BADCHANNELKEY
            | Response::ERR_BADCHANMASK => return self.join_failed(code, arg(1), arg(2)),
            _ => {}
        }
        Vec::new()
    }

    /// An error about a room still being joined ends the join; the same
    /// codes about a room already joined (e.g. a PRIVMSG refused) do not.
    fn join_failed(&mut self, code: Response, channel: &str, text: &str) -> Vec<Out> {
        let key = fold(channel);
        if self.rooms.get(&key).is_none_or(|r| r.announced) {
            return Vec::new();
        }
        let Some(room) = self.rooms.remove(&key) else {
            return Vec::new();
        };
        let flag = match code {
            Response::ERR_BADCHANNELKEY
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN => ParticipantFlag::NotAuthorized,
            _ => ParticipantFlag::RoomNotFound,
        };
        vec![Out::JoinFailed {
            room: room.request.room,
            nick: room.request.nickname,
            flag,
            reason: format!("{channel}: {text}"),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(room: &str, nickname: &str) -> JoinRequest {
        JoinRequest {
            user_name: "alice@xmpp.test".into(),
            nickname: nickname.into(),
            room: room.into(),
            password: Some(String::new()),
        }
    }

    fn feed(state: &mut State, lines: &[&str]) -> Vec<Out> {
        lines
            .iter()
            .flat_map(|line| {
                let msg: Message = line
                    .parse()
                    .unwrap_or_else(|e| panic!("bad test line {line}: {e}"));
                state.on_message(&msg)
            })
            .collect()
    }

    /// alice in #test (asked for as `#test`, the channel is `#Test`) with bob.
    fn in_room() -> State {
        let mut state = State::new("alice");
        assert_eq!(
            state.join(request("#test", "alice")),
            Join::Send {
                channel: "#test".into(),
                key: String::new()
            }
        );
        let out = feed(
            &mut state,
            &[
                ":alice!a@h JOIN :#Test",
                ":srv 332 alice #Test :the topic",
                ":srv 333 alice #Test bob!b@h 1700000000",
                ":srv 353 alice = #Test :alice @bob",
                ":srv 366 alice #Test :End of NAMES list",
            ],
        );
        assert_eq!(
            out,
            [Out::Joined {
                request: request("#test", "alice"),
                nick: "alice".into(),
                occupants: vec![("bob".into(), true)],
                moderator: false,
                subject: Some(("the topic".into(), "bob".into())),
            }]
        );
        state
    }

    fn participant(nick: &str, moderator: bool, change: Change) -> Out {
        Out::Participant {
            room: "#test".into(),
            nick: nick.into(),
            moderator,
            change,
        }
    }

    #[test]
    fn joining_answers_with_names_and_topic_under_the_requested_room_name() {
        in_room();
    }

    #[test]
    fn a_different_room_nickname_is_reported_as_the_users_irc_nick() {
        let mut state = State::new("alice");
        state.join(request("#x", "Ally"));
        let out = feed(
            &mut state,
            &[":srv 353 alice = #x :@alice", ":srv 366 alice #x :End"],
        );
        assert_eq!(
            out,
            [Out::Joined {
                request: request("#x", "Ally"),
                nick: "alice".into(),
                occupants: vec![],
                moderator: true,
                subject: None,
            }]
        );
    }

    #[test]
    fn a_replayed_join_is_answered_from_memory() {
        let mut state = in_room();
        match state.join(request("#test", "alice")) {
            Join::Answer(Out::Joined { occupants, .. }) => {
                assert_eq!(occupants, [("bob".to_owned(), true)]);
            }
            other => panic!("{other:?}"),
        }
        let mut pending = State::new("alice");
        pending.join(request("#y", "alice"));
        assert_eq!(pending.join(request("#y", "alice")), Join::Pending);
    }

    #[test]
    fn room_and_private_messages_are_routed() {
        let mut state = in_room();
        let out = feed(
            &mut state,
            &[
                ":bob!b@h PRIVMSG #TEST :hello",
                ":bob!b@h PRIVMSG #test :\u{1}ACTION waves\u{1}",
                ":bob!b@h PRIVMSG alice :\u{1}VERSION\u{1}",
                ":bob!b@h PRIVMSG alice :psst",
                ":irc.server.net NOTICE alice :server notice",
                ":bob!b@h PRIVMSG #elsewhere :not for us",
            ],
        );
        assert_eq!(
            out,
            [
                Out::RoomMessage {
                    room: "#test".into(),
                    nick: "bob".into(),
                    text: "hello".into()
                },
                Out::RoomMessage {
                    room: "#test".into(),
                    nick: "bob".into(),
                    text: "/me waves".into()
                },
                Out::Message {
                    from: "bob".into(),
                    text: "psst".into()
                },
            ]
        );
        // After the user wrote to bob as an occupant, bob's answers go there.
        assert_eq!(state.target("#test/bob"), Target::Nick("bob".into()));
        let out = feed(&mut state, &[":bob!b@h PRIVMSG alice :psst"]);
        assert_eq!(
            out,
            [Out::PrivateMessage {
                room: "#test".into(),
                nick: "bob".into(),
                text: "psst".into()
            }]
        );
    }

    #[test]
    fn targets() {
        let mut state = in_room();
        assert_eq!(
            state.target("#TEST"),
            Target::Channel {
                channel: "#TEST".into(),
                room: Some("#test".into())
            }
        );
        assert_eq!(
            state.target("#other"),
            Target::Channel {
                channel: "#other".into(),
                room: None
            }
        );
        assert_eq!(state.target("carol"), Target::Nick("carol".into()));
    }

    #[test]
    fn occupants_come_rename_change_flags_and_go() {
        let mut state = in_room();
        let out = feed(
            &mut state,
            &[
                ":carol!c@h JOIN #test",
                ":srv MODE #test +o carol",
                ":bob!b@h NICK :bobby",
                ":bobby!b@h PART #test :later",
                ":carol!c@h QUIT :Quit: gone",
                ":dave!d@h QUIT :not in any room",
            ],
        );
        assert_eq!(
            out,
            [
                participant("carol", false, Change::Present),
                participant("carol", true, Change::Present),
                participant("bob", true, Change::Renamed("bobby".into())),
                participant("bobby", true, Change::Left("later".into())),
                participant("carol", true, Change::Left("Quit: gone".into())),
            ]
        );
    }

    #[test]
    fn the_users_own_nick_change_and_kick() {
        let mut state = in_room();
        let out = feed(
            &mut state,
            &[":alice!a@h NICK alicia", ":bob!b@h KICK #test alicia :spam"],
        );
        assert_eq!(state.nick(), "alicia");
        assert_eq!(
            out,
            [
                Out::RoomNickname {
                    room: "#test".into(),
                    nick: "alicia".into()
                },
                participant("alice", false, Change::Renamed("alicia".into())),
                participant("alicia", false, Change::Left("kicked by bob: spam".into())),
            ]
        );
        // The room is gone: its messages are dropped.
        assert!(feed(&mut state, &[":bob!b@h PRIVMSG #test :hi"]).is_empty());
    }

    #[test]
    fn a_quick_rejoin_survives_the_echo_of_the_part() {
        let mut state = in_room();
        assert_eq!(state.leave("#test"), Some("#test".into()));
        assert!(matches!(
            state.join(request("#test", "alice")),
            Join::Send { .. }
        ));
        let out = feed(
            &mut state,
            &[
                ":alice!a@h PART #Test",
                ":alice!a@h JOIN #Test",
                ":srv 353 alice = #Test :alice @bob",
                ":srv 366 alice #Test :End",
            ],
        );
        assert!(matches!(&out[..], [Out::Joined { occupants, .. }] if occupants.len() == 1));
    }

    #[test]
    fn topics_are_reported_once_in_the_room() {
        let mut state = in_room();
        let out = feed(&mut state, &[":bob!b@h TOPIC #test :new one"]);
        assert_eq!(
            out,
            [Out::Subject {
                room: "#test".into(),
                text: "new one".into(),
                by: "bob".into()
            }]
        );
    }

    #[test]
    fn join_errors_end_the_join() {
        let mut state = State::new("alice");
        state.join(request("#locked", "alice"));
        let out = feed(
            &mut state,
            &[":srv 475 alice #locked :Cannot join channel (+k) -- Wrong channel key"],
        );
        assert_eq!(
            out,
            [Out::JoinFailed {
                room: "#locked".into(),
                nick: "alice".into(),
                flag: ParticipantFlag::NotAuthorized,
                reason: "#locked: Cannot join channel (+k) -- Wrong channel key".into()
            }]
        );
        assert_eq!(state.leave("#locked"), None);
        // The same code for a room the user is in changes nothing.
        let mut state = in_room();
        assert!(feed(&mut state, &[":srv 403 alice #test :No such channel"]).is_empty());
        assert_eq!(state.leave("#test"), Some("#test".into()));
    }
}
