//! A supervised connection to a legacy network.
//!
//! [`Link::spawn`] runs a task that opens the connection with a connect
//! closure (plain TCP, TLS, a login handshake: whatever returns an
//! `AsyncRead + AsyncWrite`), frames it with a codec ([`LineCodec`] for line
//! protocols), and when the connection fails or drops, tries again after a
//! jittered exponential [`Backoff`] until it gives up. The owner sees every
//! [`LinkState`] in order with the input ([`Link::next`]) and maps it to
//! CONNECTED / DISCONNECTED and to a sentence for the user
//! ([`LinkState::frame`], [`LinkState::describe`]); another task gets every
//! transition too from [`Link::states`] (what
//! [`Ctx::follow_link`](crate::Ctx::follow_link) reports).
//!
//! A login inside the connect step reads and writes lines with
//! [`Handshake`], which hands the connection to the link with nothing lost.
//! A network with several servers tries them in turn with [`Endpoints`];
//! [`LinkSettings::keepalive`] and [`LinkSettings::idle_timeout`] find a
//! connection whose peer vanished without closing it.
//!
//! A network that is no byte stream (an HTTP long-poll) keeps the same
//! backoff and states with [`Retries`] around its own loop.
//!
//! Everything is bounded: the send queue ([`Link::send`] waits while it is
//! full, so a peer that stops reading slows the sender down instead of
//! growing memory), the input queue (a slow owner stops the reading), and
//! input lines ([`LineCodec`] skips an over-long line as it arrives).
//!
//! ```no_run
//! use spectrum_backend::gateway::link::{Line, LineCodec, Link, LinkEvent, LinkSettings, LinkState};
//! use tokio::net::TcpStream;
//!
//! # async fn run() {
//! let settings = LinkSettings::new("irc.example.net:6667");
//! let mut link = Link::spawn(settings, LineCodec::new(8192), || async {
//!     let stream = TcpStream::connect("irc.example.net:6667").await?;
//!     Ok(stream)
//! });
//! while let Some(event) = link.next().await {
//!     match event {
//!         LinkEvent::State(LinkState::Up) => {
//!             link.send("NICK alice".to_owned()).await.ok();
//!         }
//!         LinkEvent::State(state) => println!("{}", state.describe("irc.example.net")),
//!         LinkEvent::Received(Line::Text(line)) => println!("{line:?}"),
//!         LinkEvent::Received(Line::TooLong) => {}
//!     }
//! }
//! # }
//! ```

mod backoff;
mod endpoints;
mod handshake;
mod lines;
mod retries;
mod state;
mod supervisor;
mod transitions;

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use endpoints::Endpoints;
pub use handshake::{Connection, Handshake, Io};
pub use lines::{Line, LineCodec};
pub use retries::Retries;
pub use state::{ConnectError, LinkClosed, LinkState, NotUp};
pub use transitions::LinkStates;

/// How a [`Link`] behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSettings {
    /// The network's name, for logs.
    pub name: String,
    /// Delays between tries, and when to give up.
    pub backoff: Backoff,
    /// How long one try (the connect closure) may take.
    pub connect_timeout: Duration,
    /// A connection that lasted this long resets the backoff when it ends.
    pub stable_after: Duration,
    /// How many items [`Link::send`] queues before it waits.
    pub send_queue: usize,
    /// How many events wait for [`Link::next`] before reading stops.
    pub receive_queue: usize,
    /// How long [`Link::close`] waits for the queue to be written.
    pub close_timeout: Duration,
    /// A connection on which nothing arrives for this long counts as lost
    /// (a peer gone without closing it: no FIN ever comes). The owner keeps
    /// a healthy one talking, e.g. with the protocol's own PING
    /// ([`LinkSettings::keepalive`]). `None` waits forever.
    pub idle_timeout: Option<Duration>,
    /// What to write when the peer has been silent for a while, so that a
    /// healthy one answers before the idle timeout; `None` writes nothing.
    pub keepalive: Option<Keepalive>,
}

/// A frame written, as it is (not through the codec), on a connection on
/// which nothing arrived for [`Keepalive::every`], and again every such
/// period while the silence lasts: IRC's `PING`, a WebSocket ping, a
/// protocol's no-op.
///
/// ```
/// use std::time::Duration;
/// use spectrum_backend::gateway::link::{Keepalive, LinkSettings};
///
/// let mut settings = LinkSettings::new("irc.example.net");
/// settings.keepalive = Some(Keepalive::new(Duration::from_secs(120), "PING :keepalive\r\n"));
/// // Two keepalives unanswered: the connection is lost.
/// settings.idle_timeout = Some(Duration::from_secs(240));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// How long a silence lasts before the frame is written.
    pub every: Duration,
    /// The bytes written, terminator included.
    pub frame: Bytes,
}

