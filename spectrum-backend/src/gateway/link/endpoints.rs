//! Several servers of one network, tried in turn by a link's connect step.

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ConnectionError;

use super::ConnectError;

/// A network's servers (IRC networks list several), shared by every try of
/// a [`Link`](super::Link).
///
/// Until a first connection, a try goes through every server in order and
/// a try that fails on all of them is fatal (with
/// [`ConnectionError::NetworkError`] and every server's reason): at login,
/// Spectrum 2 retries the login itself. Once connected, each try takes the
/// next server (round robin), so that a server that went down is not tried
/// again and again while its neighbours work. Each server gets
/// [`Endpoints::timeout`] to connect.
///
/// Cloning shares the position.
///
/// ```
/// use std::time::Duration;
/// use spectrum_backend::gateway::link::{ConnectError, Endpoints};
///
/// # async fn run() -> Result<(), ConnectError> {
/// let servers = Endpoints::new(vec!["a.example.net:6667", "b.example.net:6667"])
///     .timeout(Duration::from_secs(20));
/// let (server, stream) = servers
///     .connect(|server| async move { Ok(tokio::net::TcpStream::connect(server).await?) })
///     .await?;
/// assert_eq!(servers.current(), server);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Endpoints<E> {
    list: Arc<[E]>,
    /// The server of the last connection, and whether there was one.
    position: Arc<Mutex<(usize, bool)>>,
    timeout: Duration,
}

impl<E: Clone + Display> Endpoints<E> {
    /// The servers, in the order of the first tries; each gets 30 s.
    ///
    /// # Panics
    ///
    /// If `list` is empty: a network has at least one server.
    pub fn new(list: Vec<E>) -> Endpoints<E> {
        assert!(!list.is_empty(), "a network needs at least one server");
        Endpoints {
            list: list.into(),
            position: Arc::new(Mutex::new((0, false))),
            timeout: Duration::from_secs(30),
        }
    }

    /// How long one server may take to connect (and to finish whatever
    /// login the try does).
    pub fn timeout(mut self, timeout: Duration) -> Endpoints<E> {
        self.timeout = timeout;
        self
    }

    /// How long a whole try may take at most: every server's timeout, and
    /// one more for the margin. For [`LinkSettings::connect_timeout`](super::LinkSettings::connect_timeout).
    pub fn try_timeout(&self) -> Duration {
        let servers = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.timeout.saturating_mul(servers.saturating_add(1))
    }

    /// The server of the last connection (the first one before any).
    pub fn current(&self) -> E {
        self.list[self.lock().0].clone()
    }

    /// One try (see the type's documentation): `attempt` for each server
    /// in turn until one succeeds; a [`ConnectError::fatal`] from it ends
    /// the try at once. A try that fails gives every server's reason,
    /// joined: `attempt`'s messages should name their server.
    pub async fn connect<T, F, Fut>(&self, mut attempt: F) -> Result<(E, T), ConnectError>
    where
        F: FnMut(E) -> Fut,
        Fut: Future<Output = Result<T, ConnectError>>,
    {
        let (at, was_up) = *self.lock();
        let order: Vec<usize> = match was_up {
            false => (0..self.list.len()).collect(),
            true => vec![(at + 1) % self.list.len()],
        };
        let mut failures = Vec::new();
        for i in order {
            let server = self.list[i].clone();
            let result = tokio::time::timeout(self.timeout, attempt(server.clone()))
                .await
                .unwrap_or_else(|_| {
                    Err(ConnectError::retry(format!(
                        "{server}: no connection within {:?}",
                        self.timeout
                    )))
                });
            match result {
                Ok(connection) => {
                    *self.lock() = (i, true);
                    return Ok((server, connection));
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::info!(%server, "cannot connect: {}", e.message());
                    failures.push(e.message().to_owned());
                    if was_up {
                        // The next try takes the next server.
                        self.lock().0 = i;
                    }
                }
            }
        }
        let reason = failures.join("; ");
        match was_up {
            false => Err(ConnectError::fatal(ConnectionError::NetworkError, reason)),
            true => Err(ConnectError::retry(reason)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        // The position is one assignment: never half-changed.
        crate::locks::lock(&self.position)
    }
}
