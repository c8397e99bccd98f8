//! The way out to the main instance: one buffer of encoded frames, the
//! liveness frames owed, and one writer task.
//!
//! Frames are encoded by the task that sends them straight into the shared
//! buffer, under its lock, so a send is one append: no allocation, no
//! channel, and the writer is woken only when the buffer was empty (it
//! takes everything queued at once). The buffer is bounded: when the main
//! instance reads slowly and it holds [`DATA_LIMIT`] bytes, senders wait
//! (backpressure) instead of growing memory.
//!
//! Liveness is not queued at all: every PING adds one to a count of PONGs
//! owed, and the writer pays the whole count (PONG and STATS for each)
//! before any waiting data. A thousand PINGs in one read get a thousand PONGs, and a
//! flood of data never delays them. While the reader has stopped reading
//! (see [`Outbox::set_paused`]), the writer sends a STATS whenever nothing
//! was written for the keepalive interval: Spectrum 2 counts any frame as a
//! sign of life, and STATS is one it handles.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use spectrum_proto::Payload;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{SendError, stats};

/// Bytes of encoded frames that may wait for the socket before senders
/// wait. One send is always taken into an empty buffer, however large. At
/// 256 KiB, a main instance that reads nothing raised the backend's peak by
/// 12 MiB in the `unread` benchmark (33.1 against 21.1 MiB); at 64 KiB, the
/// old batch size, it is 20.9 MiB.
pub(crate) const DATA_LIMIT: usize = 64 * 1024;
/// A buffer grown beyond this by one large frame is not kept for reuse.
const KEEP_CAPACITY: usize = 1 << 20;

#[derive(Clone)]
pub(crate) struct Outbox {
    shared: Arc<Shared>,
    max_frame_length: usize,
}

/// What senders and the writer share.
struct Shared {
    queue: Mutex<Queue>,
    /// PINGs not answered yet.
    pongs: AtomicUsize,
    /// The reader has stopped reading: keep the connection alive.
    paused: AtomicBool,
    /// Senders waiting for room right now.
    waiting: AtomicUsize,
    /// The writer has something to do.
    wake: Notify,
    /// The writer took the queued frames (or stopped): room again.
    room: Notify,
}

#[derive(Default)]
struct Queue {
    /// Encoded frames, in the order they were sent.
    data: BytesMut,
    /// Sent once, before anything else (BACKEND_CONFIG).
    preface: Option<Bytes>,
    /// [`Outbox::close`] was called: nothing more is taken.
    closing: bool,
    /// The writer has stopped: nothing sent can arrive.
    gone: bool,
}

pub(crate) struct Inbox {
    shared: Arc<Shared>,
}

