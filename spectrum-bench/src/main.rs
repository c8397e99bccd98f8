//! Benchmarks of `spectrum-backend`, and a soak test.
//!
//! ```text
//! cargo run --release -p spectrum-bench            # every figure, side by side, 3 runs
//! cargo run --release -p spectrum-bench --no-default-features   # with the system allocator
//! cargo run --release -p spectrum-bench -- soak --seconds 60
//! cargo run --release -p spectrum-bench -- unread --messages 1000000
//! cargo run --release -p spectrum-bench -- shutdown --sessions 10000
//! ```
//!
//! Each backend runs as its own process, spawned with Spectrum 2's
//! arguments; this process plays the main instance over loopback TCP.

mod backends;
mod driver;
mod load;
mod scenarios;

use clap::{Parser, Subcommand};

// Every backend under test runs from this binary, so they share the
// allocator: mimalloc by default (what backends should use), the system's
// with `--no-default-features`. glibc's malloc serialises frees of memory
// allocated on another thread, which a multi-threaded runtime does all the
// time.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator of this build, for the printed figures.
pub(crate) const ALLOCATOR_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system malloc"
};

use driver::BoxError;

#[derive(Parser)]
#[command(about = "Benchmarks and soak test of spectrum-backend", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every benchmark, printed as one table (the default).
    All {
        /// Fewer messages: a quick look, less precise.
        #[arg(long)]
        quick: bool,
        /// Echo messages kept in flight (sent but not yet answered).
        #[arg(long, default_value_t = 256)]
        window: usize,
        /// Rounds of every measurement; the median and range are printed.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Mixed load for a while; prints frames sent, received, lost, and memory.
    Soak {
        /// How long to run (at most one hour).
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Users logged in (at most 10,000).
        #[arg(long, default_value_t = 100)]
        users: usize,
    },
    /// Only the echo measurement, for one backend (e.g. to profile it).
    Echo {
        /// `framework`, `handwritten` or `raw`.
        #[arg(long, default_value = "framework")]
        kind: String,
        /// Users logged in.
        #[arg(long, default_value_t = 1)]
        users: usize,
        /// Messages in total.
        #[arg(long, default_value_t = 200_000)]
        messages: usize,
        /// Messages in flight.
        #[arg(long, default_value_t = 256)]
        window: usize,
        /// Also a PING every this many milliseconds, and the PONG round
        /// trip printed (as in `all`: 1).
        #[arg(long)]
        ping_ms: Option<u64>,
        /// Keep sending for at least this many seconds, past `--messages`
        /// (as in `all`: 1).
        #[arg(long, default_value_t = 0.0)]
        seconds: f64,
    },
    /// Only the PONG-under-load measurement.
    Pong {
        /// `sleep` (async handlers) or `block` (handlers that block a thread).
        #[arg(long, default_value = "block")]
        mode: String,
        /// PINGs to send.
        #[arg(long, default_value_t = 100)]
        pings: usize,
    },
    /// A main instance that never reads while it sends a flood: the
    /// backend's peak memory against its input bound, then every echo once
    /// reading resumes.
    Unread {
        /// Messages to send.
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
    },
    /// Shutdown (EXIT) with many sessions: how long it takes and how many
    /// log lines it writes.
    Shutdown {
        /// Sessions logged in.
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
    },
    /// Internal: run as the backend process under test.
    #[command(hide = true)]
    Backend {
        /// `framework`, `handwritten` or `raw`.
        kind: String,
        /// The arguments Spectrum 2 passes.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Backend { kind, args }) = &cli.command {
        return run_backend(kind, args);
    }
    // The driver is one task: a second thread would only add wake-ups.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result: Result<(), BoxError> = rt.block_on(async {
        match cli.command {
            None => scenarios::all(false, 256, 3).await,
            Some(Command::All {
                quick,
                window,
                runs,
            }) => scenarios::all(quick, window.max(1), runs.clamp(1, 20)).await,
            Some(Command::Soak { seconds, users }) => {
                scenarios::soak(seconds.min(3600), users.min(10_000)).await
            }
            Some(Command::Echo {
                kind,
                users,
                messages,
                window,
                ping_ms,
                seconds,
            }) => {
                let ping = ping_ms.map(|ms| std::time::Duration::from_millis(ms.max(1)));
                let at_least = std::time::Duration::try_from_secs_f64(seconds).unwrap_or_default();
                let load = load::EchoLoad {
                    users: users.max(1),
                    messages: messages.max(1),
                    window: window.max(1),
                    ping_every: ping,
                    at_least,
                };
                scenarios::echo(&kind, load).await
            }
            Some(Command::Pong { mode, pings }) => scenarios::pong(&mode, pings).await,
            Some(Command::Unread { messages }) => scenarios::unread(messages.max(1)).await,
            Some(Command::Shutdown { sessions }) => {
                scenarios::shutdown(sessions.clamp(1, 100_000)).await
            }
            Some(Command::Backend { .. }) => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_backend(kind: &str, args: &[String]) -> std::process::ExitCode {
    let args = match spectrum_backend::Args::parse(args) {
        Ok(a) => a,
        Err(e) => return spectrum_backend::exit_with(e.into()),
    };
    match kind {
        "framework" => spectrum_backend::Runtime::<backends::Bench>::from_args(args)
            .map_or_else(spectrum_backend::exit_with, |rt| rt.block_on()),
        "raw" => match backends::raw(&args.host, args.port) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("raw echo: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        "handwritten" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt.map(|rt| rt.block_on(backends::handwritten(&args.host, args.port))) {
                Ok(Ok(())) => std::process::ExitCode::SUCCESS,
                Ok(Err(e)) | Err(e) => {
                    eprintln!("handwritten backend: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        other => {
            eprintln!("unknown backend kind `{other}`");
            std::process::ExitCode::from(2)
        }
    }
}
