//! The logged-in Matrix account: login, the sync task, and turning [`Out`]
//! events into messages for Spectrum 2.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::json;
use sha1::Digest as _;
use spectrum_backend::{ConnectionError, Ctx, Error, ParticipantFlag, StatusType};

use crate::matrix::types::{SyncRequest, SyncResponse};
use crate::matrix::{self, Client, Limits};
use crate::settings::Settings;
use crate::state::{Change, Out, Tracker};
use crate::view::{self, Shown};

/// Largest avatar fetched for an icon hash or a vCard photo.
pub(crate) const AVATAR_BYTES: usize = 1 << 20;

/// How long one sync waits on the server for news.
const POLL: Duration = Duration::from_secs(30);
/// Retries of an unreachable homeserver start this far apart and double.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// After this long without an answer the user is disconnected (Spectrum 2
/// then logs in again).
const GIVE_UP: Duration = Duration::from_secs(300);
/// Timeline events per room per sync: a flood in one room cannot make an
/// answer unbounded (the client also caps the answer's size).
const TIMELINE_LIMIT: u32 = 50;

/// The sync filter: at most `timeline` events per room. The first sync
/// asks for none (old messages are not shown); later ones for
/// [`TIMELINE_LIMIT`], or one after an answer too large to read.
fn filter(timeline: u32) -> String {
    json!({
        "room": {
            "timeline": { "limit": timeline },
            "state": { "lazy_load_members": false },
        },
    })
    .to_string()
}

pub(crate) fn lock(tracker: &Mutex<Tracker>) -> MutexGuard<'_, Tracker> {
    // Every change to the tracker is complete before anything can panic.
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A logged-in account: what the session's handlers use.
pub(crate) struct Link {
    pub(crate) client: Arc<Client>,
    pub(crate) tracker: Arc<Mutex<Tracker>>,
    sync: Option<tokio::task::JoinHandle<()>>,
}

/// A client error as a login failure with the right DISCONNECTED code.
fn login_error(e: &matrix::Error, settings: &Settings) -> Error {
    let text = format!("Matrix login at {}: {e}", settings.homeserver);
    match e.errcode() {
        Some("M_FORBIDDEN" | "M_USER_DEACTIVATED") => Error::authentication_failed(text),
        Some("M_INVALID_USERNAME") => Error::invalid_username(text),
        _ if e.is_transient() => Error::network(text),
        _ => Error::other(text),
    }
}

impl Link {
    /// Logs in, syncs once, says CONNECTED, announces contacts and the room
    /// list, then starts the sync task.
    pub(crate) async fn open(
        ctx: &Ctx,
        settings: &Settings,
        user: &str,
        password: &str,
    ) -> Result<Link, Error> {
        let limits = Limits {
            response_bytes: settings.max_response_bytes,
            ..Limits::default()
        };
        let mut client = Client::new(&settings.homeserver, limits)
            .map_err(|e| Error::other(format!("cannot set up HTTP: {e}")))?;
        client
            .login(user, password, "Spectrum 2")
            .await
            .map_err(|e| login_error(&e, settings))?;
        let me = client.user_id().to_owned();
        tracing::info!(%me, "logged in to Matrix");
        let first = client
            .sync(&SyncRequest {
                filter: Some(filter(0)),
                set_presence: Some("online"),
                ..SyncRequest::default()
            })
            .await
            .map_err(|e| login_error(&e, settings))?;
        let client = Arc::new(client);
        let tracker = Arc::new(Mutex::new(Tracker::new(me)));
        let outs = apply(&client, &tracker, &first, true);
        ctx.connected().await?;
        report(ctx, &client, &tracker, outs).await?;
        let rooms = lock(&tracker).room_list();
        ctx.room_list(rooms).await?;
        let sync = tokio::spawn(sync_loop(
            ctx.clone(),
            Arc::clone(&client),
            Arc::clone(&tracker),
            first.next_batch,
        ));
        Ok(Link {
            client,
            tracker,
            sync: Some(sync),
        })
    }

