//! The task behind a link: connect, pump both ways, retry with backoff.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Encoder, FramedRead};
use tokio_util::sync::CancellationToken;

use super::{ConnectError, Keepalive, LinkEvent, LinkSettings, LinkState, Retries, transitions};

/// The channels between the task and its [`Link`](super::Link).
pub(super) struct Ends<In, Out> {
    pub(super) outgoing: mpsc::Receiver<Out>,
    /// Written after `outgoing` when closing (`LinkSender::close_with`).
    pub(super) last: Arc<Mutex<Option<Out>>>,
    pub(super) events: mpsc::Sender<LinkEvent<In>>,
    pub(super) state: watch::Sender<LinkState>,
    pub(super) transitions: transitions::Publisher,
    pub(super) close: CancellationToken,
}

/// How one connection ended.
enum Ended {
    /// The owner closed the link (queued items were written first).
    Closed,
    /// The owner is gone: nobody to tell anything.
    OwnerGone,
    /// The connection broke.
    Lost(String),
    /// The reading stopped for a close; the writer is finishing.
    Closing,
}

impl<In, Out> Ends<In, Out> {
    /// Publishes `state`; false if the owner is gone.
    async fn publish(&self, state: LinkState) -> bool {
        self.state.send_replace(state.clone());
        transitions::publish(&self.transitions, state.clone());
        self.events.send(LinkEvent::State(state)).await.is_ok()
    }
}

