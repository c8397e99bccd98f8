//! A Spectrum 2 backend for IRC, built on `spectrum-backend`'s author
//! layer (supervised link and its report, the session's room tracker,
//! contacts, views and owned replies) and `irc-proto`.
//!
//! With `service.irc_server` set, each XMPP user gets one IRC connection,
//! under their legacy name as nickname; without it (gateway mode) rooms
//! name their network (`#chan%irc.example.net`) and the first join to a
//! network connects to it. The README lists every config key.
//!
//! | Spectrum 2                                              | IRC                                  |
//! |---------------------------------------------------------|--------------------------------------|
//! | LOGIN, answered by CONNECTED                            | connect, NICK/USER, welcome (001)    |
//! | … or by DISCONNECTED NAME_IN_USE (6), final             | nickname in use (433), even with `_` |
//! | … or by DISCONNECTED NETWORK_ERROR (0), retried         | unreachable, or no welcome           |
//! | a message from the server's name; rooms rejoined        | connection lost, then back           |
//! | DISCONNECTED NETWORK_ERROR (0)                          | connection lost for good             |
//! | CONV_MESSAGE to or from `nick`                          | PRIVMSG nick                         |
//! | JOIN_ROOM `#chan`, answered by every occupant (ops are moderators), the user last, then the subject | JOIN; topic (332/333); NAMES (353/366) |
//! | CONV_MESSAGE in `#chan`; the user's own are echoed back | PRIVMSG #chan                        |
//! | CONV_MESSAGE to `#chan/nick`; answers come back as private room messages | PRIVMSG nick        |
//! | ROOM_SUBJECT_CHANGED, both ways                         | TOPIC                                |
//! | PARTICIPANT_CHANGED                                     | others' JOIN, PART, QUIT, KICK, NICK, MODE ±o |
//! | LEAVE_ROOM                                              | PART                                 |
//! | LOGOUT                                                  | QUIT                                 |
//!
//! # Design
//!
//! * **One session, two tasks, one link.** [`Irc`] is a user's session: its
//!   handlers run one event from Spectrum 2 at a time and only *send* to
//!   the server, through the author layer's supervised link: its send queue
//!   is bounded, so a server that stops reading slows the handlers down
//!   instead of growing memory. A read task, spawned at login with a clone
//!   of the session's [`Ctx`], owns the link and reports to Spectrum 2.
//! * **A dropped connection comes back.** The link reconnects with a
//!   jittered exponential backoff (the next server of the list each time:
//!   the layer's `Endpoints`), registers again (`Handshake`) and rejoins
//!   the rooms of that server; it PINGs a silent server and counts it lost
//!   after two PINGs unanswered (`LinkSettings::keepalive`); the layer's
//!   `LinkReport` tells the user (messages from the server's name) and
//!   Spectrum 2 (CONNECTED, DISCONNECTED with the link's code), and when
//!   the occupants come the rooms show only what changed. Only when the
//!   link gives up (`service.irc_reconnect_attempts` failures in a row) is
//!   the session ended with DISCONNECTED; in gateway mode, only that
//!   network's rooms end. Lines longer than 8 KiB are skipped as they
//!   arrive, never buffered.
//! * **The layer tracks the rooms.** Every room of the session, on every
//!   network, is in the session's tracker (`Ctx::with_rooms`), which
//!   answers JOIN_ROOM (the runtime answers the replays after every
//!   CONNECTED from it) and turns occupant changes into frames. Each
//!   connection keeps a `State` (nickname, capabilities, contacts, WHOIS)
//!   behind a mutex that is never held across an
//!   `.await`; `State::on_message` only says which IRC message is which
//!   change, and the read task sends the frames after releasing the locks.
//! * **Room names are Spectrum 2's.** JOIN_ROOM names arrive lower-cased
//!   and are matched exactly, while IRC channel names are case-insensitive:
//!   the tracker compares names without case, nicknames without ASCII
//!   case, and every event uses the name exactly as JOIN_ROOM gave it (in
//!   gateway mode IRC's `#chan` is the session's `#chan%server`). Messages
//!   for rooms the user is not in (or has just left) are dropped.
//! * **Joins answer when NAMES ends.** JOIN_ROOM sends JOIN; the topic
//!   (332/333) and names (353) are collected in the tracker
//!   (`Rooms::occupants_arriving`) until 366, which answers with
//!   the occupants, then the user (under the IRC nickname: if it differs
//!   from the requested room nickname, Spectrum 2 is told of the change),
//!   then the topic. A repeated JOIN_ROOM (Spectrum 2 replays joins after
//!   every CONNECTED) is answered from the tracker. Join errors (bad key,
//!   invite-only, banned, no such channel...) are reported on the user's
//!   own nickname with the matching error flag.
//! * **Errors carry the right code.** A nickname in use is tried again with
//!   `_` appended (rooms then show the rename); still in use after five
//!   tries, the login ends with NAME_IN_USE (final). A nickname the server
//!   calls erroneous (432) is INVALID_USERNAME; an unreachable server or a
//!   welcome that never comes is a NETWORK_ERROR, which Spectrum 2 retries;
//!   wrong settings are INVALID_SETTINGS.
//!
//! The backend announces, like Spectrum 2's own IRC backend, that users
//! need neither registration nor a password and that contacts map to JIDs
//! with `%` ([`capabilities`]): the legacy name (or, in gateway mode, the
//! MUC nickname) is the IRC nickname.
//!
//! Lines that are not UTF-8 are decoded lossily instead of ending the
//! connection; `irc-proto` parses them.
//!
//! # Size, and what the framework does for it
//!
//! 1,497 lines of code (non-blank lines that are not comments, outside
//! `#[cfg(test)]` items; tests/ not counted). 779 of them are features the
//! first version of this example (before the author layer) did not have:
//! TLS, CAP/SASL, presence and AWAY with WHO polls, contacts, WHOIS, LIST,
//! gateway mode with several networks, CTCP answers, hostile-server
//! bounds. At equal features that leaves 718 lines, against 981 then
//! (26.8 % fewer), and it now reconnects, which it did not then. By
//! concern, then and now: room, occupant and subject tracking 277 and 28
//! (the session's room tracker); the reply vocabulary and its translator
//! 110 and 0 (owned `reply` values); wire conventions (`room/nick`
//! private messages) 39 and 10 (views, the tracker's private chats); the
//! connection 184 and 210 (now with reconnect, keepalive and a server list,
//! on the layer's `Link`, `Endpoints`, `Handshake` and `LinkReport`).

