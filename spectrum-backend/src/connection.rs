//! The connection to the main instance: read, route, poll handlers inline,
//! write; then the shutdown sequence. Runs on the connection thread (see
//! `watchdog` for how that thread is replaced when a handler holds it).
//!
//! Why not a tokio runtime for the socket: a socket registered with a
//! runtime is driven by that runtime's thread, and the connection thread
//! may be stuck in a handler; with `mio` the readiness queue and the socket
//! are plain values that any thread holding the connection's lock can
//! wait on. Handlers, timers in handlers, and every other task stay on the
//! pool's tokio runtime, which connection threads enter.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use spectrum_proto::{self as proto, FrameCodec, Payload};
use tokio::sync::oneshot;
use tokio_util::codec::Decoder as _;

use crate::backend_ctx::BackendCtx;
use crate::bell::Bell;
use crate::events::{Event, into_event};
use crate::handler::Backend;
use crate::outbox::{self, Inbox, Outbox, WriterConfig};
use crate::runner::{Job, Runner, on_pool};
use crate::session::{Limits, Routed, Sessions};
use crate::socket::Socket;
use crate::watchdog::Watch;
use crate::{Config, RunError, stats};

/// Replies are written when the input read so far is used up, or once
/// the first of them has waited this long behind the frames after it.
///
/// Time rather than a count of frames: writing after a fixed number of
/// frames splits the replies to one read into several writes, and a main
/// instance that sends as replies come back then sends in small pieces
/// too, so both sides make more system calls per message for as long as
/// the load lasts. A deadline writes once per read when frames are handled
/// quickly, and still bounds the wait of the first reply to a long burst.
const HOLD_REPLIES: Duration = Duration::from_micros(200);
/// While frames are handled, what has arrived since is read (for its
/// PINGs) this often: a PING waits about this long, whatever is in front.
const READ_AHEAD_AFTER: Duration = Duration::from_micros(100);
/// The clock is looked at every this many frames (a frame takes about a
/// microsecond; the clock, a few dozen nanoseconds).
const CLOCK_EVERY: usize = 4;
/// Input read ahead in the middle of a read's frames (to answer its PINGs)
/// only while less than this is waiting to be decoded.
const READ_AHEAD: usize = 64 * 1024;
/// How often a paused reader looks again for room in the queues.
const RETRY: Duration = Duration::from_millis(50);
/// After the last frame is written at shutdown, how long input is still read
/// (and discarded) waiting for the main instance to close its side.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What the connection needs from the runtime's builder.
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) backend_id: Option<String>,
    pub(crate) state:
        std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any + Send + Sync>>,
    pub(crate) config_text: String,
    pub(crate) max_frame_length: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) limits: Limits,
    pub(crate) keepalive: Duration,
}

/// What connection threads share: the connection behind its lock.
struct Shared<B> {
    core: Mutex<Core<B>>,
    watch: std::sync::OnceLock<Arc<Watch>>,
    pool: tokio::runtime::Handle,
    span: tracing::Span,
}

/// Input held while reading is paused.
enum Pending {
    /// An event waiting for room in the queues, and its frame length.
    Event(Box<Event>, usize),
    /// The runtime's own answers (to a frame no session takes, to a user
    /// whose session it stopped), waiting for room in the outbox.
    Answers(Vec<Payload>),
}

/// Where the connection is in its life.
enum Phase {
    Serving,
    /// Every session was told to log out; waiting for them until then.
    LoggingOut(Instant),
    /// `B::exit` runs on the pool.
    Exiting(
        Instant,
        oneshot::Receiver<Result<crate::Result<()>, String>>,
    ),
    /// Writing the last frames until then.
    Flushing(Instant),
    /// Reading and dropping input until the main instance closes, or then.
    Draining(Instant),
    Done,
}

