//! Where a link stands, and what that means for Spectrum 2 and the user.

use std::fmt;
use std::time::Duration;

use spectrum_proto::{self as proto, ConnectionError, Payload};

/// The state of a [`Link`](super::Link), as its owner observes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Opening a connection. `attempt` counts tries since the last good
    /// connection, from 1.
    Connecting {
        /// This try's number.
        attempt: u32,
    },
    /// Connected: what is sent goes out, lines come in.
    Up,
    /// The connection failed or was lost; the next try comes after `delay`.
    Retrying {
        /// How many tries in a row have failed.
        attempt: u32,
        /// The wait before the next try.
        delay: Duration,
        /// Why the last try failed or the connection ended.
        reason: String,
    },
    /// No more tries: too many failures, or a failure that trying again
    /// cannot mend (see [`ConnectError::fatal`]).
    GaveUp {
        /// The DISCONNECTED code to report.
        code: ConnectionError,
        /// Why.
        reason: String,
    },
    /// The owner closed the link.
    Closed,
}

impl LinkState {
    /// The frame that tells Spectrum 2 about this state, if any: CONNECTED
    /// when up, DISCONNECTED with the code and [`LinkState::describe`]'s
    /// text when given up. A DISCONNECTED with NETWORK_ERROR (0) or
    /// OTHER_ERROR (16) makes Spectrum 2 log the user in again (LOGOUT then
    /// LOGIN, at most 3 times); other codes are final. While retrying,
    /// nothing is sent: Spectrum 2 would end the session.
    ///
    /// ```
    /// use spectrum_backend::gateway::link::LinkState;
    /// use spectrum_backend::proto::Payload;
    ///
    /// let up = LinkState::Up.frame("alice@example.org", "irc.example.net");
    /// assert!(matches!(up, Some(Payload::Connected(_))));
    /// ```
    pub fn frame(&self, user: &str, network: &str) -> Option<Payload> {
        match self {
            LinkState::Up => Some(Payload::Connected(proto::Connected {
                user: user.to_owned(),
            })),
            LinkState::GaveUp { code, .. } => Some(Payload::Disconnected(proto::Disconnected {
                user: user.to_owned(),
                error: *code as i32,
                message: Some(self.describe(network)),
            })),
            LinkState::Connecting { .. } | LinkState::Retrying { .. } | LinkState::Closed => None,
        }
    }

    /// A sentence for the user about this state of the link to `network`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spectrum_backend::gateway::link::LinkState;
    ///
    /// let state = LinkState::Retrying {
    ///     attempt: 2,
    ///     delay: Duration::from_secs(4),
    ///     reason: "connection reset".into(),
    /// };
    /// assert_eq!(
    ///     state.describe("irc.example.net"),
    ///     "Lost the connection to irc.example.net (connection reset); trying again in 4 s (2 failed tries so far)."
    /// );
    /// ```
    pub fn describe(&self, network: &str) -> String {
        match self {
            LinkState::Connecting { attempt: 1 } => format!("Connecting to {network}."),
            LinkState::Connecting { attempt } => {
                format!("Connecting to {network} (try {attempt}).")
            }
            LinkState::Up => format!("Connected to {network}."),
            LinkState::Retrying {
                attempt,
                delay,
                reason,
            } => {
                let tries = if *attempt == 1 {
                    "1 failed try so far".to_owned()
                } else {
                    format!("{attempt} failed tries so far")
                };
                format!(
                    "Lost the connection to {network} ({reason}); trying again in {} ({tries}).",
                    Seconds(*delay)
                )
            }
            LinkState::GaveUp { reason, .. } => {
                format!("Cannot connect to {network} ({reason}); gave up.")
            }
            LinkState::Closed => format!("Disconnected from {network}."),
        }
    }
}

/// A delay in whole seconds, or milliseconds below one second.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < Duration::from_secs(1) {
            write!(f, "{} ms", self.0.as_millis())
        } else {
            write!(f, "{} s", self.0.as_secs_f64().round())
        }
    }
}

/// Why a connection attempt failed; returned by the connect closure of
/// [`Link::spawn`](super::Link::spawn).
///
/// An [`std::io::Error`] converts into a retryable error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    code: ConnectionError,
    message: String,
    fatal: bool,
}

impl ConnectError {
    /// A failure that may pass (unreachable server, reset connection): try
    /// again after the backoff delay.
    pub fn retry(message: impl Into<String>) -> ConnectError {
        ConnectError {
            code: ConnectionError::NetworkError,
            message: message.into(),
            fatal: false,
        }
    }

    /// A failure that trying again cannot mend (wrong password, banned,
    /// invalid settings): give up at once with `code`.
    pub fn fatal(code: ConnectionError, message: impl Into<String>) -> ConnectError {
        ConnectError {
            code,
            message: message.into(),
            fatal: true,
        }
    }

    /// The DISCONNECTED code for this failure.
    pub fn code(&self) -> ConnectionError {
        self.code
    }

    /// The reason, for logs and for the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the link gives up at once.
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> ConnectError {
        ConnectError::retry(e.to_string())
    }
}

/// The link is closed or gave up; the item that could not be sent is given
/// back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the link to the legacy network is closed")]
pub struct LinkClosed<T>(pub T);

/// The link is not up (connecting, waiting to retry, closed or given up):
/// the item was not queued and is given back (see
/// [`LinkSender::send_if_up`](super::LinkSender::send_if_up)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the link to the legacy network is not up")]
pub struct NotUp<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_gave_up_map_to_connected_and_disconnected() {
        let user = "alice@example.org";
        assert_eq!(
            LinkState::Up.frame(user, "net"),
            Some(Payload::Connected(proto::Connected { user: user.into() }))
        );
        let gave_up = LinkState::GaveUp {
            code: ConnectionError::AuthenticationFailed,
            reason: "bad password".into(),
        };
        let Some(Payload::Disconnected(d)) = gave_up.frame(user, "net") else {
            panic!("expected DISCONNECTED");
        };
        assert_eq!(d.user, user);
        assert_eq!(d.error, 2);
        assert_eq!(
            d.message.as_deref(),
            Some("Cannot connect to net (bad password); gave up.")
        );
        for quiet in [
            LinkState::Connecting { attempt: 1 },
            LinkState::Retrying {
                attempt: 1,
                delay: Duration::from_millis(250),
                reason: "reset".into(),
            },
            LinkState::Closed,
        ] {
            assert_eq!(quiet.frame(user, "net"), None, "{quiet:?}");
        }
    }

    #[test]
    fn every_state_reads_as_a_sentence() {
        let retrying = LinkState::Retrying {
            attempt: 1,
            delay: Duration::from_millis(250),
            reason: "reset".into(),
        };
        assert_eq!(
            retrying.describe("net"),
            "Lost the connection to net (reset); trying again in 250 ms (1 failed try so far)."
        );
        assert_eq!(
            LinkState::Connecting { attempt: 3 }.describe("net"),
            "Connecting to net (try 3)."
        );
        assert_eq!(LinkState::Closed.describe("net"), "Disconnected from net.");
    }

    #[test]
    fn io_errors_are_retried_fatal_errors_are_not() {
        let e = ConnectError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!e.is_fatal());
        assert_eq!(e.code(), ConnectionError::NetworkError);
        let e = ConnectError::fatal(ConnectionError::NameInUse, "nick taken");
        assert!(e.is_fatal());
        assert_eq!(e.to_string(), "nick taken");
    }
}
