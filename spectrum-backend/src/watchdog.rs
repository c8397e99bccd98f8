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
//!
//! A poll past [`LIMIT`] is not always a handler holding the thread: on a
//! busy machine the system may have preempted the connection thread in the
//! middle of a poll of a few microseconds. Replacing it then helps nobody
//! (the new thread needs a CPU as much as the old one) and costs much: a
//! thread is started, and the session's handlers leave the connection
//! thread for the pool for a while. On a two-CPU machine under echo load
//! that happened about ten times a second. So, where the system says (on
//! Linux), the thread is replaced only when it waits in a system call (a
//! blocking handler) or has used [`TICK`] more CPU time within the same
//! poll (a handler that does not yield); a thread that only waits for a
//! CPU is left alone for up to [`PREEMPTED_LIMIT`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long one inline poll may hold the connection thread.
pub(crate) const LIMIT: Duration = Duration::from_millis(2);
/// How often the watchdog looks while handlers run inline.
const TICK: Duration = Duration::from_millis(1);
/// Ticks without an inline poll before the watchdog parks.
const IDLE_TICKS: u32 = 200;
/// How long a poll may last while its thread only waits for a CPU.
const PREEMPTED_LIMIT: Duration = Duration::from_millis(20);

pub(crate) struct Watch {
    /// The number of the inline poll running now; 0 when none runs.
    ///
    /// A number, not a start time: reading the clock for every poll cost
    /// more than the rest of the watch. The watchdog times a poll from when
    /// it first sees it, which errs by at most a tick, on the long side.
    running: AtomicU64,
    /// Inline polls started so far.
    polls: AtomicU64,
    epoch: AtomicU64,
    /// The system's id of the connection thread (0: unknown).
    tid: AtomicU64,
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
            running: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            tid: AtomicU64::new(0),
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

    /// Called by a connection thread as it starts serving: inline polls
    /// from now on run on the calling thread.
    pub(crate) fn serving_here(&self) {
        self.tid.store(thread_load::current_tid(), Ordering::SeqCst);
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
        let number = self.polls.fetch_add(1, Ordering::Relaxed) + 1;
        self.running.store(number, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
        let out = poll();
        self.running.store(0, Ordering::SeqCst);
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
        let mut idle = 0;
        let mut watched: Option<Watched> = None;
        while !self.stop.load(Ordering::SeqCst) {
            let running = self.running.load(Ordering::SeqCst);
            if running == 0 {
                idle += 1;
                watched = None;
            } else {
                idle = 0;
                let epoch = self.epoch.load(Ordering::SeqCst);
                let poll = match &mut watched {
                    Some(w) if w.poll == running => w,
                    other => other.insert(Watched {
                        poll: running,
                        seen: Instant::now(),
                        first_cpu: None,
                    }),
                };
                // The same poll still runs past the limit: replace its thread
                // if a handler holds it.
                if poll.seen.elapsed() >= LIMIT
                    && self.held_by_handler(poll)
                    && self.running.load(Ordering::SeqCst) == running
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
                if self.running.load(Ordering::SeqCst) == 0 && !self.stop.load(Ordering::SeqCst) {
                    std::thread::park();
                }
                self.parked.store(false, Ordering::SeqCst);
                idle = 0;
            } else {
                std::thread::sleep(TICK);
            }
        }
    }

    /// Whether the poll `poll`, past [`LIMIT`], holds its thread rather
    /// than waiting for a CPU.
    fn held_by_handler(&self, poll: &mut Watched) -> bool {
        let tid = self.tid.load(Ordering::SeqCst);
        let Some(load) = thread_load::read(tid) else {
            return true;
        };
        let first_cpu = *poll.first_cpu.get_or_insert(load.cpu_ns);
        held(&load, first_cpu, poll.seen.elapsed())
    }
}

/// What the watchdog knows of a poll it has seen running.
struct Watched {
    poll: u64,
    /// When the watchdog first saw it (it started at most a tick before).
    seen: Instant,
    /// Its thread's CPU time at the first look past [`LIMIT`].
    first_cpu: Option<u64>,
}

/// The rule of [`Watch::held_by_handler`]: `first_cpu` is the thread's CPU
/// time at the first look at this poll past [`LIMIT`], `elapsed` how long
/// the watchdog has seen the poll run.
fn held(load: &thread_load::Load, first_cpu: u64, elapsed: Duration) -> bool {
    !load.wants_cpu
        || load.cpu_ns.saturating_sub(first_cpu) >= TICK.as_nanos() as u64
        || elapsed >= PREEMPTED_LIMIT
}

/// What the system says of one of this process's threads.
mod thread_load {
    /// A thread's state, as far as the watchdog needs it.
    pub(super) struct Load {
        /// Running, or ready to run and waiting for a CPU; not waiting in
        /// a system call.
        pub(super) wants_cpu: bool,
        /// CPU time the thread has had, in nanoseconds.
        pub(super) cpu_ns: u64,
    }

