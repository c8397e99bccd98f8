//! What one connection knows about its IRC server, and what each IRC
//! message means for the XMPP side.
//!
//! Rooms, their occupants and subjects are the session's room tracker
//! ([`Ctx::with_rooms`](spectrum_backend::Ctx::with_rooms), shared by every
//! network of a gateway session): this module only says which IRC message
//! is which change. It does no I/O: [`State::on_message`] returns the
//! frames for Spectrum 2, which the read task sends after releasing the
//! locks.

use std::collections::HashSet;

use irc_proto::{ChannelMode, Command, Message, Mode, Prefix, Response};
use spectrum_backend::gateway::prelude::*;

use crate::text::{Incoming, clean, fold, from_irc, is_channel, nick_of};
use crate::whois::{WHOIS_REPLIES, Whois};

/// At most this many channels of a LIST reach the room list.
const MAX_LISTED: usize = 1000;

/// What the session knows of one IRC server.
#[derive(Debug)]
pub(crate) struct State {
    /// The user's current nickname.
    pub(crate) nick: String,
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
    /// The state of `user`, to be welcomed as `nick`; `suffix` is
    /// `%server` in gateway mode.
    pub(crate) fn new(user: &str, nick: &str, suffix: Option<String>) -> State {
        State {
            suffix: suffix.unwrap_or_default(),
            nick: nick.to_owned(),
            caps: Vec::new(),
            sasl: false,
            contacts: Contacts::new(user),
            who_answered: HashSet::new(),
            whois: Whois::default(),
            listing: None,
            away: None,
        }
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

    /// An IRC nickname or channel as an XMPP name (`name%server` in
    /// gateway mode): a contact, or a room of the session's tracker.
    pub(crate) fn buddy(&self, name: &str) -> String {
        format!("{name}{}", self.suffix)
    }

    /// Whether the session's room `room` is on this server.
    pub(crate) fn owns(&self, room: &str) -> bool {
        self.irc_name(room).len() < room.len() || self.suffix.is_empty()
    }

    /// The JOIN that (re)joins `request`'s room.
    pub(crate) fn join(&self, request: JoinRequest) -> Command {
        let key = (!request.password.is_empty()).then_some(request.password);
        Command::JOIN(clean(self.irc_name(&request.room)), key, None)
    }

    /// The session's rooms on this server.
    pub(crate) fn rooms_of(&self, rooms: &Rooms) -> Vec<String> {
        rooms
            .names()
            .filter(|r| self.owns(r))
            .map(str::to_owned)
            .collect()
    }

    fn is_me(&self, nick: &str) -> bool {
        fold(nick) == fold(&self.nick)
    }

    /// What one message from the server means, for the session's `rooms`.
    pub(crate) fn on_message(&mut self, rooms: &mut Rooms, msg: &Message) -> Vec<Payload> {
        let source = match &msg.prefix {
            Some(Prefix::Nickname(nick, _, _)) => Some(nick.as_str()),
            _ => None,
        };
        let me = source.is_some_and(|nick| self.is_me(nick));
        let room = |channel: &str| self.buddy(channel);
        match (&msg.command, source) {
            (Command::PRIVMSG(target, text) | Command::NOTICE(target, text), Some(from)) => {
                self.on_text(rooms, from, target, text)
            }
            (Command::JOIN(channels, _, _), Some(nick)) if !me => channels
                .split(',')
                .flat_map(|channel| rooms.occupant(&room(channel), Occupant::new(nick)))
                .collect(),
            (Command::PART(channel, reason), Some(nick)) => {
                rooms.occupant_left(&room(channel), nick, reason.as_deref().unwrap_or_default())
            }
            (Command::KICK(channel, nick, reason), by) => {
                let reason = kick_reason(by, reason.as_deref());
                rooms.occupant_left(&room(channel), nick, &reason)
            }
            (Command::QUIT(reason), Some(nick)) => {
                let reason = reason.as_deref().unwrap_or_default();
                let mut out = rooms.occupant_left_where(|r| self.owns(r), nick, reason);
                let buddy = self.buddy(nick);
                if self.contacts.get(&buddy).is_some() {
                    let offline = StatusType::StatusNone;
                    out.extend(self.contacts.status_changed(&buddy, offline, reason));
                }
                out
            }
            (Command::AWAY(text), Some(nick)) => self.on_away(rooms, nick, text.as_deref()),
            (Command::TOPIC(channel, Some(text)), by) => {
                rooms.subject_changed(&room(channel), &clean(text), by.unwrap_or_default())
            }
            (Command::NICK(new), Some(old)) => self.on_nick(rooms, old, new),
            (Command::ChannelMODE(channel, modes), _) => {
                self.on_modes(rooms, &room(channel), modes)
            }
            (Command::Response(code, args), _) if WHOIS_REPLIES.contains(&(*code as u16)) => {
                self.whois_reply(*code as u16, args)
            }
            (Command::Raw(code, args), _) => match code.parse::<u16>() {
                Ok(code) if WHOIS_REPLIES.contains(&code) => self.whois_reply(code, args),
                _ => Vec::new(),
            },
            (Command::Response(code, args), _) => self.on_response(rooms, *code, args),
            _ => Vec::new(),
        }
    }

    fn whois_reply(&mut self, code: u16, args: &[String]) -> Vec<Payload> {
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
        vec![reply::Message::new(from, answer.1).into_payload(self.contacts.user())]
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
                    user: Some(self.contacts.user().to_owned()),
                })];
            }
        }
        Vec::new()
    }

    /// A PRIVMSG or NOTICE (CTCP requests are the read task's).
    fn on_text(&self, rooms: &Rooms, from: &str, target: &str, text: &str) -> Vec<Payload> {
        let Incoming::Text(text) = from_irc(text) else {
            return Vec::new();
        };
        let msg = if is_channel(target) {
            match rooms.name(&self.buddy(target)) {
                Some(room) => reply::Message::room(room, from, text),
                None => return Vec::new(),
            }
        } else {
            // The chat through a room of this network (in gateway mode, a
            // nickname on another network is someone else).
            match rooms.private_chat_of(from).filter(|room| self.owns(room)) {
                Some(room) => reply::Message::private(room, from, text),
                None => reply::Message::new(self.buddy(from), text),
            }
        };
        vec![msg.into_payload(rooms.user())]
    }

    fn on_nick(&mut self, rooms: &mut Rooms, old: &str, new: &str) -> Vec<Payload> {
        if self.is_me(old) {
            self.nick = new.to_owned();
        }
        rooms.renamed_where(|r| self.owns(r), old, new)
    }

    /// Operator status given or taken in `room`.
    fn on_modes(
        &mut self,
        rooms: &mut Rooms,
        room: &str,
        modes: &[Mode<ChannelMode>],
    ) -> Vec<Payload> {
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
            out.extend(rooms.flag_set(room, nick, ParticipantFlag::Moderator, given));
        }
        out
    }

    fn on_response(&mut self, rooms: &mut Rooms, code: Response, args: &[String]) -> Vec<Payload> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        // The room named by argument `i`, under the session's name.
        let suffix = self.suffix.clone();
        let room = |i: usize| format!("{}{suffix}", arg(i));
        match code {
            Response::RPL_TOPIC => rooms.subject_text(&room(1), &clean(arg(2))),
            Response::RPL_TOPICWHOTIME => rooms.subject_set_by(&room(1), nick_of(arg(2))),
            Response::RPL_LISTSTART | Response::RPL_LIST | Response::RPL_LISTEND => {
                self.on_list(code, args)
            }
            Response::RPL_WHOREPLY => self.on_who_reply(rooms, args),
            Response::RPL_ENDOFWHO => self.on_who_end(arg(1)),
            Response::RPL_NAMREPLY => {
                let names = arg(3).split_whitespace().map(occupant);
                rooms.occupants_arriving(&room(2), names);
                Vec::new()
            }
            Response::RPL_ENDOFNAMES => rooms.occupants_done(&room(1), &self.nick),
            Response::ERR_NOSUCHCHANNEL
            | Response::ERR_TOOMANYCHANNELS
            | Response::ERR_CHANNELISFULL
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN
            | Response::ERR_BADCHANNELKEY
            | Response::ERR_BADCHANMASK
                // The same codes about a room already joined (a PRIVMSG
                // refused, say) do not end it.
                if rooms.name(&room(1)).is_some() && !rooms.is_joined(&room(1)) =>
            {
                let flag = match code {
                    Response::ERR_BADCHANNELKEY
                    | Response::ERR_INVITEONLYCHAN
                    | Response::ERR_BANNEDFROMCHAN => ParticipantFlag::NotAuthorized,
                    _ => ParticipantFlag::RoomNotFound,
                };
                rooms.join_failed(&room(1), flag, &format!("{}: {}", arg(1), arg(2)))
            }
            _ => Vec::new(),
        }
    }
}

/// What the read task answers the server itself: PONG to a PING, a CTCP
/// answer to a request (requests come in PRIVMSG, never in NOTICE).
pub(crate) fn server_answer(msg: &Message) -> Option<Command> {
    match (&msg.command, &msg.prefix) {
        (Command::PING(token, _), _) => Some(Command::PONG(token.clone(), None)),
        (Command::PRIVMSG(_, text), Some(Prefix::Nickname(from, _, _))) => match from_irc(text) {
            Incoming::Ctcp { command, argument } => {
                let answer = ctcp_answer(command, argument)?;
                Some(Command::NOTICE(from.clone(), format!("\u{1}{answer}\u{1}")))
            }
            Incoming::Text(_) => None,
        },
        _ => None,
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
