//! A Spectrum 2 backend with every event handled by a stub: the starting
//! point of a backend for your legacy network.
//!
//! Each handler says what Spectrum 2 expects from it and which `ctx` helper
//! sends the answer. The stubs already behave correctly for a network that
//! does nothing: they accept any login, keep rooms and contacts in memory,
//! and answer every request, so the backend runs as it is (with
//! `spectrum-sim` installed: `cargo install spectrum-sim`):
//!
//! ```text
//! spectrum-sim run --cargo <this package>
//! ```
//!
//! Replace the bodies with calls to your network's client library. Keep
//! slow work out of the way of the session: a handler holds up only its own
//! user, but it does hold up that user's next events. For a network that
//! pushes events (incoming messages, presence), spawn a task in `login` that
//! keeps a clone of `ctx` and stops when `ctx.ended()` resolves.

use std::collections::BTreeMap;

use serde::Deserialize;
use spectrum_backend::prelude::*;

/// Settings of this backend, read from the `[backend]` section of the
/// transport's config file (the file Spectrum 2 passes on the command line).
#[derive(Debug, Deserialize, Default)]
struct Settings {
    /// A greeting sent to each user after login; none by default.
    greeting: Option<String>,
}

/// One logged-in user: put the legacy network's connection here.
struct Session {
    /// The user's legacy account name.
    legacy_name: String,
    /// Rooms joined, with the user's nickname in each.
    rooms: BTreeMap<String, String>,
    /// The user's contacts and their aliases.
    contacts: BTreeMap<String, String>,
}