    /// The session's view of the account, for a handler's decision.
    pub(crate) fn tracker(&self) -> MutexGuard<'_, Tracker> {
        lock(&self.tracker)
    }

    /// Stops syncing and ends the Matrix session (the device is removed).
    pub(crate) async fn close(mut self) {
        if let Some(sync) = self.sync.take() {
            sync.abort();
        }
        if let Err(e) = self.client.logout().await {
            tracing::info!("Matrix logout: {e}");
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(sync) = self.sync.take() {
            sync.abort();
        }
    }
}

fn apply(
    client: &Client,
    tracker: &Mutex<Tracker>,
    sync: &SyncResponse,
    initial: bool,
) -> Vec<Out> {
    lock(tracker).on_sync(
        sync,
        initial,
        |txn| client.is_own_transaction(txn),
        |mxc| client.download_url(mxc),
        SystemTime::now(),
    )
}

/// Syncs until the session ends; retries an unreachable homeserver with
/// backoff, and disconnects the user when it stays away, when the token is
/// revoked, or when its answers cannot be used.
async fn sync_loop(ctx: Ctx, client: Arc<Client>, tracker: Arc<Mutex<Tracker>>, mut since: String) {
    let mut retry = FIRST_RETRY;
    let mut failing_since: Option<tokio::time::Instant> = None;
    let mut timeline = TIMELINE_LIMIT;
    loop {
        let request = SyncRequest {
            since: Some(since.clone()),
            timeout: POLL,
            filter: Some(filter(timeline)),
            set_presence: None,
        };
        let answer = tokio::select! {
            () = ctx.ended() => return,
            answer = client.sync(&request) => answer,
        };
        let error = match answer {
            Ok(answer) => {
                if failing_since.take().is_some() {
                    tracing::info!("the homeserver answers again");
                }
                retry = FIRST_RETRY;
                timeline = TIMELINE_LIMIT;
                since = answer.next_batch.clone();
                let outs = apply(&client, &tracker, &answer, false);
                if report(&ctx, &client, &tracker, outs).await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => e,
        };
        let (code, text) = match &error {
            // One event per room still too much: nothing smaller to ask for.
            matrix::Error::TooLarge { .. } if timeline > 1 => {
                tracing::warn!("{error}; asking for one event per room");
                timeline = 1;
                continue;
            }
            matrix::Error::UnknownToken { .. } => (
                ConnectionError::NetworkError,
                format!("The Matrix session ended ({error}); logging in again."),
            ),
            e if e.is_transient() => {
                let first = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                if first.elapsed() < GIVE_UP {
                    tracing::info!("sync failed, retrying in {retry:?}: {error}");
                    tokio::select! {
                        () = ctx.ended() => return,
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(LAST_RETRY);
                    continue;
                }
                (
                    ConnectionError::NetworkError,
                    format!("Lost the connection to the Matrix homeserver: {error}"),
                )
            }
            _ => (
                ConnectionError::OtherError,
                format!("Matrix sync failed: {error}"),
            ),
        };
        tracing::warn!("{text}");
        let _ = ctx.disconnect(code, text).await;
        return;
    }
}

/// A message for Spectrum 2, with what Matrix adds to the text.
fn dress<'a>(
    mut builder: spectrum_backend::MessageBuilder<'a>,
    shown: Shown,
    at: Option<SystemTime>,
) -> spectrum_backend::MessageBuilder<'a> {
    if let Some(xhtml) = shown.xhtml {
        builder = builder.xhtml(xhtml);
    }
    if let Some((url, name)) = shown.attachment {
        builder = builder.attachment(url, name);
    }
    if let Some(at) = at {
        builder = builder.timestamp(at);
    }
    builder
}

