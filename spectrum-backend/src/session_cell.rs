//! One session between events: its backend value at rest, the input
//! queued while a handler runs, and the bounds on queued input.
//!
//! A session has no task of its own. At rest it is this cell (its value,
//! an empty queue) and its `Ctx`: an event for an idle session takes the
//! value out and runs the handler; events that arrive while one runs wait
//! in the queue, and whoever runs the session (the connection thread, or
//! a pool task once a handler did not finish at once) drains it in order
//! before putting the value back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use spectrum_proto as proto;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::bell::Bell;
use crate::events::Event;

/// Bytes of input queued for every session together.
pub(crate) struct Budget {
    used: AtomicUsize,
    /// The reader waits for room: tell it when some is made.
    waiting: AtomicBool,
    bell: Arc<Bell>,
}

impl Budget {
    pub(crate) fn new(bell: Arc<Bell>) -> Self {
        Budget {
            used: AtomicUsize::new(0),
            waiting: AtomicBool::new(false),
            bell,
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Whether the reader waits for room (and wants to be rung).
    pub(crate) fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Release);
    }

    /// Takes `cost` bytes; released when the ticket drops.
    pub(crate) fn take(self: &Arc<Self>, cost: usize) -> Ticket {
        self.used.fetch_add(cost, Ordering::AcqRel);
        Ticket {
            cost,
            budget: Arc::clone(self),
        }
    }
}

/// The memory one queued event holds; released when the event leaves the
/// queue, or is dropped with it.
pub(crate) struct Ticket {
    cost: usize,
    budget: Arc<Budget>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.cost, Ordering::AcqRel);
        if self.budget.waiting.load(Ordering::Acquire) {
            self.budget.bell.ring();
        }
    }
}

/// What a session's queue carries; boxed so an idle queue stays small.
pub(crate) enum SessionMsg {
    Event(Box<Event>, Ticket),
    /// The logout, and whether it is part of a shutdown (logged quietly:
    /// thousands of sessions must not mean thousands of lines).
    Logout(Box<proto::Logout>, bool),
}

pub(crate) struct Cell<B> {
    state: Mutex<State<B>>,
    /// Set once: the session is over (ended by itself, or stopped).
    finished: AtomicBool,
    pub(crate) generation: u64,
}

pub(crate) struct State<B> {
    /// The backend value while no handler runs.
    pub(crate) session: Option<B>,
    /// Input that arrived while a handler ran, in order.
    pub(crate) queue: VecDeque<SessionMsg>,
    /// Queued input in bytes (frame length plus overhead).
    pub(crate) bytes: usize,
    /// Someone runs the session (login, a handler, or the drain after it).
    pub(crate) running: bool,
    /// The session ended or was stopped: nothing more is queued.
    pub(crate) closed: bool,
    /// A handler of this session held the connection thread past the
    /// watchdog's limit: its handlers run on the pool until then. Not for
    /// good: a thread preempted by a busy system looks the same.
    pub(crate) blocks_until: Option<Instant>,
    /// The pool task running the session, to stop it if it must.
    pub(crate) task: Option<AbortHandle>,
    /// A new session of the same user waits for this one to end.
    pub(crate) waiter: Option<oneshot::Sender<()>>,
}

/// What a session does after an event.
pub(crate) enum Next<B> {
    /// Handle this queued input next.
    Input(B, SessionMsg),
    /// Nothing queued: the session is at rest in its cell.
    Rested,
    /// The session was stopped meanwhile: drop it.
    Closed(B),
}

/// How long a session whose handler held the connection thread runs on
/// the pool.
const BLOCKS_FOR: Duration = Duration::from_secs(1);

impl<B> State<B> {
    /// Whether this session's handlers run on the pool for now.
    pub(crate) fn pool_only(&self) -> bool {
        self.blocks_until.is_some_and(|t| Instant::now() < t)
    }
}

/// A capacity kept for reuse when the queue empties; beyond it, a burst's
/// memory is given back.
const KEEP: usize = 8;

impl<B> Cell<B> {
    /// A cell for a session that is logging in (so: running).
    pub(crate) fn logging_in(generation: u64) -> Self {
        Cell {
            state: Mutex::new(State {
                session: None,
                queue: VecDeque::new(),
                bytes: 0,
                running: true,
                closed: false,
                blocks_until: None,
                task: None,
                waiter: None,
            }),
            finished: AtomicBool::new(false),
            generation,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<B>> {
        crate::locks::lock(&self.state)
    }

    /// The next queued input with `session`, or `session` put back to rest.
    pub(crate) fn next_or_rest(&self, session: B) -> Next<B> {
        let mut st = self.lock();
        if st.closed {
            return Next::Closed(session);
        }
        match st.queue.pop_front() {
            Some(msg) => {
                if let SessionMsg::Event(_, ticket) = &msg {
                    st.bytes -= ticket.cost;
                }
                Next::Input(session, msg)
            }
            None => {
                if st.queue.capacity() > KEEP {
                    st.queue = VecDeque::new();
                }
                st.session = Some(session);
                st.running = false;
                st.task = None;
                Next::Rested
            }
        }
    }

    /// Closes the cell: what is queued is returned, nothing more is taken.
    /// True the first time the session is found over (to count it once).
    pub(crate) fn close(&self) -> (VecDeque<SessionMsg>, Option<AbortHandle>, bool) {
        let mut st = self.lock();
        st.closed = true;
        st.bytes = 0;
        let queue = std::mem::take(&mut st.queue);
        let task = st.task.take();
        let session = st.session.take();
        // Under the lock: `when_finished` looks under it too.
        let first = !self.finished.swap(true, Ordering::AcqRel);
        if let Some(waiter) = st.waiter.take() {
            let _ = waiter.send(());
        }
        drop(st);
        drop(session);
        (queue, task, first)
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Resolves when the session is over; `None` if it is already.
    pub(crate) fn when_finished(&self) -> Option<oneshot::Receiver<()>> {
        let mut st = self.lock();
        if self.is_finished() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        st.waiter = Some(tx);
        Some(rx)
    }

    /// The job the connection ran for this session continues as a pool
    /// task.
    pub(crate) fn spawned(&self, task: AbortHandle) {
        let mut st = self.lock();
        // Not if the task has already put the session to rest.
        if st.running && !st.closed {
            st.task = Some(task);
        }
    }

    /// The session's handler held the connection thread past the
    /// watchdog's limit.
    pub(crate) fn held_the_thread(&self) {
        self.lock().blocks_until = Some(Instant::now() + BLOCKS_FOR);
    }
}
