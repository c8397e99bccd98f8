//! The connection to the main instance and the backend's life cycle.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use spectrum_proto::{self as proto, FrameCodec, Payload};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;
use tracing::Instrument as _;

use crate::backend_ctx::BackendCtx;
use crate::events::{Event, into_event};
use crate::handler::Backend;
use crate::outbox::Outbox;
use crate::session::{Limits, Routed, Sessions};
use crate::{Args, Capabilities, Config, RunError, outbox, stats};

/// Builds and runs a backend: start-up as Spectrum 2 spawns it, the
/// connection, sessions and shutdown.
///
/// [`crate::main`] is this with the defaults. Use the builder to add shared
/// state or to change what is announced:
///
/// ```no_run
/// # use spectrum_backend::prelude::*;
/// # struct Echo;
/// # #[backend] impl Echo { #[on(Login)] async fn login(_l: Login) -> Self { Echo } }
/// struct Pool;
///
/// fn main() -> std::process::ExitCode {
///     spectrum_backend::Runtime::<Echo>::from_env()
///         .map(|rt| rt.with_state(Pool).capabilities(|c| c.receipts = true))
///         .map_or_else(spectrum_backend::exit_with, |rt| rt.block_on())
/// }
/// ```
pub struct Runtime<B> {
    args: Args,
    config: Config,
    state: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    capabilities: Capabilities,
    max_frame_length: usize,
    shutdown_grace: Duration,
    limits: Limits,
    keepalive: Duration,
    _backend: std::marker::PhantomData<fn() -> B>,
}

