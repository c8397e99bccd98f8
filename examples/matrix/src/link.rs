//! The logged-in Matrix account: login, the sync task, and what it tells
//! Spectrum 2 beyond the frames [`Out`] carries.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::json;
use spectrum_backend::gateway::contacts::Contact;
use spectrum_backend::gateway::link::{Backoff, LinkState, Retries};
use spectrum_backend::{ConnectionError, Ctx, Error, LinkReport, StatusType};

use crate::matrix::types::{JoinedRoom, Session, SyncRequest, SyncResponse};
use crate::matrix::{self, Client, Limits};
use crate::saved::{Keeper, Saved};
use crate::settings::Settings;
use crate::state::{Out, Tracker};
use crate::view;

/// Largest avatar fetched for an icon hash or a vCard photo.
pub(crate) const AVATAR_BYTES: usize = 1 << 20;

/// How long one sync waits on the server for news.
const POLL: Duration = Duration::from_secs(30);
/// Retries of an unreachable homeserver: 1 s doubling up to 30 s, each
/// stretched by up to twice; after 14 failures in a row (5 to 10 minutes)
/// the user is disconnected, and Spectrum 2 logs in again.
const RETRIES: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(30),
    attempts: Some(14),
    jitter: true,
};
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
    keeper: Arc<Keeper>,
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

/// The first sync of a new session: the rooms' state, no history.
async fn first_sync(client: &Client) -> Result<SyncResponse, matrix::Error> {
    client
        .sync(&SyncRequest {
            filter: Some(filter(0)),
            set_presence: Some("online"),
            ..SyncRequest::default()
        })
        .await
}

/// The first sync of a resumed session: the rooms' whole state, and what
/// happened since `since` (the last answer shown). A server answers the
/// same request from a cache for a while, so a resumed device that asked
/// for an initial sync could be told the state of minutes ago.
async fn resumed_sync(client: &Client, since: &str) -> Result<SyncResponse, matrix::Error> {
    client
        .sync(&SyncRequest {
            since: Some(since.to_owned()),
            filter: Some(filter(TIMELINE_LIMIT)),
            set_presence: Some("online"),
            full_state: true,
            ..SyncRequest::default()
        })
        .await
}

/// A client for `settings`' homeserver, logged in or not.
fn client(settings: &Settings, session: Option<Session>) -> Result<Client, Error> {
    let limits = Limits {
        response_bytes: settings.max_response_bytes,
        ..Limits::default()
    };
    let client = match session {
        Some(session) => Client::with_session(&settings.homeserver, limits, session),
        None => Client::new(&settings.homeserver, limits),
    };
    client.map_err(|e| Error::other(format!("cannot set up HTTP: {e}")))
}

/// The saved session if its token still works: the client and its first
/// sync. A revoked token is forgotten.
async fn resume(
    keeper: &Keeper,
    settings: &Settings,
    user: &str,
) -> Result<Option<(Client, SyncResponse)>, Error> {
    let Some(saved) = keeper.load(&settings.homeserver, user) else {
        return Ok(None);
    };
    let client = client(settings, Some(saved.session))?;
    match resumed_sync(&client, &saved.since).await {
        Ok(first) => {
            tracing::info!(me = client.user_id(), "resumed the saved Matrix session");
            Ok(Some((client, first)))
        }
        Err(matrix::Error::UnknownToken { message }) => {
            tracing::info!("the saved Matrix token was revoked ({message}); logging in again");
            keeper.forget();
            Ok(None)
        }
        Err(e) => Err(login_error(&e, settings)),
    }
}

/// What a resumed session's first answer holds beyond the state: the
/// timelines, to be shown as news once the state is learned.
fn news(first: &SyncResponse) -> SyncResponse {
    let mut news = SyncResponse::default();
    for (room, joined) in &first.rooms.join {
        let timeline = JoinedRoom {
            timeline: joined.timeline.clone(),
            ..JoinedRoom::default()
        };
        news.rooms.join.insert(room.clone(), timeline);
    }
    news
}