mod network;
mod presence;
mod register;
mod settings;
mod state;
mod text;
mod tls;
mod whois;

use std::collections::HashMap;
use std::sync::Arc;

use irc_proto::Command;
use spectrum_backend::gateway::prelude::*;

use crate::network::Network;
use crate::presence::away_command;
use crate::settings::{Settings, check_nickname};
use crate::text::{clean, fold, irc_lines, is_channel, target, to_irc};
use crate::whois::whois_command;

/// What the backend announces to Spectrum 2 besides rooms (derived from
/// the handlers): IRC needs no registration and no password; contacts map
/// to JIDs with `%` (`nick%server`), as Spectrum 2's own IRC backend says.
pub fn capabilities(c: &mut Capabilities) {
    c.need_registration = false;
    c.need_password = false;
    c.disable_jid_escaping = true;
}

/// One user's IRC session.
pub struct Irc {
    settings: Arc<Settings>,
    password: String,
    /// The connections: one under `""` with a configured server; in
    /// gateway mode one per network the user has rooms on, by folded name.
    nets: HashMap<String, Network>,
}

/// The network of a room or contact name in gateway mode: what follows
/// the last `%` (`#chan%irc.example.net`, `bob%irc.example.net`,
/// `#chan%irc.example.net/bob`).
fn network_name(name: &str) -> Option<&str> {
    let room_part = name.split('/').next().unwrap_or(name);
    let (base, server) = room_part.rsplit_once('%')?;
    (!base.is_empty() && !server.is_empty()).then_some(server)
}

impl Irc {
    /// The key of the connection `name` (a room, contact or `room/nick`)
    /// belongs to.
    fn network_of(&self, name: &str) -> Option<String> {
        match self.settings.gateway() {
            false => Some(String::new()),
            true => network_name(name).map(fold),
        }
    }

    /// The live connection for `name`, if any.
    fn net(&self, name: &str) -> Option<&Network> {
        self.nets
            .get(&self.network_of(name)?)
            .filter(|n| !n.sender.is_gone())
    }