/// Default bound on the input queued for one user: 4 MiB.
pub const DEFAULT_INPUT_PER_USER: usize = 4 << 20;
/// Default bound on the input queued for every user together: 64 MiB.
pub const DEFAULT_INPUT_TOTAL: usize = 64 << 20;
/// How long one user's full input queue may hold reading up before that
/// session is stopped: 5 s.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(5);
/// How long reading may stay paused with nothing written before a
/// keepalive STATS goes out: half of Spectrum 2's 20 s PING tick.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10);
/// After the last frame is written at shutdown, how long input is still read
/// (and discarded) waiting for the main instance to close its side.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl<B> std::fmt::Debug for Runtime<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("args", &self.args)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Runtime<B> {
    /// Reads the process's arguments and the config file they name.
    pub fn from_env() -> std::result::Result<Self, RunError> {
        Self::from_args(Args::from_env()?)
    }

    /// Reads the config file `args` names.
    pub fn from_args(args: Args) -> std::result::Result<Self, RunError> {
        let mut config = Config::load(&args.config)?;
        config.apply_overrides(&args.overrides);
        Ok(Self::new(args, config))
    }

    /// A runtime from parsed arguments and config.
    pub fn new(args: Args, config: Config) -> Self {
        Runtime {
            args,
            config,
            state: HashMap::new(),
            capabilities: Capabilities::derive(B::EVENTS),
            max_frame_length: proto::DEFAULT_MAX_FRAME_LENGTH,
            shutdown_grace: Duration::from_secs(10),
            limits: Limits {
                per_user: DEFAULT_INPUT_PER_USER,
                total: DEFAULT_INPUT_TOTAL,
                stuck_after: DEFAULT_STUCK_AFTER,
            },
            keepalive: DEFAULT_KEEPALIVE,
            _backend: std::marker::PhantomData,
        }
    }

    /// Makes `value` available to every handler as `ctx.state::<T>()`.
    pub fn with_state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(TypeId::of::<T>(), Box::new(value));
        self
    }

    /// Adjusts the BACKEND_CONFIG announcement derived from the handlers.
    pub fn capabilities(mut self, change: impl FnOnce(&mut Capabilities)) -> Self {
        change(&mut self.capabilities);
        self
    }

    /// The largest frame accepted or sent (default 16 MiB).
    pub fn max_frame_length(mut self, max: usize) -> Self {
        self.max_frame_length = max;
        self
    }

    /// How long sessions get to log out at shutdown before they are
    /// abandoned (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Bounds the input queued for handlers, in bytes (frame length plus a
    /// fixed overhead per event): `per_user` for one user's queue, `total`
    /// for all of them (defaults [`DEFAULT_INPUT_PER_USER`] and
    /// [`DEFAULT_INPUT_TOTAL`]).
    ///
    /// The policy, so that memory stays bounded whatever the main instance
    /// sends and nothing is dropped silently:
    ///
    /// * **Total reached, or one user's queue full**: the backend stops
    ///   reading the socket until handlers have taken some input (TCP
    ///   backpressure: the main instance's writes wait). Meanwhile a STATS
    ///   frame goes out at least every [keepalive](Runtime::keepalive)
    ///   interval, so Spectrum 2, which counts any frame as alive, keeps the
    ///   backend.
    /// * **A handler that does not keep up**: if one user's full queue has
    ///   held reading up for [`stuck_after`](Runtime::stuck_after) while the
    ///   main instance reads what we send (so the handler is not merely
    ///   waiting to send), that session is stopped, its queued events are
    ///   dropped (the log line counts them) and the user gets DISCONNECTED
    ///   (`OTHER_ERROR`, which Spectrum 2 answers with LOGOUT and a new
    ///   LOGIN). One slow handler may pause everyone, but never longer than
    ///   that.
    ///
    /// A single event larger than a bound is still accepted into an empty
    /// queue.
    pub fn input_limits(mut self, per_user: usize, total: usize) -> Self {
        self.limits.per_user = per_user;
        self.limits.total = total;
        self
    }

    /// How long one user's full input queue may hold reading up (while the
    /// main instance reads us) before that session is stopped (default
    /// [`DEFAULT_STUCK_AFTER`]); see [`Runtime::input_limits`].
    pub fn stuck_after(mut self, timeout: Duration) -> Self {
        self.limits.stuck_after = timeout;
        self
    }

    /// While reading is paused, the longest time without any frame to the
    /// main instance before a STATS is sent to show the backend is alive
    /// (default [`DEFAULT_KEEPALIVE`]).
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = interval;
        self
    }

    /// The parsed arguments.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Starts logging, builds a tokio runtime and runs the backend until the
    /// main instance lets it go; the exit code to return from `main`.
    pub fn block_on(self) -> ExitCode {
        crate::logging::init(&self.config, self.args.backend_id.as_deref());
        let tokio = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start the tokio runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        tokio
            .block_on(self.run())
            .map_or_else(exit_with, |()| ExitCode::SUCCESS)
    }

    /// Connects to the main instance and serves it until EXIT or until it
    /// closes the connection.
    ///
    /// The connection is opened, read and written on a thread of its own,
    /// with its own single-threaded tokio runtime; sessions run on the
    /// runtime that calls `run`. A handler that blocks its thread (a
    /// synchronous legacy library) therefore cannot delay PONG: Spectrum 2
    /// kills a backend that misses one 20 s tick, taking every user with it.
    pub async fn run(self) -> std::result::Result<(), RunError> {
        let span = tracing::info_span!(
            "backend",
            id = self.args.backend_id.as_deref().unwrap_or("-")
        );
        let pool = tokio::runtime::Handle::current();
        on_io_thread(span, move || async move {
            let addr = format!("{}:{}", self.args.host, self.args.port);
            // Connected here, the socket belongs to this thread's reactor:
            // busy pool workers cannot starve its readiness events.
            let stream = TcpStream::connect((self.args.host.as_str(), self.args.port))
                .await
                .map_err(|source| RunError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
            let _ = stream.set_nodelay(true);
            tracing::info!(%addr, "connected to the main instance");
            let (read, write) = stream.into_split();
            self.connection(read, write, pool).await
        })
        .await
    }

    /// Serves the protocol over an established connection, read and
    /// written on a thread of its own as in [`Runtime::run`].
    ///
    /// I/O objects stay registered with the runtime that created them: for
    /// the full isolation of `run`, create `read` and `write` inside no
    /// runtime whose workers may block, or use `run`.
    pub async fn serve<R, W>(self, read: R, write: W) -> std::result::Result<(), RunError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let pool = tokio::runtime::Handle::current();
        on_io_thread(tracing::Span::current(), move || {
            self.connection(read, write, pool)
        })
        .await
    }

    /// The connection's life, on the I/O thread; `pool` runs the sessions.
    async fn connection<R, W>(
        self,
        read: R,
        write: W,
        pool: tokio::runtime::Handle,
    ) -> std::result::Result<(), RunError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let init_res = stats::memory_kib().0;
        for line in self.config.lossy_lines() {
            tracing::warn!(
                line,
                "the config file is not UTF-8 at this line; read with replacement characters"
            );
        }
        let (out, inbox) = outbox::channel(self.max_frame_length);
        let writer = tokio::spawn(
            outbox::write_loop(
                write,
                inbox,
                outbox::WriterConfig {
                    init_res,
                    keepalive: self.keepalive,
                    max_frame_length: self.max_frame_length,
                },
            )
            .in_current_span(),
        );
        let backend = BackendCtx::new(self.config, self.args.backend_id, self.state, out.clone());
        let (mut sessions, mut ended) =
            Sessions::<B>::new(backend.clone(), pool.clone(), self.limits);
        let budget = Arc::clone(sessions.budget());
        let mut signals = Signals::new();
        let mut frames = FramedRead::new(
            read,
            FrameCodec::with_max_frame_length(self.max_frame_length),
        );
        let mut announced = false;
        let config_text = self.capabilities.to_ini();
        // An event waiting for room in the queues: while it waits, the
        // socket is not read.
        let mut pending: Option<Pending> = None;
        let mut corrupt = None;
        let reason = loop {
            let frame = tokio::select! {
                frame = frames.next(), if pending.is_none() => frame,
                Some((user, generation)) = ended.recv() => {
                    sessions.ended(&user, generation);
                    continue;
                }
                () = budget.freed(), if pending.is_some() => {
                    pending = route_pending(&mut sessions, &backend, &out, pending.take());
                    continue;
                }
                // The budget is also freed by sessions that end or are
                // aborted; look again now and then whatever happens.
                () = tokio::time::sleep(RETRY), if pending.is_some() => {
                    pending = route_pending(&mut sessions, &backend, &out, pending.take());
                    continue;
                }
                () = signals.recv() => break "a termination signal",
            };
            let wrapper = match frame {
                None => break "end of stream from the main instance",
                Some(Err(e)) => {
                    if let Some(c) = e
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<proto::CorruptStream>())
                    {
                        tracing::error!(
                            "{c}: the stream from the main instance is out of step; exiting so that Spectrum 2 starts a new backend"
                        );
                        corrupt = Some(c.clone());
                        break "a corrupt stream";
                    }
                    tracing::error!("reading from the main instance failed: {e}");
                    break "a read error";
                }
                Some(Ok(Err(e))) => {
                    tracing::error!("bad frame from the main instance: {e}");
                    continue;
                }
                Some(Ok(Ok(wrapper))) => wrapper,
            };
            if !announced {
                // As the reference backends: once, before answering the first PING.
                announced = true;
                let payload = Payload::BackendConfig(proto::BackendConfig {
                    config: config_text.clone(),
                });
                if let Err(e) = out.preface(&payload) {
                    tracing::warn!("could not queue BACKEND_CONFIG: {e}");
                }
            }
            let type_number = wrapper.r#type;
            let raw = wrapper.payload.clone();
            let len = raw.as_ref().map_or(0, |p| p.len());
            let payload = match Payload::from_wrapper(wrapper) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(
                        kind = %proto::TypeNumber(type_number),
                        len,
                        "dropping a frame from the main instance: {e}"
                    );
                    if type_number == proto::MessageType::Login as i32 {
                        refuse_login(&backend, raw.as_deref().unwrap_or_default(), &e);
                    }
                    continue;
                }
            };
            tracing::debug!(kind = %proto::TypeNumber(type_number), len, "in");
            match payload {
                Payload::Ping => out.pong(),
                Payload::Exit => break "EXIT from the main instance",
                Payload::Login(login) => sessions.login(login),
                Payload::Logout(logout) => {
                    if !sessions.logout(logout) {
                        tracing::debug!("LOGOUT for a user without a session; nothing to do");
                    }
                }
                Payload::Query(answer) => backend.answer_query(answer.config),
                Payload::ApiVersion(v) => {
                    tracing::info!(version = v.version, "main instance API version")
                }
                other => match into_event(other) {
                    Ok(event) => {
                        pending = route_pending(&mut sessions, &backend, &out, Some((event, len)));
                    }
                    Err(_) => {
                        tracing::warn!(
                            kind = %proto::TypeNumber(type_number),
                            len,
                            "the main instance sent a message type it should not; ignored"
                        );
                    }
                },
            }
        };
        out.set_paused(false);
        drop(pending);
        let started = std::time::Instant::now();
        let count = sessions.len();
        tracing::info!(sessions = count, "shutting down after {reason}");
        let report = sessions.shutdown(self.shutdown_grace).await;
        let exit = {
            let backend = backend.clone();
            pool.spawn(async move { B::exit(&backend).await }.in_current_span())
        };
        match tokio::time::timeout(self.shutdown_grace, exit).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("exit handler failed: {e}"),
            Ok(Err(e)) => tracing::error!("exit handler panicked: {e}"),
            Err(_) => tracing::warn!(
                "exit handler still running after {:?}; not waiting",
                self.shutdown_grace
            ),
        }
        // The end marker needs room in the bounded queue: a main instance
        // that reads nothing must not keep us from stopping.
        if tokio::time::timeout(self.shutdown_grace, out.close())
            .await
            .is_err()
        {
            tracing::warn!("the main instance is not reading; not waiting to flush");
        }
        drop(out);
        drop(backend);
        let flushed = match tokio::time::timeout(self.shutdown_grace, writer).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(e))) => {
                tracing::warn!("could not flush to the main instance: {e}");
                false
            }
            Ok(Err(e)) => {
                tracing::error!("writer task failed: {e}");
                false
            }
            Err(_) => {
                tracing::warn!("the main instance did not take our last frames in time");
                false
            }
        };
        // Our side is shut for writing. Closing with unread input would make
        // the kernel answer with RST, and the main instance could lose the
        // frames just written: read (and drop) until it closes its side.
        if flushed && corrupt.is_none() {
            let drain = async {
                let mut read = frames.into_inner();
                let mut sink = [0u8; 8192];
                loop {
                    match tokio::io::AsyncReadExt::read(&mut read, &mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            };
            if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
                tracing::debug!("the main instance kept its side open; closing");
            }
        }
        tracing::info!(
            sessions = count,
            logged_out = report.logged_out,
            abandoned = report.abandoned,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stopped"
        );
        match corrupt {
            Some(c) => Err(RunError::CorruptStream(c)),
            None => Ok(()),
        }
    }
}