impl Link {
    /// Resumes the saved session or logs in, syncs once, says CONNECTED,
    /// announces contacts and the room list, then starts the sync task.
    pub(crate) async fn open(
        ctx: &Ctx,
        settings: &Settings,
        user: &str,
        password: &str,
    ) -> Result<Link, Error> {
        let keeper = Keeper::open(ctx);
        let resumed = resume(&keeper, settings, user).await?;
        let (client, first, news) = match resumed {
            Some((client, first)) => {
                let news = news(&first);
                (client, first, Some(news))
            }
            None => {
                let mut client = client(settings, None)?;
                let session = client
                    .login(user, password, "Spectrum 2")
                    .await
                    .map_err(|e| login_error(&e, settings))?
                    .clone();
                tracing::info!(me = %session.user_id, "logged in to Matrix");
                let first = first_sync(&client)
                    .await
                    .map_err(|e| login_error(&e, settings))?;
                keeper.save(&Saved {
                    homeserver: settings.homeserver.clone(),
                    session,
                    since: first.next_batch.clone(),
                });
                (client, first, None)
            }
        };
        let me = client.user_id().to_owned();
        let client = Arc::new(client);
        let tracker = Arc::new(Mutex::new(Tracker::new(me, ctx.user())));
        let mut outs = apply(ctx, &client, &tracker, &first, true);
        if let Some(news) = &news {
            outs.extend(apply(ctx, &client, &tracker, news, false));
        }
        ctx.connected().await?;
        report(ctx, &client, &tracker, outs).await?;
        keeper.advance(&first.next_batch);
        let rooms = lock(&tracker).room_list();
        ctx.room_list(rooms).await?;
        let keeper = Arc::new(keeper);
        let sync = tokio::spawn(sync_loop(
            ctx.clone(),
            Arc::clone(&client),
            Arc::clone(&tracker),
            Arc::clone(&keeper),
            settings.network(),
            first.next_batch,
        ));
        Ok(Link {
            client,
            tracker,
            keeper,
            sync: Some(sync),
        })
    }