struct Core<B> {
    socket: Socket,
    codec: FrameCodec,
    /// Frames handled since the last read.
    handled: usize,
    /// When replies held since the last write must leave (see
    /// [`HOLD_REPLIES`]).
    flush_at: Instant,
    /// When to read ahead (see [`Core::read_ahead`]) next.
    read_ahead_at: Instant,
    /// Write before handling the next frame.
    flush_due: bool,
    /// Read ahead before handling the next frame.
    read_ahead_due: bool,
    /// Where, in the input, the frames not yet looked at for PINGs start.
    scanned: usize,
    /// PINGs answered when they were read, ahead of the frames in front of
    /// them, and not decoded yet.
    pongs_ahead: usize,
    out: Outbox,
    inbox: Inbox,
    bell: Arc<Bell>,
    writer: WriterConfig,
    sessions: Sessions<B>,
    backend: BackendCtx,
    settings_grace: Duration,
    keepalive: Duration,
    config_text: String,
    announced: bool,
    pending: Option<Pending>,
    /// Reading is paused: `pending` waits for room.
    paused: bool,
    retry_at: Instant,
    phase: Phase,
    signalled: Arc<std::sync::atomic::AtomicBool>,
    signals: Option<tokio::task::JoinHandle<()>>,
    corrupt: Option<proto::CorruptStream>,
    stopping: Option<(Instant, usize)>,
    report: Option<crate::session::ShutdownReport>,
    done: Option<oneshot::Sender<Result<(), RunError>>>,
}

/// Serves the main instance over `stream` until the end of the connection;
/// resolves with its outcome. `pool` runs sessions that do not finish
/// inline, and everything handlers spawn.
pub(crate) async fn serve<B: Backend>(
    stream: std::net::TcpStream,
    settings: Settings,
    pool: tokio::runtime::Handle,
    span: tracing::Span,
) -> Result<(), RunError> {
    let (done_tx, done_rx) = oneshot::channel();
    let shared = start::<B>(stream, settings, pool, span, done_tx)?;
    let outcome = done_rx.await.unwrap_or_else(|_| {
        Err(RunError::Io(std::io::Error::other(
            "the connection thread panicked",
        )))
    });
    drop(shared);
    outcome
}

fn start<B: Backend>(
    stream: std::net::TcpStream,
    settings: Settings,
    pool: tokio::runtime::Handle,
    span: tracing::Span,
    done: oneshot::Sender<Result<(), RunError>>,
) -> Result<Arc<Shared<B>>, RunError> {
    let (socket, bell) = Socket::new(stream).map_err(RunError::Io)?;
    let init_res = stats::memory_kib().0;
    for line in settings.config.lossy_lines() {
        tracing::warn!(
            line,
            "the config file is not UTF-8 at this line; read with replacement characters"
        );
    }
    let (out, inbox) = outbox::channel(settings.max_frame_length, Arc::clone(&bell));
    let backend = BackendCtx::new(
        settings.config,
        settings.backend_id,
        settings.state,
        out.clone(),
    );
    let sessions = Sessions::<B>::new(backend.clone(), settings.limits, Arc::clone(&bell));
    let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = {
        let _pool = pool.enter();
        let mut signals = crate::signals::Signals::new();
        let (flag, bell) = (Arc::clone(&signalled), Arc::clone(&bell));
        pool.spawn(async move {
            signals.recv().await;
            flag.store(true, std::sync::atomic::Ordering::Release);
            bell.ring();
        })
    };
    let now = Instant::now();
    let core = Core {
        socket,
        codec: FrameCodec::with_max_frame_length(settings.max_frame_length),
        handled: 0,
        flush_at: now,
        read_ahead_at: now,
        flush_due: false,
        read_ahead_due: false,
        scanned: 0,
        pongs_ahead: 0,
        out,
        inbox,
        bell,
        writer: WriterConfig {
            init_res,
            max_frame_length: settings.max_frame_length,
        },
        sessions,
        backend,
        settings_grace: settings.shutdown_grace,
        keepalive: settings.keepalive,
        config_text: settings.config_text,
        announced: false,
        pending: None,
        paused: false,
        retry_at: now,
        phase: Phase::Serving,
        signalled,
        signals: Some(signals),
        corrupt: None,
        stopping: None,
        report: None,
        done: Some(done),
    };
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        watch: std::sync::OnceLock::new(),
        pool,
        span,
    });
    let weak = Arc::downgrade(&shared);
    let watch = Watch::start(move |epoch| {
        if let Some(shared) = weak.upgrade()
            && let Err(e) = spawn_thread(shared, epoch)
        {
            tracing::error!("cannot start a connection thread: {e}");
        }
    })
    .map_err(RunError::Io)?;
    let _ = shared.watch.set(watch);
    spawn_thread(Arc::clone(&shared), 0).map_err(RunError::Io)?;
    Ok(shared)
}

fn spawn_thread<B: Backend>(shared: Arc<Shared<B>>, epoch: u64) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("spectrum-io".into())
        .spawn(move || connection_thread(&shared, epoch))?;
    Ok(())
}