impl Keepalive {
    /// Writes `frame` after `every` of silence (`every` is at least 1 ms).
    pub fn new(every: Duration, frame: impl Into<Bytes>) -> Keepalive {
        Keepalive {
            every: every.max(Duration::from_millis(1)),
            frame: frame.into(),
        }
    }
}

impl LinkSettings {
    /// Defaults for a link named `name`: the default [`Backoff`], 30 s per
    /// try, stable after 60 s, 64 items queued each way, 5 s to close, no
    /// idle timeout, no keepalive.
    pub fn new(name: impl Into<String>) -> LinkSettings {
        LinkSettings {
            name: name.into(),
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            send_queue: 64,
            receive_queue: 64,
            close_timeout: Duration::from_secs(5),
            idle_timeout: None,
            keepalive: None,
        }
    }

    /// Writes `frame` after `every` of silence ([`Keepalive`]) and counts
    /// the connection as lost after two periods without anything received
    /// (two keepalives unanswered: [`LinkSettings::idle_timeout`]). A zero
    /// `every` turns both off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spectrum_backend::gateway::link::LinkSettings;
    ///
    /// let settings = LinkSettings::new("irc.example.net")
    ///     .keepalive(Duration::from_secs(90), "PING :keepalive\r\n");
    /// assert_eq!(settings.idle_timeout, Some(Duration::from_secs(180)));
    /// ```
    pub fn keepalive(mut self, every: Duration, frame: impl Into<Bytes>) -> LinkSettings {
        let on = !every.is_zero();
        self.keepalive = on.then(|| Keepalive::new(every, frame));
        self.idle_timeout = on.then(|| every.saturating_mul(2));
        self
    }
}

/// What a link reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent<In> {
    /// The link's state changed.
    State(LinkState),
    /// An item (a [`Line`] for [`LineCodec`]) arrived.
    Received(In),
}

/// A cloneable handle that sends on a [`Link`], e.g. from a handler while
/// the owner reads.
#[derive(Debug)]
pub struct LinkSender<Out> {
    tx: mpsc::Sender<Out>,
    state: watch::Receiver<LinkState>,
    close: CancellationToken,
    /// The item of [`LinkSender::close_with`], written after the queue.
    last: Arc<Mutex<Option<Out>>>,
}

impl<Out> Clone for LinkSender<Out> {
    fn clone(&self) -> Self {
        LinkSender {
            tx: self.tx.clone(),
            state: self.state.clone(),
            close: self.close.clone(),
            last: Arc::clone(&self.last),
        }
    }
}

impl<Out> LinkSender<Out> {
    /// Queues `item`; waits while the queue is full (the network is slow or
    /// not connected). Items queued while the link is down go out once it
    /// is up again; an item being written when the connection breaks is
    /// lost with it. Fails, giving the item back, once the link is closed
    /// or gave up.
    pub async fn send(&self, item: Out) -> Result<(), LinkClosed<Out>> {
        self.tx.send(item).await.map_err(|e| LinkClosed(e.0))
    }

    /// Queues `item` only while the link is up (waiting while the queue is
    /// full): a handler that cannot send now tells the user instead of
    /// waiting for a reconnect that may take minutes.
    pub async fn send_if_up(&self, item: Out) -> Result<(), NotUp<Out>> {
        if !self.is_up() {
            return Err(NotUp(item));
        }
        self.tx.send(item).await.map_err(|e| NotUp(e.0))
    }

    /// The link's current state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// Whether the link is up: items go out now.
    pub fn is_up(&self) -> bool {
        matches!(*self.state.borrow(), LinkState::Up)
    }

    /// Closes the link from the sending side (a logout that queued its
    /// goodbye): what is queued is written first, then the connection
    /// closes and the owner's [`Link::next`] sees `Closed`, then the end.
    /// Returns at once; unlike [`Link::close`] nothing bounds the writing,
    /// so the owner still decides how long to wait (dropping the
    /// [`Link`] stops it).
    pub fn close(&self) {
        self.close.cancel();
    }

    /// Closes the link with a last item (a QUIT, the end of a stream):
    /// what is queued is written, then `last`, then the connection closes,
    /// as with [`LinkSender::close`]. Unlike [`LinkSender::send`] followed
    /// by `close`, the link is closing before `last` is written, so a
    /// server that hangs up as soon as it reads it is not taken for a lost
    /// connection (reported to the user, and tried again). If the link is
    /// not connected, `last` is dropped with the queue.
    pub fn close_with(&self, last: Out) {
        *crate::locks::lock(&self.last) = Some(last);
        self.close.cancel();
    }

