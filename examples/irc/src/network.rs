//! A user's connection to the IRC network: the author layer's supervised
//! link (reconnects with backoff, bounded queues and lines), registration
//! as its connect step, and the read task that reports to Spectrum 2.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use irc_proto::Command;
use spectrum_backend::gateway::prelude::*;
use tokio_util::task::AbortOnDropHandle;

use crate::register::{MAX_LINE, Registration, connect, parse, register};
use crate::settings::{Server, Settings};
use crate::state::{State, server_answer};

/// How long one server gets to accept the connection and welcome the user.
const SERVER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long LOGOUT waits for the QUIT to be written.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The read task's link.
type IrcLink = Link<Line, String>;

/// The handlers' side of the connection.
pub(crate) struct Network {
    servers: Endpoints<Server>,
    /// The link's sender, which knows whether it is up or gone.
    pub(crate) sender: LinkSender<String>,
    state: Arc<Mutex<State>>,
    /// The read task; dropping the network stops it at once.
    task: AbortOnDropHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is complete when it returns.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The link's connect step.
struct Connector {
    settings: Arc<Settings>,
    servers: Endpoints<Server>,
    who: Registration,
    state: Arc<Mutex<State>>,
}

impl Connector {
    /// Registers on the servers in turn (see [`Endpoints`]).
    async fn connect(self: Arc<Self>) -> Result<Connection, ConnectError> {
        let (tls, who) = (self.settings.tls.as_deref(), &self.who);
        let attempt =
            |server| async move { register(connect(&server, tls).await?, &server, who).await };
        let (_, registered) = self.servers.connect(attempt).await?;
        let mut state = lock(&self.state);
        state.nick = registered.nick;
        state.caps = registered.caps;
        state.sasl = registered.sasl;
        Ok(registered.stream)
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
        let servers = Endpoints::new(settings.servers.clone()).timeout(SERVER_TIMEOUT);
        let first = servers.current();
        let state = Arc::new(Mutex::new(State::new(ctx.user(), nick, suffix)));
        let connector = Arc::new(Connector {
            servers: servers.clone(),
            who: Registration {
                nick: nick.to_owned(),
                pass: (settings.send_pass && !password.is_empty()).then(|| password.to_owned()),
                sasl: (!settings.send_pass && !password.is_empty())
                    .then(|| (nick.to_owned(), password.to_owned())),
            },
            settings: Arc::clone(&settings),
            state: Arc::clone(&state),
        });
        let mut link_settings = LinkSettings::new(ctx.user());
        let attempts = settings.reconnect_attempts;
        link_settings.backoff.attempts = (attempts > 0).then_some(attempts);
        link_settings.connect_timeout = servers.try_timeout();
        // A server gone without closing the connection: two PINGs unanswered.
        let keepalive = Duration::from_secs(settings.keepalive);
        let link_settings = link_settings.keepalive(keepalive, "PING :keepalive\r\n");
        let link: IrcLink = Link::spawn(link_settings, LineCodec::new(MAX_LINE), move || {
            Arc::clone(&connector).connect()
        });
        let mut report = LinkReport::new(first.to_string()).contact(first.host.as_str());
        if gateway {
            report = report.keeps_session();
        }
        let login = report.login();
        let reader = Reader {
            ctx: ctx.clone(),
            servers: servers.clone(),
            password: password.to_owned(),
            state: Arc::clone(&state),
            report,
            list: !gateway,
            settings,
        };
        let network = Network {
            servers,
            sender: link.sender(),
            state,
            task: AbortOnDropHandle::new(tokio::spawn(reader.run(link))),
        };
        login.wait().await.map(|()| network)
    }

    /// The session's view of the server, for a handler's decision.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The server the user is on (or was last on).
    pub(crate) fn server(&self) -> String {
        self.servers.current().to_string()
    }

    /// Queues a command; waits while the queue is full (the server reads
    /// slowly). Refused while the connection is down (false), rather than
    /// a handler waiting for minutes.
    pub(crate) async fn send(&self, command: &Command) -> bool {
        self.sender.send_if_up(String::from(command)).await.is_ok()
    }

    /// [`Network::send`], telling the user when `what` was not sent.
    pub(crate) async fn send_or_tell(
        &self,
        ctx: &Ctx,
        command: &Command,
        what: &str,
    ) -> Result<bool> {
        let (line, server) = (String::from(command), self.server());
        ctx.send_or_tell(&self.sender, line, &server, what).await
    }

