//! What the session knows about the IRC side, and what each IRC message
//! means for the XMPP side.
//!
//! Rooms, their occupants and subjects are the author layer's
//! [`Rooms`] tracker: this module only says which IRC message is which
//! change. It does no I/O: [`State::on_message`] returns the frames for
//! Spectrum 2 and the lines for the server, which the read task sends after
//! releasing the lock.

use std::collections::{HashMap, HashSet};

use irc_proto::{ChannelMode, Command, Message, Mode, Prefix, Response};
use spectrum_backend::gateway::contacts::Contacts;
use spectrum_backend::gateway::rooms::{JoinRequest, Occupant, Rooms};
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::{Ctx, ParticipantFlag, StatusType};

use crate::text::{Incoming, clean, fold, from_irc, is_channel, nick_of};
use crate::whois::{WHOIS_REPLIES, Whois};

/// At most this many channels of a LIST reach the room list.
const MAX_LISTED: usize = 1000;
/// At most this many names of one room are kept while its NAMES come: a
/// server that never ends the list cannot take the memory.
const MAX_NAMES: usize = 20_000;

/// What one message from the server asks for.
#[derive(Debug, Default)]
pub(crate) struct Reaction {
    /// Frames for Spectrum 2, in order.
    pub(crate) main: Vec<Payload>,
    /// Lines for the server (answers to CTCP requests).
    pub(crate) server: Vec<String>,
}

/// Where a message from the XMPP user goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A channel; `room` is the room name to echo with, if the user is in it.
    Channel {
        channel: String,
        room: Option<String>,
    },
    /// A nickname.
    Nick(String),
}

/// The session's view of the IRC server.
#[derive(Debug)]
pub(crate) struct State {
    /// The user's current nickname.
    pub(crate) nick: String,
    /// Joined rooms and rooms being joined, under Spectrum 2's names.
    pub(crate) rooms: Rooms,
    /// NAMES replies being collected, by folded channel name.
    names: HashMap<String, Vec<Occupant>>,
    /// Nicknames the user wrote to as `room/nick`, by folded nickname.
    private_rooms: HashMap<String, String>,
    /// The capabilities the server granted.
    pub(crate) caps: Vec<String>,
    /// Whether SASL logged the user in.
    pub(crate) sasl: bool,
    /// The user's contacts (added on the XMPP side), their presence kept
    /// current by WHO polls.
    pub(crate) contacts: Contacts,
    /// Nicknames a WHO answered for, until its end.
    pub(crate) who_answered: HashSet<String>,
    /// WHOIS answers being gathered.
    pub(crate) whois: Whois,
    /// The channel list being gathered (LIST), as (channel, description).
    pub(crate) listing: Option<Vec<(String, String)>>,
    /// The user's away text, set again after a reconnect.
    pub(crate) away: Option<String>,
    /// Gateway mode: `%server`, which room and contact names carry on the
    /// XMPP side and not on IRC; empty otherwise.
    suffix: String,
}

/// Room keys in gateway mode: the channel without its `%server` (each
/// network has its own tracker), so that IRC's `#chan` finds the room
/// Spectrum 2 calls `#chan%server`.
fn without_network(room: &str) -> String {
    room.split('%').next().unwrap_or(room).to_lowercase()
}

/// Room nickname prefixes in NAMES replies, and whether each makes a moderator.
fn occupant(entry: &str) -> Occupant {
    let nick = entry.trim_start_matches(['~', '&', '@', '%', '+']);
    let prefixes = &entry[..entry.len() - nick.len()];
    let occupant = Occupant::new(nick_of(nick));
    if prefixes.contains(['~', '&', '@', '%']) {
        occupant.moderator()
    } else {
        occupant
    }
}

/// Why someone left a room, as the user reads it.
fn kick_reason(by: Option<&str>, reason: Option<&str>) -> String {
    match (by, reason) {
        (Some(by), Some(r)) if !r.is_empty() => format!("kicked by {by}: {r}"),
        (Some(by), _) => format!("kicked by {by}"),
        (None, _) => "kicked".to_owned(),
    }
}

