//! The way out to the main instance: a bounded queue, the liveness frames
//! owed, and one writer task.
//!
//! Frames are encoded by the task that sends them, so the writer only copies
//! bytes. Data frames go through a bounded channel: when the main instance
//! reads slowly, senders wait (backpressure) instead of growing memory.
//!
//! Liveness is not queued at all: every PING adds one to a count of PONGs
//! owed, and the writer pays the whole count (PONG and STATS for each)
//! before any waiting data. A thousand PINGs in one read get a thousand PONGs, and a
//! flood of data never delays them. While the reader has stopped reading
//! (see [`Outbox::set_paused`]), the writer sends a STATS whenever nothing
//! was written for the keepalive interval: Spectrum 2 counts any frame as a
//! sign of life, and STATS is one it handles.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use spectrum_proto::Payload;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::{SendError, stats};

/// How many data writes may wait for the socket before senders block.
pub(crate) const DATA_QUEUE: usize = 1024;
/// Write in chunks up to this size when frames are waiting.
const BATCH_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct Outbox {
    data: mpsc::Sender<Bytes>,
    control: std::sync::Arc<Control>,
    max_frame_length: usize,
}

/// What the writer owes besides data, shared with it.
struct Control {
    /// Sent once, before anything else (BACKEND_CONFIG).
    preface: Mutex<Option<Bytes>>,
    /// PINGs not answered yet.
    pongs: AtomicUsize,
    /// The reader has stopped reading: keep the connection alive.
    paused: AtomicBool,
    /// Senders waiting for room in the data queue right now.
    waiting: AtomicUsize,
    wake: Notify,
}

pub(crate) struct Inbox {
    data: mpsc::Receiver<Bytes>,
    control: std::sync::Arc<Control>,
}

pub(crate) fn channel(max_frame_length: usize) -> (Outbox, Inbox) {
    let (data_tx, data) = mpsc::channel(DATA_QUEUE);
    let control = std::sync::Arc::new(Control {
        preface: Mutex::new(None),
        pongs: AtomicUsize::new(0),
        paused: AtomicBool::new(false),
        waiting: AtomicUsize::new(0),
        wake: Notify::new(),
    });
    (
        Outbox {
            data: data_tx,
            control: std::sync::Arc::clone(&control),
            max_frame_length,
        },
        Inbox { data, control },
    )
}

/// Counts a sender as waiting for room until dropped (also when the send
/// is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A reserved place in the data queue: what is put in it is queued at once.
pub(crate) struct Slot<'a> {
    permit: mpsc::Permit<'a, Bytes>,
}

impl Slot<'_> {
    /// Queues frames encoded by [`Outbox::encode_frames`] in the reserved place.
    pub(crate) fn put(self, frames: Bytes) {
        self.permit.send(frames);
    }
}

impl Outbox {
    fn encode(&self, payloads: &[Payload], dst: &mut BytesMut) -> Result<(), SendError> {
        for payload in payloads {
            if let Some(kind) = payload.message_type()
                && !kind.main_handles()
            {
                return Err(SendError::NotHandledByMain(kind));
            }
            let before = dst.len();
            payload.encode_frame(dst, self.max_frame_length)?;
            tracing::debug!(
                kind = payload
                    .message_type()
                    .map_or("UNKNOWN", |t| t.as_str_name()),
                len = dst.len() - before,
                "out"
            );
        }
        Ok(())
    }

    /// The frames of `payloads`, ready for [`Slot::put`].
    pub(crate) fn encode_frames(&self, payloads: &[Payload]) -> Result<Bytes, SendError> {
        let mut buf = BytesMut::new();
        self.encode(payloads, &mut buf)?;
        Ok(buf.freeze())
    }

    /// Queues one frame, waiting while the queue is full.
    pub(crate) async fn send(&self, payload: &Payload) -> Result<(), SendError> {
        self.send_all(std::slice::from_ref(payload)).await
    }

    /// Queues frames to be written together, in order.
    pub(crate) async fn send_all(&self, payloads: &[Payload]) -> Result<(), SendError> {
        let frames = self.encode_frames(payloads)?;
        self.reserve().await?.put(frames);
        Ok(())
    }