/// An event waiting for room in the queues, while reading is paused, and
/// its frame length.
type Pending = (Event, usize);

/// Queues `pending` if there is room; gives it back to wait, with reading
/// paused, if there is none. A user whose queue has stayed full for
/// [`Limits::stuck_after`] while the main instance reads us is evicted
/// instead: one slow handler may pause everyone, but not for longer than
/// that.
fn route_pending<B: Backend>(
    sessions: &mut Sessions<B>,
    backend: &BackendCtx,
    out: &Outbox,
    pending: Option<Pending>,
) -> Option<Pending> {
    let (event, len) = pending?;
    let waiting = match sessions.route(event, len) {
        Routed::Queued => None,
        Routed::NoSession(event) => {
            crate::session::orphan(backend, event);
            None
        }
        Routed::UserFull(event, _) if out.is_backed_up() => {
            // Handlers wait for the main instance to read: not their fault.
            if let Some(user) = event.user().map(str::to_owned) {
                sessions.not_stuck(&user);
            }
            Some((event, len))
        }
        Routed::UserFull(event, since) if since.elapsed() >= sessions.limits().stuck_after => {
            if let Some(user) = event.user().map(str::to_owned) {
                sessions.evict(&user);
            }
            crate::session::orphan(backend, event);
            None
        }
        Routed::UserFull(event, _) | Routed::TotalFull(event) => Some((event, len)),
    };
    if out.set_paused(waiting.is_some()) {
        tracing::debug!(
            paused = waiting.is_some(),
            "input queues full: reading from the main instance paused (or resumed)"
        );
    }
    waiting
}