/// Runs the link until it is closed, gives up, or its owner is gone.
pub(super) async fn supervise<C, Out, T, F, Fut>(
    settings: LinkSettings,
    codec: C,
    mut connect: F,
    mut ends: Ends<C::Item, Out>,
) where
    C: Decoder + Encoder<Out> + Clone,
    <C as Decoder>::Error: Display,
    <C as Encoder<Out>>::Error: Display,
    T: AsyncRead + AsyncWrite,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectError>>,
{
    let name = settings.name.as_str();
    let mut retries = Retries::from_settings(&settings);
    loop {
        if !ends.publish(retries.connecting()).await {
            return;
        }
        let attempt = tokio::select! {
            () = ends.close.cancelled() => {
                ends.publish(LinkState::Closed).await;
                return;
            }
            attempt = tokio::time::timeout(settings.connect_timeout, connect()) => {
                attempt.unwrap_or_else(|_| Err(ConnectError::retry(format!(
                    "no connection within {:?}", settings.connect_timeout
                ))))
            }
        };
        let reason = match attempt {
            Ok(io) => {
                tracing::info!(link = name, "connected");
                let up = retries.up().unwrap_or(LinkState::Up);
                if !ends.publish(up).await {
                    return;
                }
                match pump(io, codec.clone(), &settings, &mut ends).await {
                    Ended::Closed => {
                        ends.publish(LinkState::Closed).await;
                        return;
                    }
                    Ended::OwnerGone | Ended::Closing => return,
                    Ended::Lost(reason) => reason,
                }
            }
            Err(e) if e.is_fatal() => {
                tracing::warn!(link = name, "cannot connect, giving up: {e}");
                ends.publish(LinkState::GaveUp {
                    code: e.code(),
                    reason: e.message().to_owned(),
                })
                .await;
                return;
            }
            Err(e) => e.message().to_owned(),
        };
        let state = retries.failed(reason);
        let LinkState::Retrying { delay, reason, .. } = &state else {
            tracing::warn!(link = name, failures = retries.failures(), "giving up");
            ends.publish(state).await;
            return;
        };
        let delay = *delay;
        tracing::info!(
            link = name,
            failures = retries.failures(),
            ?delay,
            "retrying: {reason}"
        );
        if !ends.publish(state).await {
            return;
        }
        tokio::select! {
            () = ends.close.cancelled() => {
                ends.publish(LinkState::Closed).await;
                return;
            }
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Reads and writes one connection, each direction on its own so that a
/// peer that does not read never stops the reading, and the reverse.
async fn pump<C, Out, T>(
    io: T,
    codec: C,
    settings: &LinkSettings,
    ends: &mut Ends<C::Item, Out>,
) -> Ended
where
    C: Decoder + Encoder<Out> + Clone,
    <C as Decoder>::Error: Display,
    <C as Encoder<Out>>::Error: Display,
    T: AsyncRead + AsyncWrite,
{
    let (reader, mut writer) = tokio::io::split(io);
    let mut lines = FramedRead::new(reader, codec.clone());
    let mut encoder = codec;
    let events = &ends.events;
    let outgoing = &mut ends.outgoing;
    let last = &ends.last;
    let close = &ends.close;
    let idle = settings.idle_timeout;
    // When the last item arrived, for the keepalive.
    let heard = Heard::new();
    let read = async {
        loop {
            let next = async {
                match idle {
                    Some(idle) => tokio::time::timeout(idle, lines.next())
                        .await
                        .map_err(|_| idle),
                    None => Ok(lines.next().await),
                }
            };
            let item = match tokio::select! {
                // Closing first: an end of stream that comes with it answers
                // the last item written (a QUIT), and is no loss.
                biased;
                // Closing: the writer alone decides when the connection ends.
                () = close.cancelled() => return Ended::Closing,
                next = next => match next {
                    Ok(next) => next,
                    Err(idle) => return Ended::Lost(format!("nothing received for {idle:?}")),
                },
            } {
                Some(Ok(item)) => item,
                Some(Err(e)) => return Ended::Lost(e.to_string()),
                None => return Ended::Lost("the server closed the connection".to_owned()),
            };
            heard.now();
            // A full queue stops reading: the network waits for the owner.
            if events.send(LinkEvent::Received(item)).await.is_err() {
                return Ended::OwnerGone;
            }
        }
    };
    let write = async {
        let mut buf = BytesMut::new();
        let mut kept_alive = Instant::now();
        loop {
            let item = tokio::select! {
                biased;
                () = close.cancelled() => break,
                item = outgoing.recv() => item,
                frame = keepalive_due(settings.keepalive.as_ref(), &heard, kept_alive) => {
                    if let Err(e) = writer.write_all(frame).await {
                        return Ended::Lost(e.to_string());
                    }
                    kept_alive = Instant::now();
                    continue;
                }
            };
            let Some(item) = item else {
                return Ended::OwnerGone;
            };
            if let Err(e) = write_one(&mut encoder, item, &mut buf, &mut writer).await {
                return e;
            }
        }
        // Closing: what was queued goes out first, then the last item of
        // `close_with` (a QUIT, say).
        let last = crate::locks::lock(last).take();
        for item in std::iter::from_fn(|| outgoing.try_recv().ok()).chain(last) {
            if let Err(e) = write_one(&mut encoder, item, &mut buf, &mut writer).await {
                return e;
            }
        }
        if let Err(e) = writer.shutdown().await {
            tracing::debug!("closing the connection: {e}");
        }
        Ended::Closed
    };
    tokio::pin!(read, write);
    tokio::select! {
        ended = &mut read => match ended {
            Ended::Closing => write.await,
            ended => ended,
        },
        ended = &mut write => ended,
    }
}

/// When the last item arrived, shared by the reading and the writing
/// halves of a connection.
struct Heard {
    start: Instant,
    /// Microseconds since `start` (rounded up: never before the item).
    last: AtomicU64,
}

impl Heard {
    fn new() -> Heard {
        Heard {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let since = u64::try_from(self.start.elapsed().as_micros() + 1).unwrap_or(u64::MAX);
        self.last.store(since, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_micros(self.last.load(Ordering::Relaxed))
    }
}

/// Resolves with the keepalive frame once the peer has been silent for its
/// period, counted from the later of the last item heard and the last
/// keepalive written; never without a keepalive.
async fn keepalive_due<'k>(
    keepalive: Option<&'k Keepalive>,
    heard: &Heard,
    kept_alive: Instant,
) -> &'k [u8] {
    let Some(keepalive) = keepalive else {
        return std::future::pending().await;
    };
    loop {
        let due = heard.last().max(kept_alive) + keepalive.every;
        if due <= Instant::now() {
            return &keepalive.frame;
        }
        tokio::time::sleep_until(due).await;
    }
}

/// Encodes and writes one item. An item the codec refuses is dropped with
/// a warning (the connection is fine); a write error ends the connection.
async fn write_one<C, Out, W>(
    encoder: &mut C,
    item: Out,
    buf: &mut BytesMut,
    writer: &mut W,
) -> Result<(), Ended>
where
    C: Encoder<Out>,
    C::Error: Display,
    W: AsyncWrite + Unpin,
{
    buf.clear();
    if let Err(e) = encoder.encode(item, buf) {
        tracing::warn!("not sent to the legacy network: {e}");
        return Ok(());
    }
    writer
        .write_all(buf)
        .await
        .map_err(|e| Ended::Lost(e.to_string()))
}