impl<B> Shared<B> {
    fn lock(&self) -> MutexGuard<'_, Core<B>> {
        crate::locks::lock(&self.core)
    }

    fn watch(&self) -> &Watch {
        self.watch
            .get()
            .expect("set before the first thread starts")
    }
}

/// The life of one connection thread: it serves until the connection
/// ends, or until the watchdog replaces it while it polls a handler.
fn connection_thread<B: Backend>(shared: &Shared<B>, epoch: u64) {
    let _pool = shared.pool.enter();
    let _span = shared.span.enter();
    let watch = shared.watch();
    let mut core = shared.lock();
    watch.serving_here();
    loop {
        if watch.epoch() != epoch {
            // Replaced without having noticed in a handler (it returned
            // just as the watchdog acted).
            drop(core);
            watch.retire();
            return;
        }
        if let Some(job) = core.sessions.take_job() {
            let mut runner = core.sessions.take_runner();
            drop(core);
            if run(shared, job, &mut *runner, epoch) {
                watch.retire();
                return;
            }
            core = shared.lock();
            core.sessions.keep_runner(runner);
            continue;
        }
        if !core.advance() {
            watch.stop();
            if let Some(signals) = core.signals.take() {
                signals.abort();
            }
            let outcome = match core.corrupt.take() {
                Some(c) => Err(RunError::CorruptStream(c)),
                None => Ok(()),
            };
            if let Some(done) = core.done.take() {
                let _ = done.send(outcome);
            }
            return;
        }
    }
}

/// Runs a session's job: polled here, inline, unless its handlers run on
/// the pool; on the pool if it does not finish. True if this thread was
/// replaced meanwhile.
fn run<B: Backend>(
    shared: &Shared<B>,
    job: Job<B>,
    runner: &mut dyn Runner<B>,
    epoch: u64,
) -> bool {
    let watch = shared.watch();
    if job.pool_only || watch.pool_only() {
        job.spawn(&shared.pool, runner.tally());
        return false;
    }
    let (ctx, cell) = (job.ctx.clone(), Arc::clone(&job.cell));
    let (finished, replaced) = watch.inline(epoch, || runner.poll(job, &ctx));
    if replaced {
        cell.held_the_thread();
    }
    if !finished && let Some(session) = runner.unfinished() {
        on_pool(&shared.pool, session, &ctx, &cell);
    }
    replaced
}

