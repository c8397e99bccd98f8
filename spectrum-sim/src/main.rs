//! `spectrum-sim`: play the Spectrum 2 main instance against any backend.
//!
//! The backend executable is spawned exactly as Spectrum 2 spawns
//! `service.backend` (`--host 127.0.0.1 --port P --service.backend_id=1 -n
//! <config file>`), connects to the simulator over loopback TCP, and gets the
//! main instance's handshake (PING; it must answer PONG and STATS, optionally
//! preceded by BACKEND_CONFIG). Then:
//!
//! * `spectrum-sim run <backend>`: an interactive prompt. Commands such as
//!   `login`, `send`, `join` send frames; every frame in and out is printed
//!   as it happens (`→` to the backend, `←` from it), including frames that
//!   arrive while the prompt waits.
//! * `spectrum-sim run <backend> --script FILE`: the same commands from a
//!   file, plus `expect` lines that wait for a frame; the run fails, naming
//!   the line and showing every frame, when one does not come.
//! * `spectrum-sim bench <backend> --users N --messages M`: load for
//!   echo-like backends; prints throughput, latency percentiles and the
//!   backend's peak memory.
//!
//! `--cargo <package>` instead of a path builds the package of the current
//! workspace first: `cargo run -p spectrum-sim -- run --cargo echo --script
//! examples/echo/demo.sim`.

mod bench;
mod cargo;
mod commands;
mod interactive;
mod output;
mod render;
mod script;
mod session;
mod spawn;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use spectrum_backend::testing::{Handshake, MainInstance};

/// The config file a backend gets without `--config`.
const DEFAULT_CONFIG: &str = "[service]\njid = sim.localhost\n";

/// Play the Spectrum 2 main instance against a backend executable.
#[derive(Debug, Parser)]
#[command(name = "spectrum-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Talk to a backend: an interactive prompt, or a script with --script.
    #[command(after_help = commands::help())]
    Run(RunArgs),
    /// Measure an echo-like backend: throughput, latency and memory.
    Bench(BenchArgs),
}

/// Which backend to start, and how.
#[derive(Debug, Args)]
struct BackendArgs {
    /// The backend executable (what Spectrum 2's `service.backend` names).
    #[arg(
        value_name = "BACKEND",
        required_unless_present = "cargo",
        conflicts_with = "cargo"
    )]
    backend: Option<PathBuf>,
    /// Build this package of the current workspace (`cargo build -p`) and run its binary.
    #[arg(long, value_name = "PACKAGE")]
    cargo: Option<String>,
    /// With --cargo: build with --release.
    #[arg(long, requires = "cargo")]
    release: bool,
    /// The transport config file given to the backend
    /// [default: a minimal one, `[service]` `jid = sim.localhost`].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Arguments placed before Spectrum 2's own, as when `service.backend`
    /// is a command line (`python3 -- backend.py`).
    #[arg(last = true, value_name = "BACKEND ARGS")]
    extra: Vec<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Run the commands of this file instead of reading the prompt.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// How long each `expect` waits, in seconds (a script's `timeout` line changes it).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    timeout: f64,
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Users to log in.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    users: u32,
    /// Messages to send in total, spread evenly over the users.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    messages: u32,
    /// Messages (and logins) in flight at most.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// How long to wait for any one reply, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    timeout: f64,
    /// Give up when the whole run takes longer than this, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = positive_seconds)]
    max_time: f64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let backend = match &cli.command {
        Mode::Run(run) => &run.backend,
        Mode::Bench(bench) => &bench.backend,
    };
    // Everything that can fail before a backend runs fails here, plainly.
    let prepared = match Prepared::new(backend) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("spectrum-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let script = match &cli.command {
        Mode::Run(RunArgs {
            script: Some(path), ..
        }) => match script::Script::load(path) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("spectrum-sim: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spectrum-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Mode::Run(run) => {
                let (main, backend) = match prepared.start_shown().await {
                    Ok(started) => started,
                    Err(e) => {
                        eprintln!("spectrum-sim: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let timeout = Duration::from_secs_f64(run.timeout);
                let session = session::Session::new(main, timeout, Some(backend));
                match script {
                    Some(script) => script.run(session).await,
                    None => interactive::run(session).await,
                }
            }
            Mode::Bench(args) => {
                let (main, handshake) = match prepared.start_quiet().await {
                    Ok(started) => started,
                    Err(e) => {
                        eprintln!("spectrum-sim: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let options = bench::Options {
                    users: args.users as usize,
                    messages: args.messages as usize,
                    concurrency: args.concurrency as usize,
                    timeout: Duration::from_secs_f64(args.timeout),
                    max_time: Duration::from_secs_f64(args.max_time),
                };
                bench::run(main, &handshake, &options).await
            }
        }
    })
}

/// A backend ready to start: its program, arguments and config text.
struct Prepared {
    program: PathBuf,
    leading: Vec<String>,
    config: String,
}

impl Prepared {
    /// Builds the backend if asked (`--cargo`) and reads the config file.
    fn new(args: &BackendArgs) -> Result<Self, String> {
        let program = match (&args.cargo, &args.backend) {
            (Some(package), _) => cargo::build(package, args.release)?,
            (None, Some(path)) => path.clone(),
            (None, None) => return Err("name a backend executable, or --cargo <package>".into()),
        };
        let config = match &args.config {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?,
            None => DEFAULT_CONFIG.to_owned(),
        };
        Ok(Prepared {
            program,
            leading: args.extra.clone(),
            config,
        })
    }

    /// Spawns the backend as Spectrum 2 would, its output shown as it
    /// comes, and does the handshake.
    async fn start_shown(self) -> Result<(MainInstance, spawn::Backend), String> {
        let (mut main, backend) =
            spawn::Backend::start(&self.program, &self.leading, &self.config).await?;
        let pid = backend
            .pid()
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        output::line(
            output::Kind::Note,
            &format!("# backend {}{pid} connected", self.program.display()),
        );
        main.handshake().await.map_err(|f| f.to_string())?;
        Ok((main, backend))
    }

    /// Spawns the backend for a benchmark (its output kept for failure
    /// reports only), and does the handshake.
    async fn start_quiet(self) -> Result<(MainInstance, Handshake), String> {
        let leading: Vec<&str> = self.leading.iter().map(String::as_str).collect();
        let mut main = MainInstance::spawn_with_args(&self.program, &leading, &self.config)
            .await
            .map_err(|f| f.to_string())?;
        let handshake = main.handshake().await.map_err(|f| f.to_string())?;
        Ok((main, handshake))
    }
}
