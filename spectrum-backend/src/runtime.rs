//! The connection to the main instance and the backend's life cycle.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use spectrum_proto as proto;
use tokio::net::TcpStream;
use tracing::Instrument as _;

use crate::handler::Backend;
use crate::session::Limits;
use crate::{Args, Capabilities, Config, RunError};

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
    /// The connection is read and written by a thread of its own, which
    /// also runs each handler as far as it goes without waiting (most
    /// finish there: no thread hop per message); a handler that has to wait
    /// continues on the runtime that calls `run`, the pool. A handler that
    /// holds the connection thread for more than a couple of milliseconds
    /// (a synchronous legacy library, a loop that never yields) is left
    /// there and a new thread takes the connection over, so PONG never
    /// waits for a handler: Spectrum 2 kills a backend that misses one 20 s
    /// tick, taking every user with it.
    pub async fn run(self) -> std::result::Result<(), RunError> {
        let span = tracing::info_span!(
            "backend",
            id = self.args.backend_id.as_deref().unwrap_or("-")
        );
        let addr = format!("{}:{}", self.args.host, self.args.port);
        let stream = TcpStream::connect((self.args.host.as_str(), self.args.port))
            .instrument(span.clone())
            .await
            .and_then(TcpStream::into_std)
            .map_err(|source| RunError::Connect {
                addr: addr.clone(),
                source,
            })?;
        span.in_scope(|| tracing::info!(%addr, "connected to the main instance"));
        self.connection(stream, span).await
    }

    /// Serves the protocol over an established connection, as
    /// [`Runtime::run`] does after connecting.
    pub async fn serve(self, stream: std::net::TcpStream) -> std::result::Result<(), RunError> {
        self.connection(stream, tracing::Span::current()).await
    }

    async fn connection(
        self,
        stream: std::net::TcpStream,
        span: tracing::Span,
    ) -> std::result::Result<(), RunError> {
        let settings = crate::connection::Settings {
            config: self.config,
            backend_id: self.args.backend_id,
            state: self.state,
            config_text: self.capabilities.to_ini(),
            max_frame_length: self.max_frame_length,
            shutdown_grace: self.shutdown_grace,
            limits: self.limits,
            keepalive: self.keepalive,
        };
        crate::connection::serve::<B>(stream, settings, tokio::runtime::Handle::current(), span)
            .await
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
