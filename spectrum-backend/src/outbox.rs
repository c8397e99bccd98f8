//! The way out to the main instance: one buffer of encoded frames and the
//! liveness frames owed, written by the connection thread.
//!
//! Frames are encoded by the task that sends them straight into the shared
//! buffer, under its lock, so a send is one append: no allocation, no
//! channel. A handler polled on the connection thread appends and returns;
//! the connection thread writes everything appended after it has handled
//! what it read, so its replies cost no wake-up. A send from elsewhere
//! rings the connection thread's [`Bell`] when the buffer was empty. The
//! buffer is bounded: when the main instance reads slowly and it holds
//! [`DATA_LIMIT`] bytes, senders wait (backpressure) instead of growing
//! memory.
//!
//! Liveness is not queued at all: every PING adds one to a count of PONGs
//! owed, and the writer pays the whole count (PONG and STATS for each)
//! before any waiting data. A thousand PINGs in one read get a thousand PONGs, and a
//! flood of data never delays them. While the reader has stopped reading,
//! the connection sends a STATS whenever nothing was written for the
//! keepalive interval: Spectrum 2 counts any frame as a sign of life, and
//! STATS is one it handles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use spectrum_proto::Payload;
use tokio::sync::Notify;

use crate::bell::Bell;
use crate::{SendError, stats};

/// Bytes of encoded frames that may wait for the socket before senders
/// wait. One send is always taken into an empty buffer, however large. At
/// 256 KiB, a main instance that reads nothing raised the backend's peak by
/// 12 MiB in the `unread` benchmark (33.1 against 21.1 MiB); at 64 KiB, the
/// old batch size, it is 20.9 MiB.
pub(crate) const DATA_LIMIT: usize = 64 * 1024;
/// A buffer grown beyond this by one large frame is not kept for reuse.
pub(crate) const KEEP_CAPACITY: usize = 1 << 20;

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
    /// Senders waiting for room right now.
    waiting: AtomicUsize,
    /// The connection thread, which writes.
    wake: Arc<Bell>,
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
    /// The last STATS frame and when its figures were read.
    stats: Option<(std::time::Instant, BytesMut)>,
}

pub(crate) fn channel(max_frame_length: usize, wake: Arc<Bell>) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        pongs: AtomicUsize::new(0),
        waiting: AtomicUsize::new(0),
        wake,
        room: Notify::new(),
    });
    (
        Outbox {
            shared: Arc::clone(&shared),
            max_frame_length,
        },
        Inbox {
            shared,
            stats: None,
        },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        crate::locks::lock(&self.queue)
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
            self.out.shared.wake.ring();
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
        self.wait_for_room(|queue| self.put_all(payloads, queue))
            .await
    }

    /// [`Outbox::send_all`] if there is room now; `None` if the queue is
    /// full.
    pub(crate) fn try_send_all(&self, payloads: &[Payload]) -> Option<Result<(), SendError>> {
        self.try_queue(&mut |queue: &mut Queue| self.put_all(payloads, queue))
    }

    /// Encodes `payloads` at the end of `queue`: all of them, or none.
    fn put_all(&self, payloads: &[Payload], queue: &mut Queue) -> Result<(), SendError> {
        let before = queue.data.len();
        let encoded = self.encode(payloads, &mut queue.data);
        if encoded.is_err() {
            queue.data.truncate(before);
        }
        encoded
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
        // Almost every send finds room: it costs one lock, and no waiter is
        // created and armed for it.
        if let Some(done) = self.try_queue(&mut queue) {
            return done;
        }
        let mut waiting = None;
        loop {
            let room = self.shared.room.notified();
            let mut room = std::pin::pin!(room);
            // Registered before the check: room made after it wakes us.
            room.as_mut().enable();
            if let Some(done) = self.try_queue(&mut queue) {
                return done;
            }
            if waiting.is_none() {
                self.shared.waiting.fetch_add(1, Ordering::AcqRel);
                waiting = Some(Waiting(&self.shared.waiting));
            }
            room.await;
        }
    }

    /// Runs `queue` on the locked queue if it has room (or fails if the
    /// outbox is closed); `None` if it is full.
    fn try_queue(
        &self,
        queue: &mut impl FnMut(&mut Queue) -> Result<(), SendError>,
    ) -> Option<Result<(), SendError>> {
        let mut q = self.shared.lock();
        if q.closing || q.gone {
            return Some(Err(SendError::Closed));
        }
        if q.data.len() >= DATA_LIMIT {
            return None;
        }
        let was_empty = q.data.is_empty();
        if let Err(e) = queue(&mut q) {
            return Some(Err(e));
        }
        let wake = was_empty && !q.data.is_empty();
        drop(q);
        if wake {
            self.shared.wake.ring();
        }
        Some(Ok(()))
    }

    /// Whether some sender is waiting because the main instance does not
    /// take what we write: the backend as a whole is held back by it.
    pub(crate) fn is_backed_up(&self) -> bool {
        self.shared.waiting.load(Ordering::Acquire) > 0
    }

    /// Owes one more PONG (and its STATS). Called by the connection
    /// thread, which writes next.
    pub(crate) fn pong(&self) {
        self.shared.pongs.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets what is written before anything else. Called by the
    /// connection thread, which writes next.
    pub(crate) fn preface(&self, payload: &Payload) -> Result<(), SendError> {
        let mut buf = BytesMut::new();
        self.encode(std::slice::from_ref(payload), &mut buf)?;
        self.shared.lock().preface = Some(buf.freeze());
        Ok(())
    }

    /// Whether the writer has stopped or is stopping: nothing sent now can
    /// arrive.
    pub(crate) fn is_closed(&self) -> bool {
        let q = self.shared.lock();
        q.closing || q.gone
    }

    /// Refuses frames queued from now on; what is queued is still written.
    pub(crate) fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.room.notify_waiters();
    }
}

