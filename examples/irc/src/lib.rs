//! A Spectrum 2 backend for IRC, built on `spectrum-backend` and the `irc`
//! client crate.
//!
//! Each XMPP user gets one IRC connection, under their legacy name as
//! nickname, to the server the transport config names:
//!
//! ```ini
//! [service]
//! backend = /usr/bin/irc
//! irc_server = irc.example.net:6667   # host or host:port; may be repeated
//! # irc_send_pass = 1                 # send the password as PASS
//! # irc_identify = NickServ identify $password
//! ```
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
//!   jittered exponential backoff (the next server of the list each time),
//!   registers again and rejoins the rooms; the user is told by a message
//!   from the server's name, and when the occupants come the rooms show
//!   only what changed. Only when the link gives up
//!   (`service.irc_reconnect_attempts` failures in a row) is the session
//!   ended with DISCONNECTED. Lines longer than 8 KiB are skipped as they
//!   arrive, never buffered.
//! * **The layer tracks the rooms.** Both sides share one `State` behind a
//!   mutex that is never held across an `.await`: the nickname and the
//!   author layer's rooms tracker, which answers JOIN_ROOM (also the replays
//!   after every CONNECTED) and turns occupant changes into frames.
//!   `State::on_message` only says which IRC message is which change; the
//!   read task sends the frames after releasing the lock.
//! * **Room names are Spectrum 2's.** JOIN_ROOM names arrive lower-cased
//!   and are matched exactly, while IRC channel names are case-insensitive:
//!   rooms are keyed by the folded channel name and every event uses the
//!   name exactly as JOIN_ROOM gave it. Messages for rooms the user is not
//!   in (or has just left) are dropped.
//! * **Joins answer when NAMES ends.** JOIN_ROOM sends JOIN; the topic
//!   (332/333) and names (353) are collected until 366, which answers with
//!   the occupants, then the user (under the IRC nickname: if it differs
//!   from the requested room nickname, Spectrum 2 is told of the change),
//!   then the topic. A repeated JOIN_ROOM (Spectrum 2 replays joins after
//!   every CONNECTED) is answered from memory. Join errors (bad key,
//!   invite-only, banned, no such channel...) are reported on the user's
//!   own nickname with the matching error flag.
//! * **Errors carry the right code.** A nickname in use is tried again with
//!   `_` appended (rooms then show the rename); still in use after five
//!   tries, the login ends with NAME_IN_USE (final). A nickname the server
//!   calls erroneous (432) is INVALID_USERNAME; an unreachable server or a
//!   welcome that never comes is a NETWORK_ERROR, which Spectrum 2 retries;
//!   wrong settings are INVALID_SETTINGS.
//!
//! One IRC network per transport: rooms are plain channel names (`#chan`);
//! the multi-network form `#chan@server` is not supported. The backend
//! announces that users need neither registration nor a password
//! ([`capabilities`]): the legacy name (or MUC nickname) is the IRC nickname.
//!
//! Lines that are not UTF-8 are decoded lossily instead of ending the
//! connection; `irc-proto` parses them.

mod network;
mod presence;
mod register;
mod settings;
mod state;
mod text;
mod tls;
mod whois;

use std::sync::Arc;

use irc_proto::Command;
use spectrum_backend::Capabilities;
use spectrum_backend::gateway::rooms::JoinAction;
use spectrum_backend::prelude::*;

use crate::network::{Network, NotConnected};
use crate::presence::away_command;
use crate::settings::{Settings, check_nickname};
use crate::state::Target;
use crate::text::{clean, irc_lines, is_channel, target, to_irc};
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
    net: Network,
}

impl Irc {
    /// Queues `command`; if the server is out of reach, tells the user
    /// that `what` was not sent.
    async fn send(&self, ctx: &Ctx, command: Command, what: &str) -> Result<bool> {
        match self.net.send(&command).await {
            Ok(()) => Ok(true),
            Err(NotConnected(server)) => {
                let text = format!("Not connected to {server} right now: {what} was not sent.");
                ctx.message(server, text).send().await?;
                Ok(false)
            }
        }
    }
}

