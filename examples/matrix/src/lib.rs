//! A Spectrum 2 backend for Matrix, built on `spectrum-backend` and a small
//! Matrix client of its own.
//!
//! Each XMPP user logs in with their Matrix ID as legacy name and their
//! Matrix password. The homeserver is the config's, or the ID's server:
//!
//! ```ini
//! [service]
//! backend = /usr/bin/matrix
//! working_dir = /var/lib/spectrum2/matrix.example.org   # sessions are kept here
//! [matrix]
//! homeserver = https://matrix.example.org   # default: https://<server of the ID>
//! # max_response_bytes = 16777216           # larger answers are refused unread
//! # attachment_hosts = files.lan            # fetched even if local or plain HTTP
//! ```
//!
//! | key                        | default                        | what it does |
//! |----------------------------|--------------------------------|--------------|
//! | `service.working_dir`      | none: sessions are not kept    | where `spectrum-backend-state.sqlite3` keeps each user's access token and sync position (`backend.store_dir` overrides it) |
//! | `matrix.homeserver`        | `https://` + the Matrix ID's server | the client API's base URL (`http://` allowed) |
//! | `matrix.max_response_bytes`| 16 MiB (at least 1024)         | the largest answer read, a sync included; larger ones are refused unread |
//! | `matrix.attachment_hosts`  | none                           | hosts (comma or space separated) whose URLs are fetched and uploaded even when they are addresses, local, or plain HTTP |
//! | `logging.backend_config`   | stderr                         | as for every backend of this framework |
//!
//! **Sessions are kept.** The first LOGIN of a user logs in with the
//! password; the access token and the sync position (the last answer shown
//! to the user) are then kept per XMPP user in the state database. A later
//! LOGIN, in this process or after a restart of the backend, resumes that
//! Matrix device without a password login: one sync with the rooms' whole
//! state and what happened since the position, so that what arrived while
//! the backend was down is shown once and nothing is shown twice (beyond 50
//! events per room the user is told that messages were skipped). A token
//! revoked meanwhile is forgotten and the password used again. LOGOUT
//! keeps the session; it is ended on the server only when it cannot be
//! kept (no usable state database).
//!
//! | Spectrum 2                                        | Matrix                                      |
//! |---------------------------------------------------|---------------------------------------------|
//! | LOGIN, answered by CONNECTED                      | password login, a first sync                |
//! | … or DISCONNECTED AUTHENTICATION_FAILED (2)       | `M_FORBIDDEN` (wrong password)              |
//! | … or DISCONNECTED NETWORK_ERROR (0), retried      | homeserver unreachable                      |
//! | a message from the homeserver's name (`host:port`), contacts offline | sync failed: "Lost the connection …; trying again in …" |
//! | … then "reconnected to …", contacts' presence again | the homeserver answers again |
//! | DISCONNECTED NETWORK_ERROR (0) later              | token revoked; 14 failed tries (5 to 10 minutes) |
//! | BUDDY_CHANGED (only what changed): alias, icon hash, status | `m.direct` partners: profile, avatar, presence |
//! | CONV_MESSAGE to or from `@user:server`            | `m.room.message` in the direct chat (created on first message) |
//! | … the user's messages from other clients, as carbons | own events without this session's transaction ID |
//! | `/me …`; xhtml                                    | `m.emote`; `org.matrix.custom.html` (sanitized to XHTML-IM) |
//! | `m.notice`                                        | a normal message                            |
//! | attachment URL (the body too), both ways          | `m.image`/`m.file`/…: download URL; a lone `https` URL from XMPP is fetched and uploaded (not addresses or local names, unless `attachment_hosts` lists them) |
//! | BUDDY_TYPING / BUDDY_TYPED, STOPPED_TYPING        | `m.typing` in the direct chat               |
//! | CONV_MESSAGE_ACK                                  | the partner's `m.read` receipt of that message |
//! | the user answers or types                         | `m.read` receipt for what they were shown   |
//! | ROOM_LIST                                         | joined rooms that are not direct chats      |
//! | a message from the inviter, naming what to join   | an invitation to a room                     |
//! | JOIN_ROOM `#alias:server` or `!id:server`         | join (or find a joined room, in any case)   |
//! | PARTICIPANT_CHANGED, moderator flag               | members (display names), power ≥ kick level |
//! | ROOM_SUBJECT_CHANGED, both ways                   | `m.room.topic`                              |
//! | LEAVE_ROOM, unless LOGOUT follows at once         | leave                                       |
//! | VCARD                                             | profile: display name, avatar               |
//! | STATUS_CHANGED                                    | presence                                    |
//! | LOGOUT                                            | syncing stops; the token is kept for the next LOGIN |
//!
//! Encrypted rooms are not supported: joining one says so in the room, and
//! each encrypted message shows as a placeholder from its sender; nothing
//! is sent to them.
//!
//! # Design
//!
//! * **Two sides.** [`matrix`] is the network side: a client for the dozen
//!   client-server endpoints used, serde types over `reqwest` (rustls with
//!   ring), no Spectrum 2 in it. `view` (what an event shows, what an XMPP
//!   message becomes) and `state` (a sync answer → frames for Spectrum 2,
//!   built as the framework's owned replies where the answer is read) are
//!   pure and unit-tested; `link` does the I/O between them.
//! * **Group chats are the session's room tracker** (`gateway::rooms`,
//!   through `Ctx::with_rooms`), from the handlers and the sync task
//!   alike. A joined Matrix room is identified there by its room ID
//!   (`Rooms::identify`), members are occupants identified by user ID under
//!   their display names, with the moderator flag from the power levels;
//!   `state` only says what a room's members and topic are now, and the
//!   tracker sends the differences (a changed display name is a rename),
//!   remembers the topic, and answers the JOIN_ROOM that Spectrum 2
//!   replays after CONNECTED with the room as it is now. Handlers take the
//!   framework's views (`view::Message` says whether a message is for a
//!   room, an occupant or a contact).
//! * **One session, two tasks.** [`Matrix`] is a user's session: handlers
//!   run one event from Spectrum 2 at a time. A sync task, started after
//!   CONNECTED, long-polls `/sync`, reports, and saves the position after
//!   each answer it reported (in the framework's per-user store,
//!   `ctx.store()`). It is supervised with the framework's
//!   `gateway::link::Retries` (the backoff and link states the stream
//!   links use) and told with its `LinkReport`: an unreachable homeserver
//!   is retried with jittered backoff, the user told once when it goes
//!   away and once when it is back; the user is disconnected when it stays
//!   away or the token is revoked.
//! * **Bounded memory.** Every answer is read with a size cap and refused
//!   beyond it; the sync filter limits each room's timeline to 50 events;
//!   pending receipts per room are capped. A sync answer over the cap is
//!   asked for again with one event per room, and wherever a timeline has a
//!   gap the user is told that messages were skipped.
//! * **Room names are Spectrum 2's.** JOIN_ROOM names arrive lower-cased
//!   while room IDs are case-sensitive: a joined room is found by ID or
//!   alias in any case, and every event uses the name as JOIN_ROOM gave it.
//!
//! # Size, and what the framework does for it
//!
//! 2,603 lines of code (non-blank lines that are not comments, outside
//! `#[cfg(test)]` modules; tests/ not counted), of which the Matrix client
//! (`matrix`) is 911. Before its rooms moved onto the session's room
//! tracker, with owned replies, views, `LinkReport` and `ctx.store()`, it
//! was 2,822. The framework's parts it uses, counted the same way: the
//! room tracker 588, owned replies 417, contacts 223, the per-user store
//! 273, link backoff, retries and states 222, `LinkReport` 95, views 166;
//! besides the runtime itself (sessions, framing, config, CONNECTED and
//! the replayed JOIN_ROOM answered without a handler).
//!
//! # The client crate
//!
//! Three candidates were built from clean in a scratch crate each (debug,
//! with tokio), on the 2-core CI machine kind while other builds ran, so
//! CPU time (user + system) is the figure that compares:
//!
//! | candidate                                              | crates | CPU time |
//! |--------------------------------------------------------|-------:|---------:|
//! | `reqwest` 0.13 (rustls, ring) + serde types of our own |    143 |     77 s |
//! | `ruma` 0.17 client API types over the same `reqwest`   |    188 |    166 s |
//! | `matrix-sdk` 0.16 (default features off, rustls)       |    350 |    306 s |
//!
//! `matrix-sdk` is complete, but brings its own sync loop, state store and
//! event cache, which would duplicate the framework's own and hide the size
//! of what it reads. `ruma`'s types are exact, but the backend needs about
//! twenty endpoints and a few event contents, read leniently. The strongest
//! requirement is bounded memory on every answer, easiest when the body is
//! read by the backend's own code: so serde types of its own over `reqwest`,
//! at a quarter of `matrix-sdk`'s build.