    /// The session's view of the account, for a handler's decision.
    pub(crate) fn tracker(&self) -> MutexGuard<'_, Tracker> {
        lock(&self.tracker)
    }

    /// Stops syncing. A kept session stays for the next login (or the
    /// next backend process); one that cannot be kept is ended on the
    /// server, so that its device does not linger.
    pub(crate) async fn close(mut self) {
        if let Some(sync) = self.sync.take() {
            sync.abort();
        }
        if self.keeper.keeps() {
            return;
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

/// Applies a sync answer to the tracker and the session's rooms (locked
/// in that order, everywhere).
fn apply(
    ctx: &Ctx,
    client: &Client,
    tracker: &Mutex<Tracker>,
    sync: &SyncResponse,
    initial: bool,
) -> Vec<Out> {
    let mut tracker = lock(tracker);
    ctx.with_rooms(|rooms| {
        tracker.on_sync(
            rooms,
            sync,
            initial,
            |mxc| client.download_url(mxc),
            SystemTime::now(),
        )
    })
}

/// Where the sync loop stands: its supervision, and what the user was told.
struct Syncing {
    ctx: Ctx,
    /// The homeserver's host, for logs.
    network: String,
    retries: Retries,
    /// Tells the user, from the homeserver's name, when it goes away and
    /// comes back; DISCONNECTED when it stays away.
    report: LinkReport,
}

impl Syncing {
    /// Tells Spectrum 2 and the user how the link to the homeserver stands,
    /// and shows the contacts offline while it is away and as they were
    /// once it is back.
    async fn tell(&mut self, state: &LinkState, tracker: &Mutex<Tracker>) -> Result<(), Error> {
        tracing::info!("{}", state.describe(&self.network));
        self.ctx.report_link(&mut self.report, state).await?;
        let frames = {
            let mut tracker = lock(tracker);
            match state {
                LinkState::Up => tracker.roster_as_known(),
                LinkState::Retrying { .. } => tracker.roster.all_offline(),
                _ => Vec::new(),
            }
        };
        self.ctx.send_all(frames).await
    }
}

/// Syncs until the session ends. An unreachable homeserver is retried with
/// backoff ([`RETRIES`]): the user is told when it goes away and when it
/// is back, and the user is disconnected when it stays away, when the
/// token is revoked, or when its answers cannot be used.
async fn sync_loop(
    ctx: Ctx,
    client: Arc<Client>,
    tracker: Arc<Mutex<Tracker>>,
    keeper: Arc<Keeper>,
    network: String,
    mut since: String,
) {
    // Every answer proves the link up: a failure after one starts over.
    let mut link = Syncing {
        ctx: ctx.clone(),
        report: LinkReport::new(network.as_str()),
        network,
        retries: Retries::new(RETRIES, Duration::ZERO),
    };
    // Up since the login's sync (CONNECTED is sent already).
    if let Some(up) = link.retries.up()
        && link.tell(&up, &tracker).await.is_err()
    {
        return;
    }
    let mut timeline = TIMELINE_LIMIT;
    loop {
        let request = SyncRequest {
            since: Some(since.clone()),
            timeout: POLL,
            filter: Some(filter(timeline)),
            set_presence: None,
            full_state: false,
        };
        let answer = tokio::select! {
            () = ctx.ended() => return,
            answer = client.sync(&request) => answer,
        };
        let error = match answer {
            Ok(answer) => {
                if let Some(up) = link.retries.up()
                    && link.tell(&up, &tracker).await.is_err()
                {
                    return;
                }
                timeline = TIMELINE_LIMIT;
                since = answer.next_batch.clone();
                let outs = apply(&ctx, &client, &tracker, &answer, false);
                if report(&ctx, &client, &tracker, outs).await.is_err() {
                    return;
                }
                keeper.advance(&since);
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
            matrix::Error::UnknownToken { .. } => {
                keeper.forget();
                (
                    ConnectionError::NetworkError,
                    format!("The Matrix session ended ({error}); logging in again."),
                )
            }
            e if e.is_transient() => {
                let was_up = link.retries.is_up();
                let state = link.retries.failed(e.to_string());
                let LinkState::Retrying { delay, .. } = state else {
                    // Gave up: DISCONNECTED, and Spectrum 2 logs in again.
                    let _ = link.tell(&state, &tracker).await;
                    return;
                };
                // Told once per outage, not at every try.
                if was_up && link.tell(&state, &tracker).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = ctx.ended() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                continue;
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

/// Sends what the tracker said to Spectrum 2, frames in one write each
/// run; fetches what contacts need (profiles, avatars) and accepts
/// direct-chat invitations on the way.
pub(crate) async fn report(
    ctx: &Ctx,
    client: &Client,
    tracker: &Mutex<Tracker>,
    outs: Vec<Out>,
) -> Result<(), Error> {
    let mut queue = std::collections::VecDeque::from(outs);
    let mut frames = Vec::new();
    while let Some(out) = queue.pop_front() {
        let out = match out {
            Out::Frame(frame) => {
                frames.push(frame);
                continue;
            }
            other => other,
        };
        if !frames.is_empty() {
            ctx.send_all(frames.drain(..)).await?;
        }
        match out {
            Out::Frame(_) => {}
            Out::Contact { user_id } => announce(ctx, client, tracker, &user_id).await?,
            Out::AcceptInvite { room_id, from } => {
                match accept(client, tracker, &room_id, &from).await {
                    Ok(more) => queue.extend(more),
                    Err(e) => tracing::info!(%room_id, "cannot accept the invitation: {e}"),
                }
            }
        }
    }
    if frames.is_empty() {
        return Ok(());
    }
    ctx.send_all(frames).await
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

/// BUDDY_CHANGED for a direct-chat partner, if anything changed: display
/// name, avatar, presence if known.
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
    let mut contact = Contact::new().alias(alias);
    if let Some(mxc) = profile.avatar_url
        && let Ok(avatar) = client.download_at_most(&mxc, AVATAR_BYTES).await
    {
        contact = contact.avatar(&avatar.bytes);
    }
    let frame = {
        let mut tracker = lock(tracker);
        let presence = tracker.presence_of(user_id).cloned();
        let (status, message) = presence.unwrap_or((StatusType::StatusNone, String::new()));
        tracker
            .roster
            .update(user_id, contact.status(status, message))
    };
    match frame {
        Some(frame) => ctx.send(frame).await,
        None => Ok(()),
    }
}