    /// Gateway mode: the connection for a room's network, opened with the
    /// join's nickname if there is none yet; the error for the user if it
    /// cannot be.
    async fn open_for(&mut self, ctx: &Ctx, room: &Room) -> std::result::Result<String, String> {
        let Some(server) = network_name(&room.room) else {
            let room = &room.room;
            return Err(format!("{room}: rooms are named #channel%irc.server"));
        };
        let key = fold(server);
        if self.nets.get(&key).is_some_and(|n| !n.sender.is_gone()) {
            return Ok(key);
        }
        let settings = self
            .settings
            .for_network(server)
            .map_err(|e| e.message().to_owned())?;
        let nick = room.nickname.trim();
        check_nickname(nick).map_err(|e| e.message().to_owned())?;
        let suffix = format!("%{server}");
        let net = Network::open(ctx, Arc::new(settings), nick, &self.password, Some(suffix))
            .await
            .map_err(|e| e.message().to_owned())?;
        self.nets.insert(key.clone(), net);
        Ok(key)
    }
}

#[backend]
impl Irc {
    /// With a configured server, connects to IRC as `legacyName` and
    /// returns once the server has welcomed the user, so CONNECTED is true
    /// when Spectrum 2 gets it. In gateway mode, connects nowhere yet.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        let settings = Arc::new(Settings::from_config(ctx.config())?);
        // IRC nicknames compare without (ASCII) case.
        ctx.with_rooms(|rooms| *rooms = rooms.clone().fold_nicknames(fold));
        let mut nets = HashMap::new();
        if !settings.gateway() {
            let nick = login.legacy_name.trim();
            check_nickname(nick)?;
            let net =
                Network::open(ctx, Arc::clone(&settings), nick, &login.password, None).await?;
            nets.insert(String::new(), net);
        }
        Ok(Irc {
            settings,
            password: login.password,
            nets,
        })
    }

    /// A message to a nickname, a room, or a room occupant (`room/nick`).
    /// Room messages are echoed back: Spectrum 2 does not show the user's
    /// own room messages otherwise.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        let Some(net) = self.net(msg.to()) else {
            let text = "Not connected to that network: join a room on it first.";
            return ctx.message(msg.to(), text).await;
        };
        if let Some(nick) = whois_command(msg.text()).and_then(target) {
            if !net.state().whois.asked(&nick) {
                let text = "Too many WHOIS answers awaited; try again shortly.";
                return ctx.message(net.server(), text).await;
            }
            let whois = Command::WHOIS(None, nick);
            return net.send_or_tell(ctx, &whois, "the WHOIS").await.map(drop);
        }
        let to = match msg.target() {
            Target::Room(room) => net.state().irc_name(room).to_owned(),
            Target::Occupant { room, nickname } => {
                // Answers from that nickname come back through the room.
                ctx.with_rooms(|rooms| rooms.private_chat(room, nickname));
                nickname.to_owned()
            }
            // `room/nick` of a room left since: still that nickname.
            Target::Contact(name) => match name.split_once('/') {
                Some((room, nick)) if is_channel(room) && !nick.is_empty() => nick.to_owned(),
                _ => net.state().irc_name(name).to_owned(),
            },
        };
        let Some(to) = target(&to) else {
            let text = format!("`{}` is no IRC nickname or channel.", clean(&to));
            return ctx.message(net.server(), text).await;
        };
        for line in irc_lines(msg.text()) {
            let privmsg = Command::PRIVMSG(to.clone(), to_irc(&line));
            if !net.send_or_tell(ctx, &privmsg, "the message").await? {
                return Ok(());
            }
        }
        if let Target::Room(room) = msg.target() {
            let own = ctx.with_rooms(|r| r.own_nickname(room).map(str::to_owned));
            let own = own.unwrap_or_else(|| net.state().nick.clone());
            ctx.room_message(room, own, msg.text()).await?;
        }
        Ok(())
    }

    /// Joins the channel named like the room (in gateway mode, on the
    /// room's network, connecting first if needed); the answer comes when
    /// the server has sent the names. While the connection is down the
    /// join waits for it to come back.
    #[on(JoinRoom)]
    async fn join_room(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
        let key = match self.settings.gateway() {
            false => String::new(),
            true => match self.open_for(ctx, join.raw()).await {
                Ok(key) => key,
                Err(reason) => {
                    return ctx
                        .participant(join.room(), join.nickname())
                        .flag(ParticipantFlag::RoomNotFound)
                        .status(StatusType::StatusNone)
                        .status_message(reason)
                        .await;
                }
            },
        };
        let Some(net) = self.nets.get(&key) else {
            return Ok(());
        };
        // The runtime answers the replays after CONNECTED from the tracker
        // (a room joined already never reaches this handler); a join while
        // the connection is down happens when it is back.
        if let JoinAction::Join(request) = ctx.with_rooms(|r| r.join_requested(join.raw()))
            && net.sender.is_up()
        {
            let join = net.state().join(request);
            net.send(&join).await;
        }
        Ok(())
    }

    /// Leaves the channel; in gateway mode, leaving the last room of a
    /// network closes its connection.
    #[on(LeaveRoom)]
    async fn leave_room(&mut self, ctx: &Ctx, room: view::Join) {
        let Some(key) = self.network_of(room.room()) else {
            return;
        };
        let Some(net) = self.nets.get(&key) else {
            return;
        };
        let (channel, empty) = {
            let state = net.state();
            ctx.with_rooms(|rooms| {
                let channel = rooms.left(room.room()).map(|c| clean(state.irc_name(&c)));
                (channel, state.rooms_of(rooms).is_empty())
            })
        };
        // The last room of a gateway network: QUIT leaves it, with the
        // reason shown to its occupants.
        if !(self.settings.gateway() && empty) {
            if let Some(channel) = channel {
                net.send(&Command::PART(channel, None)).await;
            }
        } else if let Some(net) = self.nets.remove(&key) {
            net.quit("Left the last room").await;
        }
    }

    /// Sets the channel's topic; the server's TOPIC echo reports it back.
    #[on(RoomSubjectChanged)]
    async fn subject(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let Some(net) = self.net(&msg.buddy_name) else {
            return Ok(());
        };
        let topic = clean(&irc_lines(&msg.message).join(" "));
        let channel = clean(net.state().irc_name(&msg.buddy_name));
        let command = Command::TOPIC(channel, Some(topic));
        net.send_or_tell(ctx, &command, "the subject")
            .await
            .map(drop)
    }

    /// The user's presence, on every network: away, xa and dnd set AWAY
    /// with the status text; any other state clears it.
    #[on(StatusChanged)]
    async fn status(&mut self, ctx: &Ctx, status: view::Presence) -> Result<()> {
        let away = away_command(status.status(), status.message().unwrap_or_default());
        for net in self.nets.values().filter(|n| !n.sender.is_gone()) {
            let changed = {
                let mut state = net.state();
                let changed = state.away != away;
                state.away.clone_from(&away);
                changed
            };
            if changed {
                let command = Command::AWAY(away.clone());
                net.send_or_tell(ctx, &command, "the away state").await?;
            }
        }
        Ok(())
    }

    /// A contact added on the XMPP side (in gateway mode, on a network the
    /// user is connected to): its presence is asked for now and kept
    /// current by the WHO polls.
    #[on(BuddyChanged)]
    async fn buddy_changed(&mut self, buddy: Buddy) {
        let Some(net) = self.net(&buddy.buddy_name) else {
            return;
        };
        let nick = {
            let mut state = net.state();
            let nick = target(state.irc_name(&buddy.buddy_name)).filter(|n| !is_channel(n));
            if nick.is_some() {
                state.contacts.changed_by_user(&buddy);
            }
            nick
        };
        if let Some(nick) = nick.filter(|_| net.sender.is_up()) {
            net.send(&Command::WHO(Some(nick), None)).await;
        }
    }

    /// A contact removed on the XMPP side.
    #[on(BuddyRemoved)]
    async fn buddy_removed(&mut self, buddy: Buddy) {
        if let Some(net) = self.net(&buddy.buddy_name) {
            net.state().contacts.removed_by_user(&buddy.buddy_name);
        }
    }

    /// Quits IRC, on every network.
    #[on(Logout)]
    async fn logout(self, _logout: Logout) {
        for net in self.nets.into_values() {
            net.quit("Logged out").await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::network_name;

    #[test]
    fn gateway_names_end_with_their_network() {
        assert_eq!(
            network_name("#chan%irc.example.net"),
            Some("irc.example.net")
        );
        assert_eq!(network_name("bob%irc.example.net"), Some("irc.example.net"));
        assert_eq!(
            network_name("#chan%irc.example.net/bob"),
            Some("irc.example.net")
        );
        assert_eq!(
            network_name("#a%b%irc.example.net"),
            Some("irc.example.net")
        );
        assert_eq!(network_name("#chan"), None);
        assert_eq!(network_name("%irc.example.net"), None);
        assert_eq!(network_name("#chan%"), None);
    }
}