pub mod matrix;

mod link;
mod saved;
mod settings;
mod state;
mod view;

use std::sync::Arc;
use std::time::Duration;

use spectrum_backend::Capabilities;
use spectrum_backend::prelude::*;
// The framework's views of what the user sent (`view` is this crate's).
use spectrum_backend::view::{Join, Message, Presence, Target as To};

use crate::link::Link;
use crate::matrix::types::media_content;
use crate::settings::{Settings, matrix_id};

/// How long a typing notification lasts on Matrix unless renewed.
const TYPING: Duration = Duration::from_secs(30);

/// How long after LEAVE_ROOM the Matrix room is left, unless LOGOUT comes
/// first (Spectrum 2 sends both within a millisecond when the user goes
/// offline).
const LEAVE_GRACE: Duration = Duration::from_secs(3);

/// What the backend announces to Spectrum 2 besides rooms (derived from
/// the handlers): a Matrix ID and password are needed, receipts are sent.
pub fn capabilities(c: &mut Capabilities) {
    c.need_registration = true;
    c.need_password = true;
    c.receipts = true;
}

/// One user's Matrix session.
pub struct Matrix {
    link: Link,
    /// Hosts whose URLs are fetched whatever they are (`matrix.attachment_hosts`).
    attachment_hosts: Vec<String>,
}

