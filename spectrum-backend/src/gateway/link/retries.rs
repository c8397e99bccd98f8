//! The bookkeeping of supervision, apart from any I/O: which try this is,
//! how long to wait after a failure, when to give up, and the
//! [`LinkState`] to report at each step.

use std::fmt;
use std::time::{Duration, Instant};

use spectrum_proto::ConnectionError;

use super::{Backoff, LinkSettings, LinkState};

/// Where a supervised loop stands between tries: which try this is, how
/// long to wait after a failure, when to give up, and the [`LinkState`] to
/// report at each step.
///
/// [`Link`](super::Link) uses it around a byte stream; a network that is
/// no stream (an HTTP long-poll, say) uses it around its own loop:
///
/// ```
/// use std::time::Duration;
/// use spectrum_backend::gateway::link::{Backoff, LinkState, Retries};
///
/// let backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(4), attempts: Some(2), jitter: false };
/// let mut retries = Retries::new(backoff, Duration::ZERO);
/// assert_eq!(retries.connecting(), LinkState::Connecting { attempt: 1 });
/// assert_eq!(retries.up(), Some(LinkState::Up));
/// assert_eq!(retries.up(), None); // still up: nothing new to report
/// let LinkState::Retrying { delay, .. } = retries.failed("timed out") else { panic!() };
/// assert_eq!(delay, Duration::from_secs(1));
/// assert!(matches!(retries.failed("timed out"), LinkState::Retrying { attempt: 2, .. }));
/// assert!(matches!(retries.failed("timed out"), LinkState::GaveUp { .. }));
/// ```
pub struct Retries {
    backoff: Backoff,
    stable_after: Duration,
    delays: Box<dyn Iterator<Item = Duration> + Send + Sync>,
    failures: u32,
    up_since: Option<Instant>,
}

impl fmt::Debug for Retries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retries")
            .field("backoff", &self.backoff)
            .field("stable_after", &self.stable_after)
            .field("failures", &self.failures)
            .field("up_since", &self.up_since)
            .finish_non_exhaustive()
    }
}

impl Retries {
    /// Tries spaced by `backoff`; a connection that stayed up for
    /// `stable_after` starts the count over when it fails (zero: every
    /// success does).
    pub fn new(backoff: Backoff, stable_after: Duration) -> Retries {
        Retries {
            delays: Box::new(backoff.delays()),
            backoff,
            stable_after,
            failures: 0,
            up_since: None,
        }
    }

    /// The backoff and stability of a [`LinkSettings`].
    pub fn from_settings(settings: &LinkSettings) -> Retries {
        Retries::new(settings.backoff.clone(), settings.stable_after)
    }

    /// The state to report when a try starts.
    pub fn connecting(&self) -> LinkState {
        LinkState::Connecting {
            attempt: self.failures + 1,
        }
    }

    /// A try succeeded: [`LinkState::Up`] if that is news, `None` if the
    /// link was up already (a long-poll that answered again).
    pub fn up(&mut self) -> Option<LinkState> {
        if self.up_since.is_some() {
            return None;
        }
        self.up_since = Some(Instant::now());
        Some(LinkState::Up)
    }

    /// Whether the last try succeeded and nothing failed since.
    pub fn is_up(&self) -> bool {
        self.up_since.is_some()
    }

    /// How many tries in a row have failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A try failed or the connection ended, because of `reason`:
    /// [`LinkState::Retrying`] with the delay to wait, or
    /// [`LinkState::GaveUp`] (NETWORK_ERROR) when the backoff is spent.
    pub fn failed(&mut self, reason: impl Into<String>) -> LinkState {
        if let Some(since) = self.up_since.take()
            && since.elapsed() >= self.stable_after
        {
            // A connection that held a while: start over.
            self.failures = 0;
            self.delays = Box::new(self.backoff.delays());
        }
        self.failures += 1;
        let reason = reason.into();
        match self.delays.next() {
            Some(delay) => LinkState::Retrying {
                attempt: self.failures,
                delay,
                reason,
            },
            None => LinkState::GaveUp {
                code: ConnectionError::NetworkError,
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(attempts: u32) -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(400),
            attempts: Some(attempts),
            jitter: false,
        }
    }

    fn delay(state: &LinkState) -> Option<u128> {
        match state {
            LinkState::Retrying { delay, .. } => Some(delay.as_millis()),
            _ => None,
        }
    }

    #[test]
    fn failures_back_off_then_give_up_with_the_last_reason() {
        let mut retries = Retries::new(backoff(3), Duration::from_secs(60));
        let delays: Vec<_> = (0..3).map(|_| delay(&retries.failed("down"))).collect();
        assert_eq!(delays, [Some(100), Some(200), Some(400)]);
        assert_eq!(retries.connecting(), LinkState::Connecting { attempt: 4 });
        assert_eq!(
            retries.failed("still down"),
            LinkState::GaveUp {
                code: ConnectionError::NetworkError,
                reason: "still down".into()
            }
        );
    }

    #[test]
    fn a_short_connection_keeps_counting_a_stable_one_starts_over() {
        let mut short = Retries::new(backoff(5), Duration::from_secs(60));
        short.failed("down");
        assert_eq!(short.up(), Some(LinkState::Up));
        assert!(short.is_up());
        assert_eq!(delay(&short.failed("dropped")), Some(200));
        assert_eq!(short.failures(), 2);

        let mut stable = Retries::new(backoff(5), Duration::ZERO);
        stable.failed("down");
        stable.failed("down");
        assert_eq!(stable.up(), Some(LinkState::Up));
        assert_eq!(stable.up(), None, "up already");
        assert_eq!(delay(&stable.failed("dropped")), Some(100));
        assert_eq!(stable.failures(), 1);
        assert!(!stable.is_up());
    }

    #[test]
    fn settings_give_the_backoff() {
        let mut settings = LinkSettings::new("net");
        settings.backoff = backoff(1);
        let mut retries = Retries::from_settings(&settings);
        assert_eq!(delay(&retries.failed("x")), Some(100));
        assert!(matches!(retries.failed("x"), LinkState::GaveUp { .. }));
    }
}