#[backend]
impl Session {
    /// LOGIN: connect the user to the legacy network.
    ///
    /// Return `Ok(session)` once the network accepted the user: the runtime
    /// then sends CONNECTED (in server mode that completes the XMPP login).
    /// Return an error to refuse; its code decides what happens next:
    /// `Error::authentication_failed` (2) or `Error::invalid_username` (1)
    /// are final, `Error::network` (0) makes Spectrum 2 retry up to 3 times.
    /// Send the user's roster with `ctx.buddy(..)` (or `ctx.buddies(..)`)
    /// now or whenever the network delivers it. Replies are values
    /// (`spectrum_backend::reply`): a network read loop can build them
    /// without `ctx` and send them with `ctx.send(..)` or `ctx.send_all(..)`.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        let settings: Settings = ctx
            .config()
            .section("backend")
            .map_err(|e| Error::invalid_settings(e.to_string()))?;
        if login.legacy_name.is_empty() {
            return Err(Error::invalid_username("no legacy account name was given"));
        }
        if let Some(greeting) = settings.greeting {
            ctx.message(env!("CARGO_PKG_NAME"), greeting).await?;
        }
        Ok(Session {
            legacy_name: login.legacy_name,
            rooms: BTreeMap::new(),
            contacts: BTreeMap::new(),
        })
    }

    /// LOGOUT: disconnect from the legacy network and free the session.
    ///
    /// Also runs when the main instance exits or a handler failed. Nothing
    /// is expected back. Spectrum 2 may send LOGIN again right after.
    #[on(Logout)]
    async fn logout(self, _ctx: &Ctx, _logout: Logout) -> Result<()> {
        let _ = self.legacy_name;
        Ok(())
    }

    /// STATUS_CHANGED: the XMPP user's presence changed (away, dnd...).
    ///
    /// Set it on the network. It can arrive before the login completes and
    /// is never "offline" (that comes as LOGOUT). Nothing is expected back.
    #[on(StatusChanged)]
    async fn status(&mut self, _ctx: &Ctx, _status: Status) -> Result<()> {
        Ok(())
    }

    /// CONV_MESSAGE: the user wrote to a contact, a room, or a room occupant
    /// (`msg.target()` tells which).
    ///
    /// Deliver it. If the XMPP client asked for a receipt, the runtime sends
    /// it when this returns `Ok`; to send it only once the network confirms
    /// delivery, keep `msg.defer_receipt(ctx)` and `ctx.send(..)` it later.
    /// Room messages are not echoed by Spectrum 2: send the user's own
    /// message back with `ctx.room_message(room, own_nick, text)`.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        if let view::Target::Room(room) = msg.target()
            && let Some(nick) = self.rooms.get(room)
        {
            ctx.room_message(room, nick, msg.text()).await?;
        }
        Ok(())
    }

    /// JOIN_ROOM: join a room. Spectrum 2 sends it again after every
    /// CONNECTED: the runtime answers that replay itself for a room answered
    /// with `ctx.room_joined(..)`, without calling this again.
    ///
    /// Answer with every occupant and then the user, using
    /// `ctx.room_joined(&join)`; add `.nickname(actual)` if the network
    /// changed the nickname, and `.subject(..)`. Echo `room` exactly as
    /// received: Spectrum 2 lower-cases it. On failure, send the user's own
    /// participant with an error flag (`ParticipantFlag::RoomNotFound`,
    /// `NotAuthorized` or `Conflict`) via `ctx.participant(..)`.
    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
        self.rooms
            .insert(join.room().to_owned(), join.nickname().to_owned());
        ctx.room_joined(&join).await
    }

    /// LEAVE_ROOM: leave the room. Nothing is expected back.
    #[on(LeaveRoom)]
    async fn leave(&mut self, _ctx: &Ctx, room: Room) -> Result<()> {
        self.rooms.remove(&room.room);
        Ok(())
    }

    /// ROOM_SUBJECT_CHANGED: the user set a room's subject.
    ///
    /// Set it on the network; confirm with `ctx.subject(room, text).by(nick)`.
    #[on(RoomSubjectChanged)]
    async fn subject(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let nick = self.rooms.get(&msg.buddy_name).cloned().unwrap_or_default();
        ctx.subject(&msg.buddy_name, &msg.message).by(nick).await
    }

    /// BUDDY_CHANGED: the user added, accepted or renamed a contact.
    ///
    /// Do it on the network, then confirm with `ctx.buddy(name)` carrying
    /// the contact's real presence.
    #[on(BuddyChanged)]
    async fn buddy_changed(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        let alias = buddy.alias.clone().unwrap_or_default();
        self.contacts
            .insert(buddy.buddy_name.clone(), alias.clone());
        let mut reply = ctx
            .buddy(&buddy.buddy_name)
            .alias(alias)
            .status(StatusType::StatusNone);
        for group in buddy.group {
            reply = reply.group(group);
        }
        reply.await
    }

    /// BUDDY_REMOVED: the user removed a contact or rejected a request.
    ///
    /// Do it on the network; confirm with `ctx.buddy_removed(name)` (needed
    /// in server mode, where Spectrum 2 waits for it).
    #[on(BuddyRemoved)]
    async fn buddy_removed(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        self.contacts.remove(&buddy.buddy_name);
        ctx.buddy_removed(&buddy.buddy_name).await
    }

    /// BUDDY_TYPING: the user is composing. Forward it; nothing comes back.
    /// (Contacts' typing goes the other way with `ctx.typing(buddy)`.)
    #[on(BuddyTyping)]
    async fn typing(&mut self, _ctx: &Ctx, _buddy: Buddy) -> Result<()> {
        Ok(())
    }

    /// BUDDY_TYPED: the user paused composing (`ctx.typed` the other way).
    #[on(BuddyTyped)]
    async fn typed(&mut self, _ctx: &Ctx, _buddy: Buddy) -> Result<()> {
        Ok(())
    }

    /// BUDDY_STOPPED_TYPING: the user stopped composing
    /// (`ctx.stopped_typing` the other way).
    #[on(BuddyStoppedTyping)]
    async fn stopped_typing(&mut self, _ctx: &Ctx, _buddy: Buddy) -> Result<()> {
        Ok(())
    }

    /// ATTENTION: the user "buzzed" a contact (`ctx.attention` the other way).
    #[on(Attention)]
    async fn attention(&mut self, _ctx: &Ctx, _msg: ConversationMessage) -> Result<()> {
        Ok(())
    }

    /// VCARD request: return the contact's profile; the runtime answers with
    /// the request's id. Spectrum 2 gives up after 40 s, so answer quickly,
    /// with empty fields if the network has no profiles.
    #[on(VCard)]
    async fn vcard(&mut self, _ctx: &Ctx, request: VCard) -> Result<VCardReply> {
        let alias = self
            .contacts
            .get(&request.buddy_name)
            .cloned()
            .unwrap_or_default();
        Ok(VCardReply::new().nickname(alias))
    }

    /// VCARD with a photo: the user published their own vCard (avatar and
    /// nickname). Set it on the network; nothing comes back.
    #[on(VCardUpdate)]
    async fn vcard_update(&mut self, _ctx: &Ctx, _vcard: VCard) -> Result<()> {
        Ok(())
    }

    /// EXIT: the main instance is done with this process. Every session has
    /// already logged out; release what the whole backend shares.
    #[on(Exit)]
    async fn exit(_backend: &BackendCtx) -> Result<()> {
        Ok(())
    }
}

// Not handled here, on purpose:
// - RawXml: handling it turns on Spectrum 2's raw XML mode, which replaces
//   typed messages by XMPP stanzas; only for backends that speak XMPP.
// - Buddies: handling it makes Spectrum 2 send its stored roster after
//   every LOGIN (`features.send_buddies_on_login`).

// Messages are allocated on the connection's thread and freed on a session's
// (and back): mimalloc handles that far better than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    spectrum_backend::main::<Session>()
}