/// Where an XMPP message goes.
enum Target {
    /// A group chat, by room ID.
    Room(String),
    /// A person, reached in the direct chat with them.
    Person(String),
}

impl Matrix {
    /// Where a message goes: a group chat by its room ID, a room occupant
    /// (private message) by their user ID, a contact by name.
    fn target(ctx: &Ctx, msg: &Message) -> Target {
        let found = ctx.with_rooms(|rooms| match msg.target() {
            To::Room(room) => rooms.id(room).map(|id| Target::Room(id.to_owned())),
            To::Occupant { room, nickname } => rooms
                .occupant_of(room, nickname)
                .and_then(|o| o.id.clone())
                .map(Target::Person),
            To::Contact(_) => None,
        });
        // Anything else is a Matrix ID (and fails as one, said to the user).
        found.unwrap_or_else(|| Target::Person(msg.to().to_owned()))
    }

    /// What to join for a JOIN_ROOM name: an invitation's room ID in its
    /// real case, or the name (an alias or ID) as given.
    fn join_target(&self, name: &str) -> String {
        self.link
            .tracker()
            .invited_room(name)
            .unwrap_or_else(|| name.to_owned())
    }

    /// The direct chat with `partner`, created (and recorded in `m.direct`,
    /// which makes the partner a contact) if there is none.
    async fn direct_room(&self, ctx: &Ctx, partner: &str) -> Result<String, matrix::Error> {
        if let Some(room) = self.link.tracker().direct_room(partner) {
            return Ok(room);
        }
        let client = &self.link.client;
        let room = client
            .create_room(&serde_json::json!({
                "preset": "trusted_private_chat",
                "is_direct": true,
                "invite": [partner],
            }))
            .await?;
        let direct = self.link.tracker().direct_with(partner, &room);
        client.set_account_data("m.direct", &direct).await?;
        let mut outs = Vec::new();
        {
            let mut tracker = self.link.tracker();
            tracker.add_room(&room, Default::default());
            tracker.set_direct(&direct, &mut outs);
        }
        if let Err(e) = link::report(ctx, client, &self.link.tracker, outs).await {
            tracing::info!("cannot announce {partner}: {e}");
        }
        Ok(room)
    }

    /// Marks what the user was shown in `room` as read: they are answering.
    async fn mark_read(&self, room: &str) {
        let unread = self.link.tracker().take_unread(room);
        if let Some(event) = unread
            && let Err(e) = self.link.client.read_receipt(room, &event).await
        {
            tracing::info!("read receipt: {e}");
        }
    }