#[backend]
impl Irc {
    /// Connects to IRC as `legacyName`; returns once the server has
    /// welcomed the user, so CONNECTED is true when Spectrum 2 gets it.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        let settings = Arc::new(Settings::from_config(ctx.config())?);
        let nick = login.legacy_name.trim();
        check_nickname(nick)?;
        let net = Network::open(ctx, settings, nick, &login.password).await?;
        Ok(Irc { net })
    }

    /// A message to a nickname, a room, or a room occupant (`room/nick`).
    /// Room messages are echoed back: Spectrum 2 does not show the user's
    /// own room messages otherwise.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        if let Some(nick) = whois_command(&msg.message).and_then(target) {
            if !self.net.state().whois_asked(&nick) {
                let text = "Too many WHOIS answers awaited; try again shortly.";
                return ctx.message(self.net.server(), text).send().await;
            }
            return self
                .send(ctx, Command::WHOIS(None, nick), "the WHOIS")
                .await
                .map(drop);
        }
        let (target_of, nick) = {
            let mut state = self.net.state();
            (state.target(&msg.buddy_name), state.nick.clone())
        };
        let (to, echo_room) = match target_of {
            Target::Channel { channel, room } => (channel, room),
            Target::Nick(nick) => (nick, None),
        };
        let Some(to) = target(&to) else {
            let text = format!("`{}` is no IRC nickname or channel.", clean(&to));
            return ctx.message(self.net.server(), text).send().await;
        };
        for line in irc_lines(&msg.message) {
            if !self
                .send(
                    ctx,
                    Command::PRIVMSG(to.clone(), to_irc(&line)),
                    "the message",
                )
                .await?
            {
                return Ok(());
            }
        }
        if let Some(room) = echo_room {
            ctx.room_message(room, nick, msg.message).send().await?;
        }
        Ok(())
    }

    /// Joins the channel named like the room; the answer comes when the
    /// server has sent the names. While the connection is down the join
    /// waits for it to come back.
    #[on(JoinRoom)]
    async fn join_room(&mut self, ctx: &Ctx, room: Room) -> Result<()> {
        let action = self.net.state().rooms.join_requested(&room);
        match action {
            JoinAction::Join(join) if self.net.is_up() => {
                let key = (!join.password.is_empty()).then_some(join.password);
                self.net
                    .send(&Command::JOIN(clean(&join.room), key, None))
                    .await
                    .ok();
            }
            JoinAction::Join(_) | JoinAction::Pending => {}
            JoinAction::Replay(frames) => {
                for frame in frames {
                    ctx.send(frame).await?;
                }
            }
        }
        Ok(())
    }

    /// Leaves the channel.
    #[on(LeaveRoom)]
    async fn leave_room(&mut self, room: Room) {
        let channel = self.net.state().rooms.left(&room.room);
        if let Some(channel) = channel {
            self.net
                .send(&Command::PART(clean(&channel), None))
                .await
                .ok();
        }
    }

    /// Sets the channel's topic; the server's TOPIC echo reports it back.
    #[on(RoomSubjectChanged)]
    async fn subject(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let topic = clean(&irc_lines(&msg.message).join(" "));
        let command = Command::TOPIC(clean(&msg.buddy_name), Some(topic));
        self.send(ctx, command, "the subject").await.map(drop)
    }

    /// The user's presence: away, xa and dnd set AWAY with the status
    /// text; any other state clears it.
    #[on(StatusChanged)]
    async fn status(&mut self, ctx: &Ctx, status: Status) -> Result<()> {
        let kind = StatusType::try_from(status.status).unwrap_or(StatusType::StatusOnline);
        let away = away_command(kind, status.status_message.as_deref().unwrap_or_default());
        let changed = {
            let mut state = self.net.state();
            let changed = state.away != away;
            state.away.clone_from(&away);
            changed
        };
        if changed {
            self.send(ctx, Command::AWAY(away), "the away state")
                .await?;
        }
        Ok(())
    }

    /// A contact added on the XMPP side: its presence is asked for now and
    /// kept current by the WHO polls.
    #[on(BuddyChanged)]
    async fn buddy_changed(&mut self, buddy: Buddy) {
        let Some(nick) = target(&buddy.buddy_name).filter(|n| !is_channel(n)) else {
            return;
        };
        self.net.state().contacts.changed_by_user(&buddy);
        if self.net.is_up() {
            self.net.send(&Command::WHO(Some(nick), None)).await.ok();
        }
    }

    /// A contact removed on the XMPP side.
    #[on(BuddyRemoved)]
    async fn buddy_removed(&mut self, buddy: Buddy) {
        self.net.state().contacts.removed_by_user(&buddy.buddy_name);
    }

    /// Quits IRC.
    #[on(Logout)]
    async fn logout(self, _logout: Logout) {
        self.net.quit("Logged out").await;
    }
}
