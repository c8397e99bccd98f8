//! A user's connection to the IRC network: the author layer's supervised
//! link (reconnects with backoff, bounded queues and lines), registration
//! as its connect step, and the read task that reports to Spectrum 2.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use irc_proto::Command;
use spectrum_backend::gateway::link::{
    Backoff, ConnectError, Line, LineCodec, Link, LinkEvent, LinkSender, LinkSettings, LinkState,
};
use spectrum_backend::{ConnectionError, Ctx, Error};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::register::{MAX_LINE, Registration, Stream, connect, parse, register};
use crate::settings::{Server, Settings};
use crate::state::State;

/// How long one server gets to accept the connection and welcome the user.
const SERVER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long LOGOUT waits for the QUIT to be written.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The read task's link.
type IrcLink = Link<Line, String>;

/// The handlers' side of the connection.
pub(crate) struct Network {
    sender: LinkSender<String>,
    link_state: watch::Receiver<LinkState>,
    state: Arc<Mutex<State>>,
    /// Where the user is connected, for messages to them.
    server: Arc<Mutex<Server>>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The line could not be queued: the server is out of reach.
#[derive(Debug)]
pub(crate) struct NotConnected(pub(crate) String);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is complete when it returns.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the connect step shares with the read task.
struct Connector {
    settings: Arc<Settings>,
    who: Registration,
    /// The next server to try after a lost connection (round robin).
    next: AtomicUsize,
    /// Whether a connection was ever up: until then every server is tried
    /// once and a failure ends the login (Spectrum 2 retries logins).
    was_up: AtomicBool,
    state: Arc<Mutex<State>>,
    server: Arc<Mutex<Server>>,
}

impl Connector {
    async fn connect(self: Arc<Self>) -> Result<Stream, ConnectError> {
        let servers = &self.settings.servers;
        let first = !self.was_up.load(Ordering::SeqCst);
        let order: Vec<usize> = if first {
            (0..servers.len()).collect()
        } else {
            vec![self.next.load(Ordering::SeqCst) % servers.len()]
        };
        let mut failures = Vec::new();
        for i in order {
            let server = &servers[i];
            let attempt = async {
                let io = connect(server, self.settings.tls.as_deref()).await?;
                register(io, server, &self.who).await
            };
            let result = tokio::time::timeout(SERVER_TIMEOUT, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(ConnectError::retry(format!(
                        "IRC server {server}: no welcome within {SERVER_TIMEOUT:?}"
                    )))
                });
            match result {
                Ok(registered) => {
                    {
                        let mut state = lock(&self.state);
                        state.nick = registered.nick;
                        state.caps = registered.caps;
                        state.sasl = registered.sasl;
                    }
                    *lock(&self.server) = server.clone();
                    self.next.store(i + 1, Ordering::SeqCst);
                    self.was_up.store(true, Ordering::SeqCst);
                    return Ok(registered.stream);
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::info!("{}", e.message());
                    self.next.store(i + 1, Ordering::SeqCst);
                    failures.push(e.message().to_owned());
                }
            }
        }
        let reason = failures.join("; ");
        if first {
            Err(ConnectError::fatal(ConnectionError::NetworkError, reason))
        } else {
            Err(ConnectError::retry(reason))
        }
    }
}