    /// The message content for an XMPP message: a lone URL is fetched and
    /// uploaded as a file; anything else is text.
    async fn content(&self, msg: &Message) -> serde_json::Value {
        if let Some(url) = view::attachment_url(msg.text(), &self.attachment_hosts) {
            let client = &self.link.client;
            let upload = async {
                let file = client.fetch(url).await?;
                let mime = file
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                let name = view::file_name(url);
                let size = file.bytes.len();
                let mxc = client.upload(file.bytes, &mime, name).await?;
                Ok::<_, matrix::Error>(media_content(&mxc, name, &mime, size))
            };
            match upload.await {
                Ok(content) => return content,
                Err(e) => tracing::info!("sending the URL as text: {e}"),
            }
        }
        view::outgoing(msg.text(), msg.xhtml())
    }

    async fn send(&self, ctx: &Ctx, target: &Target, msg: &Message) -> Result<(), matrix::Error> {
        let room = match target {
            Target::Room(room) => room.clone(),
            Target::Person(user) => self.direct_room(ctx, user).await?,
        };
        if self.link.tracker().is_encrypted(&room) {
            return Err(matrix::Error::Refused {
                what: "sending a message",
                status: 0,
                errcode: "M_UNSUPPORTED".into(),
                message: "the room is end-to-end encrypted, which this transport does not support"
                    .into(),
            });
        }
        self.mark_read(&room).await;
        let content = self.content(msg).await;
        let event = self.link.client.send_message(&room, &content).await?;
        if let Some(id) = msg.receipt_id() {
            self.link
                .tracker()
                .expect_receipt(&room, event, id.to_owned());
        }
        Ok(())
    }

    async fn typing(&self, buddy: &str, typing: bool) {
        let room = self.link.tracker().direct_room(buddy);
        if let Some(room) = room {
            if typing {
                self.mark_read(&room).await;
            }
            if let Err(e) = self.link.client.typing(&room, typing, TYPING).await {
                tracing::info!("typing: {e}");
            }
        }
    }
}