/// How often a paused reader looks again for room in the queues.
const RETRY: Duration = Duration::from_millis(50);

/// Answers a LOGIN that could not be decoded, when its user can still be
/// read: Spectrum 2 would otherwise wait for an answer that never comes.
fn refuse_login(backend: &BackendCtx, raw: &[u8], error: &proto::DecodeError) {
    let Some((user, _legacy_name)) = proto::login_names_lossy(raw) else {
        tracing::warn!("undecodable LOGIN names no readable user; nobody to answer");
        return;
    };
    tracing::warn!(%user, "LOGIN refused: {error}");
    let message = format!(
        "the backend could not read this login ({error}); \
         the password and legacy name must be UTF-8 text"
    );
    let payload = Payload::Disconnected(proto::Disconnected {
        user,
        error: proto::ConnectionError::AuthenticationImpossible as i32,
        message: Some(message),
    });
    let backend = backend.clone();
    tokio::spawn(
        async move {
            if let Err(e) = backend.outbox().send(&payload).await {
                tracing::warn!("could not answer the LOGIN: {e}");
            }
        }
        .in_current_span(),
    );
}

/// Runs `job` on a new thread with a single-threaded tokio runtime of its
/// own, and waits for its result without blocking the caller's runtime.
async fn on_io_thread<F, Fut>(span: tracing::Span, job: F) -> std::result::Result<(), RunError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::result::Result<(), RunError>>,
{
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("spectrum-io".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(io) => io.block_on(job().instrument(span)),
                Err(e) => Err(RunError::Io(e)),
            };
            let _ = done_tx.send(result);
        })
        .map_err(RunError::Io)?;
    done_rx.await.unwrap_or_else(|_| {
        Err(RunError::Io(std::io::Error::other(
            "the connection thread panicked",
        )))
    })
}