/// What the writer needs besides the socket.
pub(crate) struct WriterConfig {
    /// `init_res` of the STATS frames.
    pub(crate) init_res: i32,
    pub(crate) max_frame_length: usize,
}

impl Inbox {
    /// Moves what is to be written next into `buf`, which must be empty:
    /// the preface, the PONGs owed with their STATS (or a keepalive STATS
    /// if `keepalive`), then the queued frames. Senders waiting for room
    /// are told there is some.
    pub(crate) fn take(&mut self, buf: &mut BytesMut, config: &WriterConfig, keepalive: bool) {
        let shared = Arc::clone(&self.shared);
        let pongs = shared.pongs.swap(0, Ordering::AcqRel);
        let mut q = shared.lock();
        let preface = q.preface.take();
        if q.data.is_empty() && preface.is_none() && pongs == 0 && !keepalive {
            return;
        }
        let had_data = !q.data.is_empty();
        if preface.is_none() && pongs == 0 && !keepalive {
            // The common case: the queued frames are taken as they are,
            // and the queue keeps this buffer's capacity.
            std::mem::swap(&mut q.data, buf);
            drop(q);
        } else {
            let data = std::mem::take(&mut q.data);
            drop(q);
            if let Some(preface) = preface {
                buf.extend_from_slice(&preface);
            }
            self.control(buf, pongs, keepalive, config);
            buf.extend_from_slice(&data);
        }
        if had_data {
            shared.room.notify_waiters();
        }
    }

    /// The writer can write no more (the connection failed): senders fail
    /// from now on, instead of waiting for room forever.
    pub(crate) fn gone(&self) {
        let mut q = self.shared.lock();
        q.gone = true;
        q.data = BytesMut::new();
        drop(q);
        self.shared.room.notify_waiters();
    }

    /// Whether frames or PONGs wait to be taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.shared.pongs.load(Ordering::Acquire) == 0 && {
            let q = self.shared.lock();
            q.data.is_empty() && q.preface.is_none()
        }
    }
}

impl Inbox {
    /// Appends a PONG and a STATS for each PING owed, or one STATS as a
    /// keepalive, as the reference backends do.
    fn control(
        &mut self,
        buf: &mut BytesMut,
        pongs: usize,
        keepalive: bool,
        config: &WriterConfig,
    ) {
        if pongs == 0 && !keepalive {
            return;
        }
        let stats = self.stats_frame(config);
        for _ in 0..pongs {
            let _ = Payload::Pong.encode_frame(buf, config.max_frame_length);
            buf.extend_from_slice(stats);
        }
        if pongs == 0 {
            buf.extend_from_slice(stats);
        }
    }

    /// The STATS frame, with memory figures at most [`STATS_FRESH`] old:
    /// reading them costs a file read, and a main instance may PING often.
    fn stats_frame(&mut self, config: &WriterConfig) -> &[u8] {
        let now = std::time::Instant::now();
        let stale = self
            .stats
            .as_ref()
            .is_none_or(|(at, _)| now.duration_since(*at) >= STATS_FRESH);
        if stale {
            let mut frame = BytesMut::new();
            let payload = Payload::Stats(stats::stats(config.init_res));
            if let Err(e) = payload.encode_frame(&mut frame, config.max_frame_length) {
                tracing::warn!("cannot encode STATS: {e}");
            }
            self.stats = Some((now, frame));
        }
        self.stats.as_ref().map_or(&[], |(_, frame)| &frame[..])
    }
}

/// How long the memory figures of STATS are reused. Spectrum 2 PINGs
/// every 20 s; a second is far below anything it could notice.
const STATS_FRESH: std::time::Duration = std::time::Duration::from_secs(1);
