//! Keeps the connection served while a handler polled on the connection
//! thread does not return: after [`LIMIT`], a fresh thread becomes the
//! connection thread.
//!
//! A handler may block its thread (a synchronous legacy library) or never
//! yield. PONG must not wait for it: Spectrum 2 kills a backend that misses
//! one 20 s tick. Rather than answering PING from a second thread (which
//! would have to read the socket too, and leave every other user waiting),
//! the connection's state lives behind a lock that the connection thread
//! does not hold while it polls a handler, and the watchdog hands it to a
//! new thread: reading, PONG and every other user go on there. The old
//! thread, when its handler returns, gives the rest of the session's work
//! to the pool and ends. Each connection thread knows its *epoch*; the
//! watchdog moves the epoch on, so a thread finds out it was replaced by
//! comparing.
//!
//! While the replaced thread is held, handlers run on the pool (see
//! [`Watch::pool_only`]): blocking handlers hold one thread, not one each.
//!
//! The watchdog looks every millisecond while handlers run inline and
//! sleeps (parked) when none has for a while, so an idle backend costs no
//! wake-ups.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long one inline poll may hold the connection thread.
pub(crate) const LIMIT: Duration = Duration::from_millis(2);
/// How often the watchdog looks while handlers run inline.
const TICK: Duration = Duration::from_millis(1);
/// Ticks without an inline poll before the watchdog parks.
const IDLE_TICKS: u32 = 200;

pub(crate) struct Watch {
    base: Instant,
    /// When the inline poll running now started (nanoseconds since `base`,
    /// plus one); 0 when none runs.
    started: AtomicU64,
    epoch: AtomicU64,
    /// Threads replaced while in a handler, whose handler has not returned.
    held: AtomicUsize,
    parked: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Watch {
    /// Starts the watchdog; `replace(epoch)` must start a connection thread
    /// for that epoch.
    pub(crate) fn start(replace: impl Fn(u64) + Send + 'static) -> std::io::Result<Arc<Watch>> {
        let watch = Arc::new(Watch {
            base: Instant::now(),
            started: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        let w = Arc::clone(&watch);
        let handle = std::thread::Builder::new()
            .name("spectrum-watchdog".into())
            .spawn(move || w.run(replace))?;
        let _ = watch.thread.set(handle.thread().clone());
        Ok(watch)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether handlers should run on the pool rather than inline: while a
    /// replaced thread is still held by its handler.
    ///
    /// Handlers that block would otherwise hold one connection thread
    /// after the other, each for [`LIMIT`], back to back, with a PING
    /// waiting behind them all; and the threads they hold would add up. A
    /// thread replaced only because the system preempted it returns at
    /// once, and inline polling resumes with it.
    pub(crate) fn pool_only(&self) -> bool {
        self.held.load(Ordering::Acquire) > 0
    }

    /// Runs `poll` as an inline poll of the connection thread of `epoch`;
    /// its result, and whether this thread was replaced meanwhile (it is
    /// then no longer the connection thread).
    pub(crate) fn inline<T>(&self, epoch: u64, poll: impl FnOnce() -> T) -> (T, bool) {
        let now = self.base.elapsed().as_nanos() as u64 + 1;
        self.started.store(now, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
        let out = poll();
        self.started.store(0, Ordering::SeqCst);
        (out, self.epoch.load(Ordering::SeqCst) != epoch)
    }

    /// A replaced thread is done with its handler and ends.
    pub(crate) fn retire(&self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
    }

    /// Ends the watchdog (the connection is over).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    fn run(&self, replace: impl Fn(u64)) {
        let limit = LIMIT.as_nanos() as u64;
        let mut idle = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let started = self.started.load(Ordering::SeqCst);
            if started == 0 {
                idle += 1;
            } else {
                idle = 0;
                let epoch = self.epoch.load(Ordering::SeqCst);
                let now = self.base.elapsed().as_nanos() as u64 + 1;
                // The same poll still runs past the limit: replace its thread.
                if now.saturating_sub(started) > limit
                    && self.started.load(Ordering::SeqCst) == started
                    && self
                        .epoch
                        .compare_exchange(epoch, epoch + 1, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                {
                    self.held.fetch_add(1, Ordering::AcqRel);
                    tracing::debug!(
                        "a handler held the connection thread for over {LIMIT:?}: \
                         a new thread serves the connection"
                    );
                    replace(epoch + 1);
                }
            }
            if idle > IDLE_TICKS {
                self.parked.store(true, Ordering::SeqCst);
                if self.started.load(Ordering::SeqCst) == 0 && !self.stop.load(Ordering::SeqCst) {
                    std::thread::park();
                }
                self.parked.store(false, Ordering::SeqCst);
                idle = 0;
            } else {
                std::thread::sleep(TICK);
            }
        }
    }
}
