//! The signals that end a backend.

/// SIGTERM, SIGINT and SIGHUP, registered once for the life of the
/// connection so that none is missed between two frames. All three end the
/// backend the same way: every session logs out, everything sent is
/// flushed. SIGHUP means "the terminal is gone", and a backend has no
/// config to reload that Spectrum 2 would not pass to a new process anyway.
pub(crate) struct Signals {
    #[cfg(unix)]
    inner: Option<(
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
    )>,
}

impl Signals {
    pub(crate) fn new() -> Self {
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

    pub(crate) async fn recv(&mut self) {
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