impl<B: Backend> Core<B> {
    /// One step of the connection's life; false once it is over.
    fn advance(&mut self) -> bool {
        self.sessions.forget_ended();
        match &mut self.phase {
            Phase::Serving => self.serve(),
            Phase::LoggingOut(deadline) => {
                let deadline = *deadline;
                self.flush();
                if self.sessions.live() == 0 || Instant::now() >= deadline {
                    self.report = Some(self.sessions.abandon());
                    let backend = self.backend.clone();
                    let (tx, rx) = oneshot::channel();
                    let bell = Arc::clone(&self.bell);
                    tokio::spawn(async move {
                        use futures_util::FutureExt as _;
                        let result = std::panic::AssertUnwindSafe(B::exit(&backend)).catch_unwind();
                        let result = result
                            .await
                            .map_err(|p| crate::session_run::panic_message(&*p));
                        let _ = tx.send(result);
                        bell.ring();
                    });
                    self.phase = Phase::Exiting(Instant::now() + self.settings_grace, rx);
                } else {
                    self.sleep(Some(deadline));
                }
            }
            Phase::Exiting(deadline, rx) => {
                let deadline = *deadline;
                let finished = match rx.try_recv() {
                    Ok(Ok(Ok(()))) => true,
                    Ok(Ok(Err(e))) => {
                        tracing::warn!("exit handler failed: {e}");
                        true
                    }
                    Ok(Err(e)) => {
                        tracing::error!("exit handler panicked: {e}");
                        true
                    }
                    Err(oneshot::error::TryRecvError::Closed) => true,
                    Err(oneshot::error::TryRecvError::Empty) => false,
                };
                self.flush();
                if finished || Instant::now() >= deadline {
                    if !finished {
                        tracing::warn!(
                            "exit handler still running after {:?}; not waiting",
                            self.settings_grace
                        );
                    }
                    self.out.close();
                    self.phase = Phase::Flushing(Instant::now() + self.settings_grace);
                } else {
                    self.sleep(Some(deadline));
                }
            }
            Phase::Flushing(deadline) => {
                let deadline = *deadline;
                self.flush();
                if self.socket.write_failed() {
                    self.phase = Phase::Done;
                } else if self.socket.written() && self.inbox.is_empty() {
                    self.inbox.gone();
                    let shut = self.socket.shutdown_write();
                    if !shut {
                        tracing::warn!("could not shut the connection down for writing");
                    }
                    // Our side is shut for writing. Closing with unread input
                    // would make the kernel answer with RST, and the main
                    // instance could lose the frames just written: read (and
                    // drop) until it closes its side.
                    self.phase = if shut && self.corrupt.is_none() {
                        Phase::Draining(Instant::now() + DRAIN_TIMEOUT)
                    } else {
                        Phase::Done
                    };
                } else if Instant::now() >= deadline {
                    tracing::warn!("the main instance did not take our last frames in time");
                    self.inbox.gone();
                    self.phase = Phase::Done;
                } else {
                    self.sleep(Some(deadline));
                }
            }
            Phase::Draining(deadline) => {
                let deadline = *deadline;
                match self.socket.read() {
                    Ok(0) => self.phase = Phase::Done,
                    Ok(_) => self.socket.input.clear(),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            tracing::debug!("the main instance kept its side open; closing");
                            self.phase = Phase::Done;
                        } else {
                            self.sleep(Some(deadline));
                        }
                    }
                    Err(_) => self.phase = Phase::Done,
                }
            }
            Phase::Done => {
                let report = self.report.take();
                let (started, count) = self.stopping.unwrap_or((Instant::now(), 0));
                tracing::info!(
                    sessions = count,
                    logged_out = report.as_ref().map_or(0, |r| r.logged_out),
                    abandoned = report.as_ref().map_or(0, |r| r.abandoned),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "stopped"
                );
                return false;
            }
        }
        true
    }

    /// One step while serving: a frame read, a write, a read, or a wait.
    fn serve(&mut self) {
        if self.signalled.load(std::sync::atomic::Ordering::Acquire) {
            return self.stop("a termination signal");
        }
        // Woken by input taken from the queues, or by the retry timer
        // (sessions that end free room too).
        self.retry_pending();
        if self.flush_due {
            self.flush_due = false;
            self.flush();
            self.flush_at = Instant::now() + HOLD_REPLIES;
        }
        if self.read_ahead_due {
            self.read_ahead_due = false;
            self.read_ahead();
        }
        if self.pending.is_none() {
            let before = self.socket.input.len();
            let decoded = self.codec.decode(&mut self.socket.input);
            self.scanned = self
                .scanned
                .saturating_sub(before - self.socket.input.len());
            match decoded {
                Ok(Some(frame)) => {
                    self.handled += 1;
                    if self.handled.is_multiple_of(CLOCK_EVERY) {
                        let now = Instant::now();
                        self.flush_due = now >= self.flush_at;
                        self.read_ahead_due = now >= self.read_ahead_at;
                    }
                    return self.frame(frame);
                }
                Ok(None) => {}
                Err(e) => return self.read_failed(e),
            }
        }
        self.flush();
        if self.pending.is_none() && self.socket.readable() {
            match self.socket.read() {
                Ok(n) if n > 0 => {
                    self.handled = 0;
                    let now = Instant::now();
                    self.flush_at = now + HOLD_REPLIES;
                    self.read_ahead_at = now + READ_AHEAD_AFTER;
                    self.answer_pings_ahead();
                }
                Ok(_) => {
                    if !self.socket.input.is_empty() {
                        tracing::warn!(
                            bytes = self.socket.input.len(),
                            "the main instance closed the connection in the middle of a frame"
                        );
                    }
                    self.stop("end of stream from the main instance");
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    tracing::error!("reading from the main instance failed: {e}");
                    self.stop("a read error");
                }
            }
            return;
        }
        let deadline = self
            .pending
            .is_some()
            .then(|| self.retry_at.min(self.socket.last_write + self.keepalive));
        self.sleep(deadline);
    }

    /// Answers the PINGs just read before the frames in front of them are
    /// handled, and writes the PONGs at once: a read holds hundreds of
    /// frames, and Spectrum 2 (and the figure of PONG under load) should not
    /// wait for their handlers. A PING names no user, so answering it early
    /// changes no user's order; its frame is skipped when it is decoded.
    fn answer_pings_ahead(&mut self) {
        let (pings, next) = self.codec.pings_ahead(&self.socket.input, self.scanned);
        self.scanned = next;
        if pings == 0 {
            return;
        }
        self.announce();
        for _ in 0..pings {
            self.out.pong();
        }
        self.pongs_ahead += pings;
        self.flush();
    }

    /// Reads, in the middle of a read's frames, what has arrived since, so
    /// that a PING behind them is answered now rather than after all of
    /// them; within [`READ_AHEAD`] bytes of undecoded input. The end of the
    /// stream or an error is left to the read after these frames.
    ///
    /// Tried whatever the socket was last known to be: readiness is only
    /// learnt while the thread waits, and it does not wait in the middle
    /// of a read's frames.
    fn read_ahead(&mut self) {
        self.read_ahead_at = Instant::now() + READ_AHEAD_AFTER;
        if self.pending.is_some() || self.socket.input.len() >= READ_AHEAD {
            return;
        }
        if let Ok(n) = self.socket.read()
            && n > 0
        {
            self.answer_pings_ahead();
        }
    }

    /// Sets BACKEND_CONFIG as the writer's preface, once, before the first
    /// PONG (as the reference backends do).
    fn announce(&mut self) {
        if self.announced {
            return;
        }
        self.announced = true;
        let payload = Payload::BackendConfig(proto::BackendConfig {
            config: self.config_text.clone(),
        });
        if let Err(e) = self.out.preface(&payload) {
            tracing::warn!("could not queue BACKEND_CONFIG: {e}");
        }
    }

    fn read_failed(&mut self, e: std::io::Error) {
        if let Some(c) = e
            .get_ref()
            .and_then(|e| e.downcast_ref::<proto::CorruptStream>())
        {
            tracing::error!(
                "{c}: the stream from the main instance is out of step; exiting so that Spectrum 2 starts a new backend"
            );
            self.corrupt = Some(c.clone());
            return self.stop("a corrupt stream");
        }
        tracing::error!("reading from the main instance failed: {e}");
        self.stop("a read error");
    }

    /// Writes what is owed and queued, as far as the socket takes it.
    fn flush(&mut self) {
        let keepalive =
            self.pending.is_some() && Instant::now() >= self.socket.last_write + self.keepalive;
        self.socket.flush(&mut self.inbox, &self.writer, keepalive);
    }

    fn sleep(&mut self, deadline: Option<Instant>) {
        self.socket.sleep(deadline);
    }

    fn stop(&mut self, reason: &'static str) {
        self.pending = None;
        self.sessions.budget().set_waiting(false);
        let count = self.sessions.len();
        self.stopping = Some((Instant::now(), count));
        tracing::info!(sessions = count, "shutting down after {reason}");
        self.sessions.log_everyone_out();
        self.phase = Phase::LoggingOut(Instant::now() + self.settings_grace);
    }

    /// Handles one decoded frame.
    fn frame(&mut self, frame: Result<proto::WrapperMessage, proto::FrameError>) {
        let wrapper = match frame {
            Ok(wrapper) => wrapper,
            Err(e) => {
                tracing::error!("bad frame from the main instance: {e}");
                return;
            }
        };
        self.announce();
        let type_number = wrapper.r#type;
        let len = wrapper.payload.as_ref().map_or(0, |p| p.len());
        let is_login = type_number == proto::MessageType::Login as i32;
        let raw = is_login.then(|| wrapper.payload.clone()).flatten();
        let payload = match Payload::from_wrapper(wrapper) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(
                    kind = %proto::TypeNumber(type_number),
                    len,
                    "dropping a frame from the main instance: {e}"
                );
                if is_login
                    && let Some(refusal) = refuse_login(raw.as_deref().unwrap_or_default(), &e)
                {
                    let waiting = self.answer(vec![refusal]);
                    self.hold(waiting);
                }
                return;
            }
        };
        tracing::debug!(kind = %proto::TypeNumber(type_number), len, "in");
        match payload {
            // Answered when it was read (see `answer_pings_ahead`).
            Payload::Ping if self.pongs_ahead > 0 => self.pongs_ahead -= 1,
            Payload::Ping => {
                self.out.pong();
                // At once, ahead of any reply still to come from this read.
                self.flush();
            }
            Payload::Exit => self.stop("EXIT from the main instance"),
            Payload::Login(login) => self.sessions.login(login),
            Payload::Logout(logout) => {
                if !self.sessions.logout(logout) {
                    tracing::debug!("LOGOUT for a user without a session; nothing to do");
                }
            }
            Payload::Query(answer) => self.backend.answer_query(answer.config),
            Payload::ApiVersion(v) => {
                tracing::info!(version = v.version, "main instance API version")
            }
            // Boxed once here: an event is a few hundred bytes, and it is
            // moved a dozen times between here and its handler.
            other => match into_event(other) {
                Ok(event) => self.route(Box::new(event), len),
                Err(_) => {
                    tracing::warn!(
                        kind = %proto::TypeNumber(type_number),
                        len,
                        "the main instance sent a message type it should not; ignored"
                    );
                }
            },
        }
    }

    /// Routes the pending event if there is room; keeps it, with reading
    /// paused, if there is none. A user whose queue has stayed full for
    /// [`Limits::stuck_after`] while the main instance reads us is evicted
    /// instead: one slow handler may pause everyone, but not for longer than
    /// that.
    fn retry_pending(&mut self) {
        match self.pending.take() {
            Some(Pending::Event(event, len)) => self.route(event, len),
            Some(Pending::Answers(answers)) => {
                let waiting = self.answer(answers);
                self.hold(waiting);
            }
            None => {}
        }
    }

    /// Sends the runtime's own answers if the outbox has room; gives them
    /// back to be held (with reading paused) if not. Tasks waiting to send
    /// them would do too, but a main instance that sends without reading
    /// would make such tasks pile up without bound.
    fn answer(&mut self, answers: Vec<Payload>) -> Option<Pending> {
        if answers.is_empty() {
            return None;
        }
        match self.out.try_send_all(&answers) {
            Some(Ok(())) => None,
            Some(Err(e)) => {
                tracing::warn!("could not answer: {e}");
                None
            }
            None => Some(Pending::Answers(answers)),
        }
    }

    /// Routes `event` (of frame length `len`), or keeps it as the pending
    /// one (see [`Core::retry_pending`]).
    fn route(&mut self, event: Box<Event>, len: usize) {
        let waiting = match self.sessions.route(event, len) {
            Routed::Queued => None,
            Routed::NoSession(event) => {
                let answers = crate::session::orphan(*event).into_iter().collect();
                self.answer(answers)
            }
            Routed::UserFull(event, _) if self.out.is_backed_up() => {
                // Handlers wait for the main instance to read: not their fault.
                if let Some(user) = event.user().map(str::to_owned) {
                    self.sessions.not_stuck(&user);
                }
                Some(Pending::Event(event, len))
            }
            Routed::UserFull(event, since)
                if since.elapsed() >= self.sessions.limits().stuck_after =>
            {
                let stopped = event
                    .user()
                    .map(str::to_owned)
                    .and_then(|user| self.sessions.evict(&user));
                // The user hears that the session stopped before any answer
                // to the event, which it no longer takes.
                let answers = stopped
                    .into_iter()
                    .chain(crate::session::orphan(*event))
                    .collect();
                self.answer(answers)
            }
            Routed::UserFull(event, _) | Routed::TotalFull(event) => {
                Some(Pending::Event(event, len))
            }
        };
        self.hold(waiting);
    }

    /// Holds `waiting` (if any) with reading paused, or resumes reading.
    fn hold(&mut self, waiting: Option<Pending>) {
        let paused = waiting.is_some();
        self.sessions.budget().set_waiting(paused);
        if paused {
            self.retry_at = Instant::now() + RETRY;
        }
        if paused != self.paused {
            self.paused = paused;
            tracing::debug!(
                paused,
                "input queues full: reading from the main instance paused (or resumed)"
            );
        }
        self.pending = waiting;
    }
}

/// The answer to a LOGIN that could not be decoded, when its user can
/// still be read: Spectrum 2 would otherwise wait for one that never comes.
fn refuse_login(raw: &[u8], error: &proto::DecodeError) -> Option<Payload> {
    let Some((user, _legacy_name)) = proto::login_names_lossy(raw) else {
        tracing::warn!("undecodable LOGIN names no readable user; nobody to answer");
        return None;
    };
    tracing::warn!(%user, "LOGIN refused: {error}");
    let message = format!(
        "the backend could not read this login ({error}); \
         the password and legacy name must be UTF-8 text"
    );
    Some(Payload::Disconnected(proto::Disconnected {
        user,
        error: proto::ConnectionError::AuthenticationImpossible as i32,
        message: Some(message),
    }))
}