    /// The calling thread's id for [`read`] (0 where unknown).
    #[cfg(target_os = "linux")]
    pub(super) fn current_tid() -> u64 {
        // `/proc/thread-self` links to `<pid>/task/<tid>`.
        std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|link| link.file_name()?.to_str()?.parse().ok())
            .unwrap_or(0)
    }

    /// What `/proc` says of thread `tid`; `None` where it cannot tell.
    #[cfg(target_os = "linux")]
    pub(super) fn read(tid: u64) -> Option<Load> {
        if tid == 0 {
            return None;
        }
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        let sched = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        parse(&stat, &sched)
    }

    /// Reads a thread's `stat` and `schedstat` files.
    pub(super) fn parse(stat: &str, schedstat: &str) -> Option<Load> {
        // The state follows the name, which is in parentheses and may hold
        // anything, parentheses included.
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        let cpu_ns = schedstat.split_whitespace().next()?.parse().ok()?;
        Some(Load {
            wants_cpu: state == "R",
            cpu_ns,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn current_tid() -> u64 {
        0
    }

    /// Elsewhere than on Linux the watchdog goes by time alone.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn read(_tid: u64) -> Option<Load> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_RUNNING: &str = "4242 (spectrum-io (x)) R 1 2 3 4 5 6 7";
    const STAT_SLEEPING: &str = "4242 (spectrum-io) S 1 2 3 4 5 6 7";

    #[test]
    fn reads_the_state_after_a_name_with_parentheses_and_the_cpu_time() {
        let load = thread_load::parse(STAT_RUNNING, "1500000 300 12\n").expect("parsed");
        assert!(load.wants_cpu);
        assert_eq!(load.cpu_ns, 1_500_000);
        let load = thread_load::parse(STAT_SLEEPING, "7 0 1").expect("parsed");
        assert!(!load.wants_cpu);
        assert!(thread_load::parse("garbage", "7 0 1").is_none());
        assert!(thread_load::parse(STAT_SLEEPING, "x").is_none());
    }

    #[test]
    fn a_thread_that_waits_in_a_system_call_is_held() {
        let load = thread_load::parse(STAT_SLEEPING, "1000 0 1").expect("parsed");
        assert!(held(&load, 1000, LIMIT));
    }

    #[test]
    fn a_thread_that_keeps_running_in_the_same_poll_is_held() {
        let load = thread_load::parse(STAT_RUNNING, "3000000 0 1").expect("parsed");
        assert!(held(&load, 1_000_000, LIMIT));
    }

    #[test]
    fn a_thread_that_only_waits_for_a_cpu_is_left_alone_for_a_while() {
        let load = thread_load::parse(STAT_RUNNING, "1200000 9000000 1").expect("parsed");
        assert!(!held(&load, 1_000_000, LIMIT * 2));
        assert!(held(&load, 1_000_000, PREEMPTED_LIMIT));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_system_describes_a_blocked_thread_and_a_running_one() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            let _ = tx.send(thread_load::current_tid());
            let _ = go_rx.recv();
        });
        let tid = rx.recv().expect("tid");
        assert_ne!(tid, 0);
        // The thread now waits in `recv`.
        let mut blocked = false;
        for _ in 0..200 {
            let load = thread_load::read(tid).expect("read");
            if !load.wants_cpu {
                blocked = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(blocked, "a thread blocked in recv was never seen waiting");
        let _ = go_tx.send(());
        let _ = sleeper.join();
        let me = thread_load::read(thread_load::current_tid()).expect("read");
        assert!(me.wants_cpu, "the reading thread runs");
        assert!(me.cpu_ns > 0);
    }
}