    /// Waits for a place in the data queue.
    pub(crate) async fn reserve(&self) -> Result<Slot<'_>, SendError> {
        let permit = match self.data.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Closed(())) => return Err(SendError::Closed),
            Err(mpsc::error::TrySendError::Full(())) => {
                self.control.waiting.fetch_add(1, Ordering::AcqRel);
                let _waiting = Waiting(&self.control.waiting);
                self.data.reserve().await.map_err(|_| SendError::Closed)?
            }
        };
        Ok(Slot { permit })
    }

    /// Whether some sender is waiting because the main instance does not
    /// take what we write: the backend as a whole is held back by it.
    pub(crate) fn is_backed_up(&self) -> bool {
        self.control.waiting.load(Ordering::Acquire) > 0
    }

    /// Owes one more PONG (and its STATS).
    pub(crate) fn pong(&self) {
        self.control.pongs.fetch_add(1, Ordering::AcqRel);
        self.control.wake.notify_one();
    }

    /// Sets what is written before anything else.
    pub(crate) fn preface(&self, payload: &Payload) -> Result<(), SendError> {
        let mut buf = BytesMut::new();
        self.encode(std::slice::from_ref(payload), &mut buf)?;
        *self
            .control
            .preface
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(buf.freeze());
        self.control.wake.notify_one();
        Ok(())
    }

    /// The reader has stopped (or resumed) reading the socket; whether that
    /// changed anything.
    pub(crate) fn set_paused(&self, paused: bool) -> bool {
        let changed = self.control.paused.swap(paused, Ordering::AcqRel) != paused;
        if changed {
            self.control.wake.notify_one();
        }
        changed
    }

    /// Whether the writer has stopped: nothing sent now can arrive.
    pub(crate) fn is_closed(&self) -> bool {
        self.data.is_closed()
    }

    /// Asks the writer to flush everything queued so far and stop. Frames
    /// queued later are refused.
    pub(crate) async fn close(&self) {
        // An empty write is the end marker: real writes are never empty.
        let _ = self.data.send(Bytes::new()).await;
    }
}

/// What the writer needs besides the socket.
pub(crate) struct WriterConfig {
    /// `init_res` of the STATS frames.
    pub(crate) init_res: i32,
    /// While reading is paused, the longest time without a frame written.
    pub(crate) keepalive: Duration,
    pub(crate) max_frame_length: usize,
}

impl Inbox {
    /// Appends the preface, the PONGs owed and their STATS (or a keepalive
    /// STATS) to `buf`.
    fn take_control(&self, buf: &mut BytesMut, config: &WriterConfig, keepalive: bool) {
        if let Some(preface) = self
            .control
            .preface
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            buf.extend_from_slice(&preface);
        }
        let pongs = self.control.pongs.swap(0, Ordering::AcqRel);
        if pongs == 0 && !keepalive {
            return;
        }
        // As the reference backends: PONG then STATS for every PING. The
        // figures are read once per batch.
        let mut stats = BytesMut::new();
        let payload = Payload::Stats(stats::stats(config.init_res));
        if let Err(e) = payload.encode_frame(&mut stats, config.max_frame_length) {
            tracing::warn!("cannot encode STATS: {e}");
        }
        for _ in 0..pongs {
            let _ = Payload::Pong.encode_frame(buf, config.max_frame_length);
            buf.extend_from_slice(&stats);
        }
        if pongs == 0 {
            buf.extend_from_slice(&stats);
        }
    }
}

/// Writes liveness frames and queued frames until the end marker, then
/// flushes and shuts the write side down.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: W,
    mut inbox: Inbox,
    config: WriterConfig,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(BATCH_BYTES);
    let mut closing = false;
    let mut last_write = Instant::now();
    while !closing {
        let paused = inbox.control.paused.load(Ordering::Acquire);
        let keepalive_at = last_write + config.keepalive;
        let mut keepalive = false;
        tokio::select! {
            biased;
            () = inbox.control.wake.notified() => {}
            () = tokio::time::sleep_until(keepalive_at), if paused => keepalive = true,
            d = inbox.data.recv() => match d {
                Some(d) if d.is_empty() => closing = true,
                Some(d) => buf.extend_from_slice(&d),
                None => closing = true,
            },
        }
        // Liveness first, then what else is already waiting, in one write.
        let mut data = std::mem::take(&mut buf);
        inbox.take_control(&mut buf, &config, keepalive);
        buf.extend_from_slice(&data);
        data.clear();
        while !closing && buf.len() < BATCH_BYTES {
            match inbox.data.try_recv() {
                Ok(d) if d.is_empty() => closing = true,
                Ok(d) => buf.extend_from_slice(&d),
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            sink.write_all(&buf).await?;
            last_write = Instant::now();
            buf.clear();
        }
    }
    inbox.data.close();
    // PONGs owed when the end came are still answers the main instance is
    // waiting for.
    inbox.take_control(&mut buf, &config, false);
    sink.write_all(&buf).await?;
    sink.flush().await?;
    sink.shutdown().await
}
