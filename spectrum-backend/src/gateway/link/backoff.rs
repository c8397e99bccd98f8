//! How long to wait before each new try: jittered exponential backoff.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};

/// Delays between tries: `base`, doubling up to `max`, each stretched by a
/// random factor in `[1, 2)` when `jitter` is on (so that many sessions that
/// lost the same server do not come back at the same instant).
///
/// ```
/// use std::time::Duration;
/// use spectrum_backend::gateway::link::Backoff;
///
/// let backoff = Backoff {
///     base: Duration::from_secs(1),
///     max: Duration::from_secs(8),
///     attempts: Some(5),
///     jitter: false,
/// };
/// let delays: Vec<u64> = backoff.delays().map(|d| d.as_secs()).collect();
/// assert_eq!(delays, [1, 2, 4, 8, 8]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay before jitter.
    pub max: Duration,
    /// How many tries in a row may fail before giving up; `None` never
    /// gives up.
    pub attempts: Option<u32>,
    /// Stretch each delay by a random factor in `[1, 2)`.
    pub jitter: bool,
}

impl Default for Backoff {
    /// 1 s doubling up to 5 min, with jitter, giving up after 10 failures.
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            attempts: Some(10),
            jitter: true,
        }
    }
}

impl Backoff {
    /// The delays, one per failed try; the iterator ends when it is time to
    /// give up.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + Send + Sync + use<> {
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.max)
            .with_factor(2.0);
        builder = match self.attempts {
            Some(n) => builder.with_max_times(n as usize),
            None => builder.without_max_times(),
        };
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(attempts: Option<u32>, jitter: bool) -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            attempts,
            jitter,
        }
    }

    #[test]
    fn delays_double_up_to_the_maximum_then_stop() {
        let delays: Vec<u128> = backoff(Some(6), false)
            .delays()
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_between_the_delay_and_twice_it() {
        let plain: Vec<Duration> = backoff(Some(50), false).delays().collect();
        for _ in 0..20 {
            let jittered: Vec<Duration> = backoff(Some(50), true).delays().collect();
            assert_eq!(jittered.len(), plain.len());
            for (j, p) in jittered.iter().zip(&plain) {
                assert!(*j >= *p && *j < *p * 2, "{j:?} for {p:?}");
            }
        }
        // Not all the same: the point of jitter.
        let a: Vec<Duration> = backoff(Some(50), true).delays().collect();
        let b: Vec<Duration> = backoff(Some(50), true).delays().collect();
        assert_ne!(a, b);
    }

    #[test]
    fn without_a_limit_it_never_gives_up() {
        assert_eq!(backoff(None, true).delays().take(10_000).count(), 10_000);
        assert_eq!(backoff(Some(0), false).delays().count(), 0);
    }
}