impl State {
    /// The state of `user` welcomed as `nick`; `suffix` is `%server` in
    /// gateway mode.
    pub(crate) fn new(user: &str, nick: &str, suffix: Option<String>) -> State {
        let mut rooms = Rooms::new(user).fold_nicknames(|n| n.to_ascii_lowercase());
        if suffix.is_some() {
            rooms = rooms.fold_rooms(without_network);
        }
        State {
            suffix: suffix.unwrap_or_default(),
            nick: nick.to_owned(),
            rooms,
            names: HashMap::new(),
            private_rooms: HashMap::new(),
            caps: Vec::new(),
            sasl: false,
            contacts: Contacts::new(user),
            who_answered: HashSet::new(),
            whois: Whois::default(),
            listing: None,
            away: None,
        }
    }

    /// The connection is back: every room is joined again (its occupants
    /// are compared with what the user saw when the names come).
    pub(crate) fn rejoin(&mut self) -> Vec<JoinRequest> {
        self.names.clear();
        self.rooms.connection_lost()
    }

    /// A room or contact name as IRC knows it: without the `%server` of
    /// gateway mode.
    pub(crate) fn irc_name<'a>(&self, name: &'a str) -> &'a str {
        let cut = name.len().checked_sub(self.suffix.len());
        match cut {
            Some(cut)
                if !self.suffix.is_empty()
                    && name.is_char_boundary(cut)
                    && name[cut..].eq_ignore_ascii_case(&self.suffix) =>
            {
                &name[..cut]
            }
            _ => name,
        }
    }

    /// An IRC nickname as an XMPP contact name (`nick%server` in gateway mode).
    pub(crate) fn buddy(&self, nick: &str) -> String {
        format!("{nick}{}", self.suffix)
    }

    /// Where an XMPP message to `buddy` goes: a room, `room/nick` (a
    /// private message to an occupant), or a nickname.
    pub(crate) fn target(&mut self, buddy: &str) -> Target {
        if let Some((room, nick)) = buddy.split_once('/')
            && is_channel(room)
            && !nick.is_empty()
        {
            let room = self.rooms.name(room).unwrap_or(room).to_owned();
            self.private_rooms.insert(fold(nick), room);
            return Target::Nick(nick.to_owned());
        }
        let name = self.irc_name(buddy).to_owned();
        if is_channel(&name) {
            return Target::Channel {
                channel: name,
                room: self.rooms.name(buddy).map(str::to_owned),
            };
        }
        Target::Nick(name)
    }

    fn is_me(&self, nick: &str) -> bool {
        fold(nick) == fold(&self.nick)
    }

    /// What one message from the server means.
    pub(crate) fn on_message(&mut self, ctx: &Ctx, msg: &Message) -> Reaction {
        let source = match &msg.prefix {
            Some(Prefix::Nickname(nick, _, _)) => Some(nick.as_str()),
            _ => None,
        };
        let mut out = Reaction::default();
        let me = source.is_some_and(|nick| self.is_me(nick));
        let rooms = &mut self.rooms;
        out.main = match (&msg.command, source) {
            (Command::PRIVMSG(target, text), Some(from)) => {
                return self.on_text(ctx, from, target, text, true);
            }
            (Command::NOTICE(target, text), Some(from)) => {
                return self.on_text(ctx, from, target, text, false);
            }
            (Command::JOIN(channels, _, _), Some(nick)) if !me => channels
                .split(',')
                .flat_map(|channel| rooms.occupant(channel, Occupant::new(nick)))
                .collect(),
            (Command::PART(channel, reason), Some(nick)) => {
                rooms.occupant_left(channel, nick, reason.as_deref().unwrap_or_default())
            }
            (Command::KICK(channel, nick, reason), by) => {
                rooms.occupant_left(channel, nick, &kick_reason(by, reason.as_deref()))
            }
            (Command::QUIT(reason), Some(nick)) => {
                let reason = reason.as_deref().unwrap_or_default();
                let mut out = rooms.occupant_left_everywhere(nick, reason);
                if self.contacts.get(nick).is_some() {
                    out.extend(
                        self.contacts
                            .status_changed(nick, StatusType::StatusNone, reason),
                    );
                }
                out
            }
            (Command::AWAY(text), Some(nick)) => self.on_away(nick, text.as_deref()),
            (Command::TOPIC(channel, Some(text)), by) => {
                rooms.subject_changed(channel, &clean(text), by.unwrap_or_default())
            }
            (Command::NICK(new), Some(old)) => self.on_nick(old, new),
            (Command::ChannelMODE(channel, modes), _) => self.on_modes(channel, modes),
            (Command::Response(code, args), _) if WHOIS_REPLIES.contains(&(*code as u16)) => {
                self.whois_reply(ctx, *code as u16, args)
            }
            (Command::Raw(code, args), _) => match code.parse::<u16>() {
                Ok(code) if WHOIS_REPLIES.contains(&code) => self.whois_reply(ctx, code, args),
                _ => Vec::new(),
            },
            (Command::Response(code, args), _) => self.on_response(*code, args),
            _ => Vec::new(),
        };
        out
    }

    fn whois_reply(&mut self, ctx: &Ctx, code: u16, args: &[String]) -> Vec<Payload> {
        let pending = args.get(1).is_some_and(|n| self.whois.is_pending(n));
        let answer = match self.whois.reply(code, args) {
            Some(answer) => answer,
            // A message to someone who is not there: say so, from them.
            None if code == 401 && !pending => match (args.get(1), args.last()) {
                (Some(nick), Some(text)) => (nick.clone(), format!("{nick}: {text}")),
                _ => return Vec::new(),
            },
            None => return Vec::new(),
        };
        let from = self.buddy(&answer.0);
        vec![Payload::ConvMessage(
            ctx.message(from, answer.1).into_inner(),
        )]
    }

    /// LIST replies: gathered, then sent as the user's room list.
    fn on_list(&mut self, code: Response, args: &[String]) -> Vec<Payload> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match code {
            Response::RPL_LISTSTART => self.listing = Some(Vec::new()),
            Response::RPL_LIST => {
                let listing = self.listing.get_or_insert_with(Vec::new);
                if listing.len() < MAX_LISTED {
                    let topic = clean(arg(3));
                    let name = match topic.trim() {
                        "" => format!("{} ({})", arg(1), arg(2)),
                        topic => format!("{} ({}): {topic}", arg(1), arg(2)),
                    };
                    listing.push((clean(arg(1)), name));
                }
            }
            _ => {
                let (room, name) = self.listing.take().unwrap_or_default().into_iter().unzip();
                return vec![Payload::RoomList(proto::RoomList {
                    room,
                    name,
                    user: Some(self.rooms.user().to_owned()),
                })];
            }
        }
        Vec::new()
    }

    fn on_text(
        &mut self,
        ctx: &Ctx,
        from: &str,
        target: &str,
        text: &str,
        request: bool,
    ) -> Reaction {
        let mut out = Reaction::default();
        let text = match from_irc(text) {
            Incoming::Text(text) => text,
            Incoming::Ctcp { command, argument } => {
                // Requests come in PRIVMSG, answers in NOTICE (never answered).
                if request && let Some(answer) = ctcp_answer(command, argument) {
                    out.server.push(String::from(&Command::NOTICE(
                        from.to_owned(),
                        format!("\u{1}{answer}\u{1}"),
                    )));
                }
                return out;
            }
        };
        let msg = if is_channel(target) {
            match self.rooms.name(target) {
                Some(room) => ctx.room_message(room, from, text),
                None => return out,
            }
        } else {
            match self.private_rooms.get(&fold(from)) {
                Some(room) if self.rooms.is_joined(room) => ctx.private_message(room, from, text),
                _ => ctx.message(self.buddy(from), text),
            }
        };
        out.main.push(Payload::ConvMessage(msg.into_inner()));
        out
    }

    fn on_nick(&mut self, old: &str, new: &str) -> Vec<Payload> {
        if self.is_me(old) {
            self.nick = new.to_owned();
        }
        if let Some(room) = self.private_rooms.remove(&fold(old)) {
            self.private_rooms.insert(fold(new), room);
        }
        self.rooms.renamed_everywhere(old, new)
    }

    /// Operator status given or taken.
    fn on_modes(&mut self, channel: &str, modes: &[Mode<ChannelMode>]) -> Vec<Payload> {
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
            let Some(current) = self.rooms.occupant_of(channel, nick) else {
                continue;
            };
            let flags = if given {
                current.flags.with(ParticipantFlag::Moderator)
            } else {
                current.flags.without(ParticipantFlag::Moderator)
            };
            out.extend(self.rooms.flags_changed(channel, nick, flags));
        }
        out
    }

    fn on_response(&mut self, code: Response, args: &[String]) -> Vec<Payload> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        let rooms = &mut self.rooms;
        match code {
            Response::RPL_TOPIC => {
                let by = rooms.subject(arg(1)).map(|(_, by)| by.to_owned());
                rooms.subject_changed(arg(1), &clean(arg(2)), &by.unwrap_or_default())
            }
            Response::RPL_TOPICWHOTIME => {
                let text = rooms.subject(arg(1)).map(|(text, _)| text.to_owned());
                rooms.subject_changed(arg(1), &text.unwrap_or_default(), nick_of(arg(2)))
            }
            Response::RPL_LISTSTART | Response::RPL_LIST | Response::RPL_LISTEND => {
                self.on_list(code, args)
            }
            Response::RPL_WHOREPLY => self.on_who_reply(args),
            Response::RPL_ENDOFWHO => self.on_who_end(arg(1)),
            Response::RPL_NAMREPLY if rooms.name(arg(2)).is_some() => {
                let names = self.names.entry(fold(arg(2))).or_default();
                let room = MAX_NAMES.saturating_sub(names.len());
                names.extend(arg(3).split_whitespace().take(room).map(occupant));
                Vec::new()
            }
            Response::RPL_ENDOFNAMES => {
                let names = self.names.remove(&fold(arg(1))).unwrap_or_default();
                if rooms.is_joined(arg(1)) {
                    rooms.occupants_are(arg(1), names)
                } else {
                    rooms.joined(arg(1), &self.nick, names)
                }
            }
            Response::ERR_NOSUCHCHANNEL
            | Response::ERR_TOOMANYCHANNELS
            | Response::ERR_CHANNELISFULL
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN
            | Response::ERR_BADCHANNELKEY
            | Response::ERR_BADCHANMASK
                // The same codes about a room already joined (a PRIVMSG
                // refused, say) do not end it.
                if rooms.name(arg(1)).is_some() && !rooms.is_joined(arg(1)) =>
            {
                let flag = match code {
                    Response::ERR_BADCHANNELKEY
                    | Response::ERR_INVITEONLYCHAN
                    | Response::ERR_BANNEDFROMCHAN => ParticipantFlag::NotAuthorized,
                    _ => ParticipantFlag::RoomNotFound,
                };
                rooms.join_failed(arg(1), flag, &format!("{}: {}", arg(1), arg(2)))
            }
            _ => Vec::new(),
        }
    }
}

/// The answer to a CTCP request, if it is one we answer.
fn ctcp_answer(command: &str, argument: &str) -> Option<String> {
    match command.to_ascii_uppercase().as_str() {
        "VERSION" => Some(format!(
            "VERSION Spectrum 2 IRC backend {}",
            env!("CARGO_PKG_VERSION")
        )),
        "PING" => Some(format!("PING {argument}")),
        "TIME" => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Some(format!("TIME {secs}"))
        }
        _ => None,
    }
}