pub(crate) fn channel(max_frame_length: usize) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        pongs: AtomicUsize::new(0),
        paused: AtomicBool::new(false),
        waiting: AtomicUsize::new(0),
        wake: Notify::new(),
        room: Notify::new(),
    });
    (
        Outbox {
            shared: Arc::clone(&shared),
            max_frame_length,
        },
        Inbox { shared },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a sender as waiting for room until dropped (also when the send
/// is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Room made in the queue: what is put in it is queued at once.
pub(crate) struct Slot<'a> {
    out: &'a Outbox,
}

impl Slot<'_> {
    /// Queues frames encoded by [`Outbox::encode_frames`].
    pub(crate) fn put(self, frames: Bytes) {
        let mut queue = self.out.shared.lock();
        if queue.closing || queue.gone {
            return;
        }
        let was_empty = queue.data.is_empty();
        queue.data.extend_from_slice(&frames);
        drop(queue);
        if was_empty {
            self.out.shared.wake.notify_one();
        }
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

    /// Queues frames to be written together, in order: all of them or, if
    /// one cannot be encoded, none.
    pub(crate) async fn send_all(&self, payloads: &[Payload]) -> Result<(), SendError> {
        self.wait_for_room(|queue| {
            let before = queue.data.len();
            let encoded = self.encode(payloads, &mut queue.data);
            if encoded.is_err() {
                queue.data.truncate(before);
            }
            encoded
        })
        .await
    }

    /// Waits for room in the queue.
    pub(crate) async fn reserve(&self) -> Result<Slot<'_>, SendError> {
        self.wait_for_room(|_| Ok(())).await?;
        Ok(Slot { out: self })
    }

    /// Runs `queue` on the locked queue once it has room; wakes the writer
    /// if the queue was empty before.
    async fn wait_for_room(
        &self,
        mut queue: impl FnMut(&mut Queue) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let mut waiting = None;
        loop {
            let room = self.shared.room.notified();
            let mut room = std::pin::pin!(room);
            // Registered before the check: room made after it wakes us.
            room.as_mut().enable();
            {
                let mut q = self.shared.lock();
                if q.closing || q.gone {
                    return Err(SendError::Closed);
                }
                if q.data.len() < DATA_LIMIT {
                    let was_empty = q.data.is_empty();
                    queue(&mut q)?;
                    let wake = was_empty && !q.data.is_empty();
                    drop(q);
                    if wake {
                        self.shared.wake.notify_one();
                    }
                    return Ok(());
                }
            }
            if waiting.is_none() {
                self.shared.waiting.fetch_add(1, Ordering::AcqRel);
                waiting = Some(Waiting(&self.shared.waiting));
            }
            room.await;
        }
    }

    /// Whether some sender is waiting because the main instance does not
    /// take what we write: the backend as a whole is held back by it.
    pub(crate) fn is_backed_up(&self) -> bool {
        self.shared.waiting.load(Ordering::Acquire) > 0
    }

    /// Owes one more PONG (and its STATS).
    pub(crate) fn pong(&self) {
        self.shared.pongs.fetch_add(1, Ordering::AcqRel);
        self.shared.wake.notify_one();
    }

    /// Sets what is written before anything else.
    pub(crate) fn preface(&self, payload: &Payload) -> Result<(), SendError> {
        let mut buf = BytesMut::new();
        self.encode(std::slice::from_ref(payload), &mut buf)?;
        self.shared.lock().preface = Some(buf.freeze());
        self.shared.wake.notify_one();
        Ok(())
    }

    /// The reader has stopped (or resumed) reading the socket; whether that
    /// changed anything.
    pub(crate) fn set_paused(&self, paused: bool) -> bool {
        let changed = self.shared.paused.swap(paused, Ordering::AcqRel) != paused;
        if changed {
            self.shared.wake.notify_one();
        }
        changed
    }

    /// Whether the writer has stopped or is stopping: nothing sent now can
    /// arrive.
    pub(crate) fn is_closed(&self) -> bool {
        let q = self.shared.lock();
        q.closing || q.gone
    }

    /// Asks the writer to flush everything queued so far and stop. Frames
    /// queued later are refused.
    pub(crate) async fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        self.shared.room.notify_waiters();
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
    /// Appends `preface`, the PONGs owed and their STATS (or a keepalive
    /// STATS) to `buf`.
    fn take_control(
        &self,
        buf: &mut BytesMut,
        preface: Option<Bytes>,
        config: &WriterConfig,
        keepalive: bool,
    ) {
        if let Some(preface) = preface {
            buf.extend_from_slice(&preface);
        }
        let pongs = self.shared.pongs.swap(0, Ordering::AcqRel);
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

/// Marks the writer gone when it stops, however it stops, and wakes the
/// senders waiting for room so that they fail instead of waiting forever.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.gone = true;
        q.data = BytesMut::new();
        drop(q);
        self.0.room.notify_waiters();
    }
}

/// Writes liveness frames and queued frames until [`Outbox::close`], then
/// flushes and shuts the write side down.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: W,
    inbox: Inbox,
    config: WriterConfig,
) -> std::io::Result<()> {
    let shared = &*inbox.shared;
    let _gone = Gone(shared);
    // Liveness frames, and the frames taken from the queue: swapped with
    // the queue's buffer, so both keep their capacity.
    let mut control = BytesMut::new();
    let mut data = BytesMut::new();
    let mut last_write = Instant::now();
    loop {
        let paused = shared.paused.load(Ordering::Acquire);
        let keepalive_at = last_write + config.keepalive;
        let mut keepalive = false;
        tokio::select! {
            biased;
            () = shared.wake.notified() => {}
            () = tokio::time::sleep_until(keepalive_at), if paused => keepalive = true,
        }
        let (preface, closing) = {
            let mut q = shared.lock();
            std::mem::swap(&mut q.data, &mut data);
            (q.preface.take(), q.closing)
        };
        if !data.is_empty() {
            shared.room.notify_waiters();
        }
        // Liveness first, then the data.
        inbox.take_control(&mut control, preface, &config, keepalive);
        let wrote = if !control.is_empty() {
            control.extend_from_slice(&data);
            sink.write_all(&control).await?;
            control.clear();
            true
        } else if !data.is_empty() {
            sink.write_all(&data).await?;
            true
        } else {
            false
        };
        if wrote {
            last_write = Instant::now();
        }
        if data.capacity() > KEEP_CAPACITY {
            data = BytesMut::new();
        }
        data.clear();
        if closing {
            break;
        }
    }
    // PONGs owed when the end came are still answers the main instance is
    // waiting for.
    inbox.take_control(&mut control, None, &config, false);
    sink.write_all(&control).await?;
    sink.flush().await?;
    sink.shutdown().await
}