    /// Whether the link gave up or was closed: nothing will go out on it
    /// again, a new link is needed.
    pub fn is_gone(&self) -> bool {
        matches!(
            *self.state.borrow(),
            LinkState::GaveUp { .. } | LinkState::Closed
        )
    }
}

/// A supervised connection; see the [module](self) documentation.
///
/// Dropping it stops the connection at once; [`Link::close`] writes what is
/// queued first.
#[derive(Debug)]
pub struct Link<In, Out> {
    sender: LinkSender<Out>,
    events: mpsc::Receiver<LinkEvent<In>>,
    state: watch::Receiver<LinkState>,
    transitions: watch::Receiver<transitions::History>,
    close: CancellationToken,
    close_timeout: Duration,
    task: Option<JoinHandle<()>>,
}

impl<In, Out> Link<In, Out>
where
    In: Send + 'static,
    Out: Send + 'static,
{
    /// Starts the link's task (on the current tokio runtime): it calls
    /// `connect` for every try and frames the connection with `codec`.
    ///
    /// `connect` returns a [`ConnectError`] (an `io::Error` converts with
    /// `?`): [`ConnectError::fatal`] gives up at once, anything else is
    /// tried again after the backoff delay.
    pub fn spawn<C, T, F, Fut>(settings: LinkSettings, codec: C, connect: F) -> Link<In, Out>
    where
        C: Decoder<Item = In> + Encoder<Out> + Clone + Send + 'static,
        <C as Decoder>::Error: Display,
        <C as Encoder<Out>>::Error: Display,
        T: AsyncRead + AsyncWrite + Send + 'static,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ConnectError>> + Send + 'static,
    {
        let (tx, outgoing) = mpsc::channel(settings.send_queue.max(1));
        let (events_tx, events) = mpsc::channel(settings.receive_queue.max(1));
        let (state_tx, state) = watch::channel(LinkState::Connecting { attempt: 1 });
        let publisher = transitions::publisher();
        let transitions = publisher.subscribe();
        let close = CancellationToken::new();
        let last = Arc::new(Mutex::new(None));
        let close_timeout = settings.close_timeout;
        let ends = supervisor::Ends {
            outgoing,
            last: Arc::clone(&last),
            events: events_tx,
            state: state_tx,
            transitions: publisher,
            close: close.clone(),
        };
        let task = tokio::spawn(supervisor::supervise(settings, codec, connect, ends));
        Link {
            sender: LinkSender {
                tx,
                state: state.clone(),
                close: close.clone(),
                last,
            },
            events,
            state,
            transitions,
            close,
            close_timeout,
            task: Some(task),
        }
    }

    /// Queues `item`; see [`LinkSender::send`].
    pub async fn send(&self, item: Out) -> Result<(), LinkClosed<Out>> {
        self.sender.send(item).await
    }

    /// A handle for sending from elsewhere.
    pub fn sender(&self) -> LinkSender<Out> {
        self.sender.clone()
    }

    /// The next state change or input item; `None` once the link has
    /// closed or given up and everything before was read.
    pub async fn next(&mut self) -> Option<LinkEvent<In>> {
        self.events.recv().await
    }

    /// The current state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// A receiver that sees the latest state (intermediate ones may be
    /// skipped: a drop and a quick reconnect look like no change;
    /// [`Link::states`] and [`Link::next`] have them all).
    pub fn watch(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// Every state from now on, in order, for an observer other than the
    /// owner (e.g. [`Ctx::follow_link`](crate::Ctx::follow_link)): the
    /// current state first, then each transition.
    pub fn states(&self) -> LinkStates {
        LinkStates::new(self.transitions.clone())
    }

    /// Writes what is queued, closes the connection and stops trying; gives
    /// up on the queue after [`LinkSettings::close_timeout`].
    pub async fn close(mut self) {
        self.close.cancel();
        let Some(mut task) = self.task.take() else {
            return;
        };
        let events = &mut self.events;
        let finish = async {
            // Keep taking events, so that the task never waits to report
            // one; they end when the task does.
            while events.recv().await.is_some() {}
            let _ = (&mut task).await;
        };
        if tokio::time::timeout(self.close_timeout, finish)
            .await
            .is_err()
        {
            tracing::debug!("the link did not close in time; dropping the connection");
            task.abort();
        }
    }
}

impl<In, Out> Drop for Link<In, Out> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