impl Network {
    /// Connects and registers as `nick`; returns once the server welcomed
    /// the user (CONNECTED is sent then), or the login's error.
    pub(crate) async fn open(
        ctx: &Ctx,
        settings: Arc<Settings>,
        nick: &str,
        password: &str,
        suffix: Option<String>,
    ) -> Result<Network, Error> {
        let gateway = suffix.is_some();
        let state = Arc::new(Mutex::new(State::new(ctx.user(), nick, suffix)));
        let server = Arc::new(Mutex::new(settings.servers[0].clone()));
        let connector = Arc::new(Connector {
            who: Registration {
                nick: nick.to_owned(),
                pass: (settings.send_pass && !password.is_empty()).then(|| password.to_owned()),
                sasl: (!settings.send_pass && !password.is_empty())
                    .then(|| (nick.to_owned(), password.to_owned())),
            },
            settings: Arc::clone(&settings),
            next: AtomicUsize::new(0),
            was_up: AtomicBool::new(false),
            state: Arc::clone(&state),
            server: Arc::clone(&server),
        });
        let mut link_settings = LinkSettings::new(ctx.user());
        link_settings.backoff = Backoff {
            attempts: (settings.reconnect_attempts > 0).then_some(settings.reconnect_attempts),
            ..Backoff::default()
        };
        link_settings.connect_timeout = SERVER_TIMEOUT * (settings.servers.len() as u32 + 1);
        // A server gone without closing the connection: two keepalive
        // PINGs unanswered.
        link_settings.idle_timeout =
            (settings.keepalive > 0).then(|| Duration::from_secs(settings.keepalive * 2));
        let link: IrcLink = Link::spawn(link_settings, LineCodec::new(MAX_LINE), move || {
            Arc::clone(&connector).connect()
        });
        let (up_tx, up) = oneshot::channel();
        let stop = CancellationToken::new();
        let reader = Reader {
            ctx: ctx.clone(),
            settings,
            password: password.to_owned(),
            state: Arc::clone(&state),
            server: Arc::clone(&server),
            login: Some(up_tx),
            was_up: false,
            gateway,
        };
        let network = Network {
            sender: link.sender(),
            link_state: link.watch(),
            state,
            server,
            stop: stop.clone(),
            task: Some(tokio::spawn(reader.run(link, stop))),
        };
        match up.await {
            Ok(Ok(())) => Ok(network),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::network("the IRC connection ended before the login")),
        }
    }

    /// The session's view of the server, for a handler's decision.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The server the user is on (or was last on).
    pub(crate) fn server(&self) -> String {
        lock(&self.server).to_string()
    }

    /// Whether the link gave up or was closed: a new one is needed.
    pub(crate) fn is_gone(&self) -> bool {
        matches!(
            *self.link_state.borrow(),
            LinkState::GaveUp { .. } | LinkState::Closed
        )
    }

    /// Whether lines go out now.
    pub(crate) fn is_up(&self) -> bool {
        matches!(*self.link_state.borrow(), LinkState::Up)
    }

    /// Queues a command; waits while the queue is full (the server reads
    /// slowly). Refused while the connection is down: the user is told,
    /// rather than a handler waiting for minutes.
    pub(crate) async fn send(&self, command: &Command) -> Result<(), NotConnected> {
        if !self.is_up() {
            return Err(NotConnected(self.server()));
        }
        self.sender
            .send(String::from(command))
            .await
            .map_err(|_| NotConnected(self.server()))
    }

    /// QUIT, then closes the connection once it is written.
    pub(crate) async fn quit(mut self, reason: &str) {
        let quit = Command::QUIT(Some(reason.to_owned()));
        if tokio::time::timeout(QUIT_TIMEOUT, self.send(&quit))
            .await
            .is_err()
        {
            tracing::info!("the QUIT could not be queued in time");
        }
        self.stop.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(QUIT_TIMEOUT, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The read task: the link's events, reported to Spectrum 2.
struct Reader {
    ctx: Ctx,
    settings: Arc<Settings>,
    password: String,
    state: Arc<Mutex<State>>,
    server: Arc<Mutex<Server>>,
    /// Answers the login: the first connection up, or why there is none.
    login: Option<oneshot::Sender<Result<(), Error>>>,
    was_up: bool,
    /// Gateway mode: giving up ends this network's rooms, not the session.
    gateway: bool,
}

impl Reader {
    async fn run(mut self, mut link: IrcLink, stop: CancellationToken) {
        let every = Duration::from_secs(self.settings.away_timeout.max(1));
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let every = Duration::from_secs(self.settings.keepalive.max(1));
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let event = tokio::select! {
                () = self.ctx.ended() => break,
                () = stop.cancelled() => break,
                _ = poll.tick(), if self.settings.away_timeout > 0 => {
                    if matches!(link.state(), LinkState::Up) {
                        let lines = lock(&self.state).poll();
                        for line in lines {
                            self.send_line(&link, line).await;
                        }
                    }
                    continue;
                }
                _ = keepalive.tick(), if self.settings.keepalive > 0 => {
                    if matches!(link.state(), LinkState::Up) {
                        self.send(&link, Command::PING("keepalive".into(), None)).await;
                    }
                    continue;
                }
                event = link.next() => event,
            };
            match event {
                None => return,
                Some(LinkEvent::State(state)) => self.on_state(&link, state).await,
                Some(LinkEvent::Received(Line::Text(line))) => self.on_line(&link, &line).await,
                Some(LinkEvent::Received(Line::TooLong)) => {
                    tracing::warn!(
                        "skipped a line longer than {MAX_LINE} bytes from the IRC server"
                    );
                }
            }
        }
        link.close().await;
    }

    /// A sentence from the server's name to the user.
    async fn tell(&self, text: String) {
        let from = lock(&self.server).host.clone();
        if let Err(e) = self.ctx.message(from, text).send().await {
            tracing::debug!("could not tell the user: {e}");
        }
    }

    async fn send(&self, link: &IrcLink, command: Command) {
        self.send_line(link, String::from(&command)).await;
    }

    async fn send_line(&self, link: &IrcLink, line: String) {
        if link.send(line).await.is_err() {
            tracing::debug!("the link is closed; not sent");
        }
    }

    async fn on_state(&mut self, link: &IrcLink, state: LinkState) {
        let server = lock(&self.server).to_string();
        match &state {
            LinkState::Up => {
                let (nick, rejoin, sasl, away) = {
                    let mut s = lock(&self.state);
                    (s.nick.clone(), s.rejoin(), s.sasl, s.away.clone())
                };
                tracing::info!(%server, %nick, "welcomed by the IRC server");
                // Identification first, before anything the user sends.
                if let Some((target, text)) = self
                    .settings
                    .identify_message(self.ctx.legacy_name(), &self.password)
                    .filter(|_| !sasl)
                {
                    self.send(link, Command::PRIVMSG(target, text)).await;
                }
                if away.is_some() {
                    self.send(link, Command::AWAY(away)).await;
                }
                let rejoining = rejoin.len();
                for room in rejoin {
                    let key = (!room.password.is_empty()).then_some(room.password);
                    let channel = lock(&self.state).irc_name(&room.room).to_owned();
                    self.send(link, Command::JOIN(channel, key, None)).await;
                }
                if let Some(login) = self.login.take() {
                    // The channel list fills the user's room list (with one
                    // network; in gateway mode rooms name their network).
                    if !self.gateway {
                        self.send(link, Command::LIST(None, None)).await;
                    }
                    // CONNECTED before anything from the server is reported:
                    // Spectrum 2 drops messages for users not yet connected.
                    if let Err(e) = self.ctx.connected().await {
                        tracing::debug!("could not send CONNECTED: {e}");
                    }
                    let _ = login.send(Ok(()));
                } else {
                    self.tell(format!(
                        "Connected to {server} again as {nick}; rejoining {rejoining} rooms."
                    ))
                    .await;
                }
                self.was_up = true;
            }
            LinkState::Retrying { .. } if self.was_up => {
                tracing::warn!(%server, "{}", state.describe(&server));
                self.tell(state.describe(&server)).await;
                let offline = lock(&self.state).contacts.all_offline();
                for frame in offline {
                    if let Err(e) = self.ctx.send(frame).await {
                        tracing::debug!("could not report to the main instance: {e}");
                    }
                }
            }
            LinkState::GaveUp { code, .. } => {
                let text = state.describe(&server);
                if let Some(login) = self.login.take() {
                    let _ = login.send(Err(Error::new(*code, text)));
                } else if self.gateway {
                    // Only this network is lost: its rooms end, the session stays.
                    tracing::warn!(%server, "{text}");
                    self.tell(text.clone()).await;
                    let frames = {
                        let mut state = lock(&self.state);
                        let nick = state.nick.clone();
                        let rooms: Vec<String> = state.rooms.names().map(str::to_owned).collect();
                        let mut frames = Vec::new();
                        for room in rooms {
                            frames.extend(state.rooms.occupant_left(&room, &nick, &text));
                        }
                        frames.extend(state.contacts.all_offline());
                        frames
                    };
                    for frame in frames {
                        if let Err(e) = self.ctx.send(frame).await {
                            tracing::debug!("could not report to the main instance: {e}");
                        }
                    }
                } else if let Some(frame) = state.frame(self.ctx.user(), &server) {
                    tracing::warn!(%server, "{text}");
                    if let Err(e) = self.ctx.send(frame).await {
                        tracing::debug!("could not send DISCONNECTED: {e}");
                    }
                }
            }
            LinkState::Connecting { .. } | LinkState::Retrying { .. } | LinkState::Closed => {}
        }
    }

    async fn on_line(&mut self, link: &IrcLink, line: &[u8]) {
        let Some(msg) = parse(line) else {
            tracing::debug!("not an IRC message ({} bytes)", line.len());
            return;
        };
        if let Command::PING(token, _) = &msg.command {
            self.send(link, Command::PONG(token.clone(), None)).await;
            return;
        }
        let reaction = lock(&self.state).on_message(&self.ctx, &msg);
        for frame in reaction.main {
            if let Err(e) = self.ctx.send(frame).await {
                tracing::debug!("could not report to the main instance: {e}");
            }
        }
        for line in reaction.server {
            if link.send(line).await.is_err() {
                tracing::debug!("the link is closed; not sent");
            }
        }
    }
}
