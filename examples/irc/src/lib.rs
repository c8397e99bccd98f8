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
//! | … or by DISCONNECTED NAME_IN_USE (6), final             | nickname in use (433)                |
//! | … or by DISCONNECTED NETWORK_ERROR (0), retried         | unreachable, or no welcome           |
//! | DISCONNECTED NETWORK_ERROR (0) later                    | connection lost                      |
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
//! * **One session, two tasks.** [`Irc`] is a user's session: its handlers
//!   run one event from Spectrum 2 at a time and only *send* to the server.
//!   A read task, spawned at login with a clone of the session's [`Ctx`],
//!   reads the server and reports to Spectrum 2. It stops when the session
//!   ends ([`Ctx::ended`]); if the connection dies first, it reports
//!   DISCONNECTED itself.
//! * **A sans-I/O core.** Both sides share one `State` behind a mutex that
//!   is never held across an `.await`: the nickname, the rooms with their
//!   occupants, operators and topic. `State::on_message` turns an IRC
//!   message into events for Spectrum 2; the read task sends them after
//!   releasing the lock. The IRC rules are unit-tested on plain lines.
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
//! * **Errors carry the right code.** A nickname the server refuses as in
//!   use ends the login with NAME_IN_USE (final); an unreachable server, a
//!   welcome that never comes or a lost connection is a NETWORK_ERROR,
//!   which Spectrum 2 retries; wrong settings are INVALID_SETTINGS, a name
//!   that cannot be a nickname INVALID_USERNAME.
//!
//! One IRC network per transport: rooms are plain channel names (`#chan`);
//! the multi-network form `#chan@server` is not supported. The backend
//! announces that users need neither registration nor a password
//! ([`capabilities`]): the legacy name (or MUC nickname) is the IRC nickname.
//!
//! The `irc` crate is used without TLS (no OpenSSL), without CTCP
//! auto-replies and without its channel lists; its `encoding` feature is on
//! so that a line that is not UTF-8 is decoded lossily instead of ending the
//! connection.

mod link;
mod settings;
mod state;

use spectrum_backend::Capabilities;
use spectrum_backend::prelude::*;

use crate::link::{Link, irc_lines, report};
use crate::settings::{Settings, check_nickname};
use crate::state::{Join, Target};
use irc::client::prelude::Command;

/// What the backend announces to Spectrum 2 besides rooms (derived from
/// the handlers): IRC needs no registration and no password.
pub fn capabilities(c: &mut Capabilities) {
    c.need_registration = false;
    c.need_password = false;
}

/// One user's IRC session.
pub struct Irc {
    link: Link,
}

#[backend]
impl Irc {
    /// Connects to IRC as `legacyName`; returns once the server has
    /// welcomed the user, so CONNECTED is true when Spectrum 2 gets it.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        let settings = Settings::from_config(ctx.config())?;
        let nick = login.legacy_name.trim();
        check_nickname(nick)?;
        let link = Link::open(ctx, &settings, nick, &login.password).await?;
        Ok(Irc { link })
    }

    /// A message to a nickname, a room, or a room occupant (`room/nick`).
    /// Room messages are echoed back: Spectrum 2 does not show the user's
    /// own room messages otherwise.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let (target, nick) = {
            let mut state = self.link.state();
            (state.target(&msg.buddy_name), state.nick().to_owned())
        };
        let (to, echo_room) = match target {
            Target::Channel { channel, room } => (channel, room),
            Target::Nick(nick) => (nick, None),
        };
        for line in irc_lines(&msg.message) {
            self.link.send(Command::PRIVMSG(to.clone(), line));
        }
        if let Some(room) = echo_room {
            ctx.room_message(room, nick, msg.message).send().await?;
        }
        Ok(())
    }

    /// Joins the channel named like the room; the answer comes when the
    /// server has sent the names.
    #[on(JoinRoom)]
    async fn join_room(&mut self, ctx: &Ctx, room: Room) -> Result<()> {
        let join = self.link.state().join(room);
        match join {
            Join::Send { channel, key } => {
                let key = (!key.is_empty()).then_some(key);
                self.link.send(Command::JOIN(channel, key, None));
                Ok(())
            }
            Join::Pending => Ok(()),
            Join::Answer(joined) => report(ctx, joined).await,
        }
    }

    /// Leaves the channel.
    #[on(LeaveRoom)]
    async fn leave_room(&mut self, room: Room) {
        let channel = self.link.state().leave(&room.room);
        if let Some(channel) = channel {
            self.link.send(Command::PART(channel, None));
        }
    }

    /// Sets the channel's topic; the server's TOPIC echo reports it back.
    #[on(RoomSubjectChanged)]
    async fn subject(&mut self, msg: ConversationMessage) {
        let topic = msg.message.lines().collect::<Vec<_>>().join(" ");
        self.link.send(Command::TOPIC(msg.buddy_name, Some(topic)));
    }

    /// Quits IRC.
    #[on(Logout)]
    async fn logout(self, _logout: Logout) {
        self.link.quit("Logged out").await;
    }
}