#[backend]
impl Matrix {
    /// Logs in with the Matrix ID and password; returns after the first
    /// sync, with contacts and the room list sent.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        let user = matrix_id(&login.legacy_name)?;
        let settings = Settings::for_user(ctx.config(), &user)?;
        let link = Link::open(ctx, &settings, &user, &login.password).await?;
        Ok(Matrix {
            link,
            attachment_hosts: settings.attachment_hosts,
        })
    }

    /// A message to a person, a group chat, or a room occupant
    /// (`room/nick`, sent in the direct chat with them). A message that
    /// cannot be sent is answered with an explanation, from the same buddy.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: Message) -> Result<()> {
        // The receipt is sent when the partner's Matrix read receipt comes
        // back (see `expect_receipt`), not when the handler returns.
        let _ = msg.defer_receipt(ctx);
        let target = Self::target(ctx, &msg);
        if let Err(e) = self.send(ctx, &target, &msg).await {
            tracing::info!("message not sent: {e}");
            let text = format!("Not delivered: {e}");
            match target {
                Target::Room(_) => ctx.room_message(msg.to(), "", text).await?,
                Target::Person(_) => ctx.message(msg.to(), text).await?,
            }
        }
        Ok(())
    }

    /// Joins (or finds) the room and answers with its members and topic.
    /// The session's room tracker answers the JOIN_ROOM Spectrum 2 replays
    /// after CONNECTED, with the room as the sync has kept it since.
    #[on(JoinRoom)]
    async fn join_room(&mut self, ctx: &Ctx, join: Join) -> Result<()> {
        ctx.with_rooms(|rooms| rooms.join_requested(join.raw()));
        let known = self.link.tracker().find_room(join.room());
        let room_id = match known {
            Some(id) => Ok(id),
            None => match self.link.client.join(&self.join_target(join.room())).await {
                Ok(id) => {
                    match self.link.client.room_state(&id).await {
                        Ok(state) => self.link.tracker().add_room(&id, state),
                        Err(e) => tracing::info!("room state: {e}"),
                    }
                    Ok(id)
                }
                Err(e) => Err(match e.errcode() {
                    Some("M_FORBIDDEN") => (ParticipantFlag::NotAuthorized, e.to_string()),
                    _ => (ParticipantFlag::RoomNotFound, e.to_string()),
                }),
            },
        };
        let frames = {
            let mut tracker = self.link.tracker();
            ctx.with_rooms(|rooms| {
                let refused = match room_id {
                    Ok(id) => match tracker.attach(rooms, &id, join.room()) {
                        Some(frames) => return frames,
                        None => (
                            ParticipantFlag::RoomNotFound,
                            "the room vanished while joining".into(),
                        ),
                    },
                    Err(refused) => refused,
                };
                rooms.join_failed(join.room(), refused.0, &refused.1)
            })
        };
        ctx.send_all(frames).await
    }

    /// Stops showing the room at once (the room tracker forgets it), and
    /// leaves it on Matrix after [`LEAVE_GRACE`] unless the session ends
    /// first or the user rejoins. Spectrum 2 also sends LEAVE_ROOM for
    /// every room when the user goes offline, a moment before LOGOUT;
    /// Matrix membership is lasting, and going offline must not give it up.
    #[on(LeaveRoom)]
    async fn leave_room(&mut self, ctx: &Ctx, room: Join) {
        let Some(id) = ctx.with_rooms(|rooms| rooms.id(room.room()).map(str::to_owned)) else {
            return;
        };
        let (ctx, client) = (ctx.clone(), Arc::clone(&self.link.client));
        tokio::spawn(async move {
            tokio::select! {
                () = ctx.ended() => return,
                () = tokio::time::sleep(LEAVE_GRACE) => {}
            }
            if ctx.with_rooms(|rooms| rooms.name(&id).is_some()) {
                return;
            }
            if let Err(e) = client.leave(&id).await {
                tracing::info!("leave: {e}");
            }
        });
    }

    /// Sets the room's topic; the sync reports it back.
    #[on(RoomSubjectChanged)]
    async fn subject(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let Some(room) = ctx.with_rooms(|rooms| rooms.id(&msg.buddy_name).map(str::to_owned))
        else {
            return Ok(());
        };
        let content = serde_json::json!({ "topic": msg.message });
        if let Err(e) = self
            .link
            .client
            .set_state(&room, "m.room.topic", "", &content)
            .await
        {
            let text = format!("The topic was not changed: {e}");
            ctx.room_message(&msg.buddy_name, "", text).await?;
        }
        Ok(())
    }

    /// The user is typing to a contact.
    #[on(BuddyTyping)]
    async fn typing_started(&mut self, buddy: Buddy) {
        self.typing(&buddy.buddy_name, true).await;
    }

    /// The user paused typing.
    #[on(BuddyTyped)]
    async fn typing_paused(&mut self, buddy: Buddy) {
        self.typing(&buddy.buddy_name, false).await;
    }

    /// The user stopped typing.
    #[on(BuddyStoppedTyping)]
    async fn typing_stopped(&mut self, buddy: Buddy) {
        self.typing(&buddy.buddy_name, false).await;
    }

    /// The user's XMPP presence becomes their Matrix presence.
    #[on(StatusChanged)]
    async fn status(&mut self, status: Presence) {
        let text = status.message().unwrap_or_default();
        if let Err(e) = self
            .link
            .client
            .set_presence(view::presence(status.status()), text)
            .await
        {
            tracing::info!("presence: {e}");
        }
    }

    /// A contact's or room occupant's profile.
    #[on(VCard)]
    async fn vcard(&mut self, ctx: &Ctx, request: VCard) -> Result<VCardReply> {
        let user = match request.buddy_name.split_once('/') {
            Some((room, nick)) => {
                ctx.with_rooms(|rooms| rooms.occupant_of(room, nick).and_then(|o| o.id.clone()))
            }
            None => Some(request.buddy_name.clone()),
        };
        let Some(user) = user else {
            return Ok(VCardReply::new());
        };
        let client = &self.link.client;
        let profile = client.profile(&user).await.unwrap_or_default();
        let mut reply = VCardReply::new()
            .nickname(view::localpart(&user))
            .fullname(profile.displayname.unwrap_or_default());
        if let Some(mxc) = profile.avatar_url
            && let Ok(photo) = client.download_at_most(&mxc, link::AVATAR_BYTES).await
        {
            reply = reply.photo(photo.bytes);
        }
        Ok(reply)
    }

    /// Logs out of Matrix.
    #[on(Logout)]
    async fn logout(self, _logout: Logout) {
        self.link.close().await;
    }
}