    /// QUIT, then closes the connection once it is written. The link
    /// knows it is closing before the QUIT goes out: the server hanging up
    /// on it is the end, not a drop to report and retry.
    pub(crate) async fn quit(mut self, reason: &str) {
        let quit = Command::QUIT(Some(reason.to_owned()));
        self.sender.close_with(String::from(&quit));
        if tokio::time::timeout(QUIT_TIMEOUT, &mut self.task)
            .await
            .is_err()
        {
            tracing::info!("the connection did not close in time");
        }
    }
}

/// The read task: the link's events, reported to Spectrum 2.
struct Reader {
    ctx: Ctx,
    servers: Endpoints<Server>,
    settings: Arc<Settings>,
    password: String,
    state: Arc<Mutex<State>>,
    /// What the user and Spectrum 2 are told of the link's states.
    report: LinkReport,
    /// LIST once up: the channel list fills the user's room list (with
    /// one network; in gateway mode rooms name their network).
    list: bool,
}

impl Reader {
    async fn run(mut self, mut link: IrcLink) {
        let every = Duration::from_secs(self.settings.away_timeout.max(1));
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let event = tokio::select! {
                () = self.ctx.ended() => break,
                _ = poll.tick(), if self.settings.away_timeout > 0 => {
                    if link.state() == LinkState::Up {
                        let lines = {
                            let state = lock(&self.state);
                            self.ctx.with_rooms(|rooms| state.poll(rooms))
                        };
                        for line in lines {
                            send(&link, line).await;
                        }
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

    /// Frames for Spectrum 2.
    async fn report(&self, frames: Vec<Payload>) {
        if frames.is_empty() {
            return;
        }
        if let Err(e) = self.ctx.send_all(frames).await {
            tracing::debug!("could not report to the main instance: {e}");
        }
    }

    /// What the layer's report does not: registration's follow-up when
    /// up, contacts offline while down, the rooms of a network given up.
    async fn on_state(&mut self, link: &IrcLink, state: LinkState) {
        let server = self.servers.current().to_string();
        let frames = match &state {
            LinkState::Up => Vec::new(),
            // The link logs why it retries or gives up.
            LinkState::GaveUp { .. } => {
                // The rooms on this server end, before the session (in
                // gateway mode, the session goes on with other networks).
                let (mut s, text) = (lock(&self.state), state.describe(&server));
                let mut frames = self
                    .ctx
                    .with_rooms(|r| r.link_gone_where(|r| s.owns(r), &text));
                frames.extend(s.contacts.all_offline());
                frames
            }
            LinkState::Retrying { .. } => lock(&self.state).contacts.all_offline(),
            LinkState::Connecting { .. } | LinkState::Closed => return,
        };
        self.report(frames).await;
        // CONNECTED (the first time) before anything from the server is
        // reported: Spectrum 2 drops messages for users not yet connected.
        self.report.set_network(&server);
        if let Err(e) = self.ctx.report_link(&mut self.report, &state).await {
            tracing::debug!("could not report the link: {e}");
        }
        if state == LinkState::Up {
            self.on_up(link).await;
        }
    }

    /// Welcomed: identify, set the away state again, rejoin the rooms of
    /// this server (the tracker then reports only what changed).
    async fn on_up(&mut self, link: &IrcLink) {
        let (nick, sasl, away, rejoin) = {
            let s = lock(&self.state);
            let rejoin = self
                .ctx
                .with_rooms(|r| r.connection_lost_where(|room| s.owns(room)));
            (s.nick.clone(), s.sasl, s.away.clone(), rejoin)
        };
        tracing::info!(%nick, "welcomed by the IRC server");
        if let Some((target, text)) = self
            .settings
            .identify_message(self.ctx.legacy_name(), &self.password)
            .filter(|_| !sasl)
        {
            send(link, &Command::PRIVMSG(target, text)).await;
        }
        if away.is_some() {
            send(link, &Command::AWAY(away)).await;
        }
        for room in rejoin {
            let join = lock(&self.state).join(room);
            send(link, &join).await;
        }
        if std::mem::take(&mut self.list) {
            send(link, &Command::LIST(None, None)).await;
        }
    }

    async fn on_line(&mut self, link: &IrcLink, line: &[u8]) {
        let Some(msg) = parse(line) else {
            tracing::debug!("not an IRC message ({} bytes)", line.len());
            return;
        };
        if let Some(answer) = server_answer(&msg) {
            return send(link, &answer).await;
        }
        let frames = {
            let mut state = lock(&self.state);
            self.ctx.with_rooms(|rooms| state.on_message(rooms, &msg))
        };
        self.report(frames).await;
    }
}

/// Queues a line on the link.
async fn send(link: &IrcLink, line: impl Into<String>) {
    if link.send(line.into()).await.is_err() {
        tracing::debug!("the link is closed; not sent");
    }
}
