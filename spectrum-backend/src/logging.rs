//! Logging to stderr through `tracing`; `RUST_LOG` chooses what is shown
//! (default `info`; `RUST_LOG=spectrum_backend=debug` shows every frame).

/// Installs the default subscriber unless one is already set.
pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Spectrum 2 sends a backend's output to its own log files: colour
        // codes only for a person at a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