/// SIGTERM, SIGINT and SIGHUP, registered once for the life of the
/// connection so that none is missed between two frames. All three end the
/// backend the same way: every session logs out, everything sent is
/// flushed. SIGHUP means "the terminal is gone", and a backend has no
/// config to reload that Spectrum 2 would not pass to a new process anyway.
struct Signals {
    #[cfg(unix)]
    inner: Option<(
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
    )>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let inner = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(term), Ok(int), Ok(hup)) => Some((term, int, hup)),
                _ => {
                    tracing::warn!("cannot listen for termination signals");
                    None
                }
            };
            Signals { inner }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        match &mut self.inner {
            Some((term, int, hup)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Prints a start-up error as a person should see it; the exit code for it.
pub fn exit_with(error: RunError) -> ExitCode {
    match &error {
        RunError::Args(crate::args::ArgsError::Help) => {
            println!("{error}");
            ExitCode::SUCCESS
        }
        RunError::Args(_) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
        _ => {
            tracing::error!("{error}");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs backend `B` as Spectrum 2 spawns it: parses the arguments and the
/// config file, logs to stderr (`RUST_LOG` sets the level), connects, and
/// serves until EXIT. Returns the process's exit code.
///
/// ```no_run
/// # use spectrum_backend::prelude::*;
/// # struct Echo;
/// # #[backend] impl Echo { #[on(Login)] async fn login(_l: Login) -> Self { Echo } }
/// fn main() -> std::process::ExitCode {
///     spectrum_backend::main::<Echo>()
/// }
/// ```
pub fn main<B: Backend>() -> ExitCode {
    Runtime::<B>::from_env().map_or_else(exit_with, Runtime::block_on)
}