/// Sends events to Spectrum 2; fetches what contacts need (profiles,
/// avatars) and accepts direct-chat invitations on the way.
pub(crate) async fn report(
    ctx: &Ctx,
    client: &Client,
    tracker: &Mutex<Tracker>,
    outs: Vec<Out>,
) -> Result<(), Error> {
    let mut queue = std::collections::VecDeque::from(outs);
    while let Some(out) = queue.pop_front() {
        match out {
            Out::Message {
                buddy,
                shown,
                carbon,
                at,
            } => {
                let text = shown.text.clone();
                let mut builder = dress(ctx.message(buddy, text), shown, at);
                if carbon {
                    builder = builder.carbon();
                }
                builder.send().await?;
            }
            Out::RoomMessage {
                room,
                nick,
                shown,
                at,
            } => {
                let text = shown.text.clone();
                dress(ctx.room_message(room, nick, text), shown, at)
                    .send()
                    .await?;
            }
            Out::Participant {
                room,
                nick,
                moderator,
                change,
            } => {
                let mut p = ctx.participant(room, nick);
                if moderator {
                    p = p.flag(ParticipantFlag::Moderator);
                }
                p = match change {
                    Change::Present => p,
                    Change::Left => p.left(),
                    Change::Renamed(to) => p.renamed(to),
                };
                p.send().await?;
            }
            Out::Subject { room, text, by } => ctx.subject(room, text).by(by).send().await?,
            Out::Typing { buddy, typing } => {
                if typing {
                    ctx.typing(buddy).await?;
                } else {
                    ctx.stopped_typing(buddy).await?;
                }
            }
            Out::Ack { buddy, id } => ctx.message_ack(buddy, id).await?,
            Out::Contact { user_id } => announce(ctx, client, tracker, &user_id).await?,
            Out::Presence {
                user_id,
                status,
                message,
            } => {
                ctx.buddy(user_id)
                    .status(status)
                    .status_message(message)
                    .send()
                    .await?;
            }
            Out::AcceptInvite { room_id, from } => {
                match accept(client, tracker, &room_id, &from).await {
                    Ok(more) => queue.extend(more),
                    Err(e) => tracing::info!(%room_id, "cannot accept the invitation: {e}"),
                }
            }
        }
    }
    Ok(())
}

/// Joins a direct chat the user was invited to and records it in `m.direct`.
async fn accept(
    client: &Client,
    tracker: &Mutex<Tracker>,
    room_id: &str,
    from: &str,
) -> Result<Vec<Out>, matrix::Error> {
    client.join(room_id).await?;
    let direct = lock(tracker).direct_with(from, room_id);
    client.set_account_data("m.direct", &direct).await?;
    let state = client.room_state(room_id).await?;
    let mut outs = Vec::new();
    let mut tracker = lock(tracker);
    tracker.add_room(room_id, state);
    tracker.set_direct(&direct, &mut outs);
    Ok(outs)
}

/// SHA-1 of an avatar, in hex: the icon hash XMPP clients compare with the
/// vCard photo.
pub(crate) fn icon_hash(bytes: &[u8]) -> String {
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// BUDDY_CHANGED for a direct-chat partner: display name, avatar hash,
/// presence if known.
async fn announce(
    ctx: &Ctx,
    client: &Client,
    tracker: &Mutex<Tracker>,
    user_id: &str,
) -> Result<(), Error> {
    let profile = client.profile(user_id).await.unwrap_or_default();
    let alias = profile
        .displayname
        .unwrap_or_else(|| view::localpart(user_id).to_owned());
    let mut buddy = ctx.buddy(user_id).alias(alias);
    if let Some(mxc) = profile.avatar_url
        && let Ok(avatar) = client.download_at_most(&mxc, AVATAR_BYTES).await
    {
        buddy = buddy.icon_hash(icon_hash(&avatar.bytes));
    }
    let presence = lock(tracker).presence_of(user_id).cloned();
    let (status, message) = presence.unwrap_or((StatusType::StatusNone, String::new()));
    buddy.status(status).status_message(message).send().await
}
