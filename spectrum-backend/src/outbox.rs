//! The way out to the main instance: a bounded queue and one writer task.
//!
//! Frames are encoded by the task that sends them, so the writer only copies
//! bytes. Data frames go through a bounded channel: when the main instance
//! reads slowly, senders wait (backpressure) instead of growing memory.
//! PONG and STATS use a small channel of their own that the writer drains
//! first, so liveness never queues behind a session's flood.

use bytes::{Bytes, BytesMut};
use spectrum_proto::Payload;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::SendError;

/// How many data writes may wait for the socket before senders block.
pub(crate) const DATA_QUEUE: usize = 1024;
const CONTROL_QUEUE: usize = 64;
/// Write in chunks up to this size when frames are waiting.
const BATCH_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct Outbox {
    data: mpsc::Sender<Bytes>,
    control: mpsc::Sender<Bytes>,
    max_frame_length: usize,
}

pub(crate) struct Inbox {
    data: mpsc::Receiver<Bytes>,
    control: mpsc::Receiver<Bytes>,
}

pub(crate) fn channel(max_frame_length: usize) -> (Outbox, Inbox) {
    let (data_tx, data) = mpsc::channel(DATA_QUEUE);
    let (control_tx, control) = mpsc::channel(CONTROL_QUEUE);
    (
        Outbox {
            data: data_tx,
            control: control_tx,
            max_frame_length,
        },
        Inbox { data, control },
    )
}

impl Outbox {
    fn encode(&self, payloads: &[Payload], dst: &mut BytesMut) -> Result<(), SendError> {
        for payload in payloads {
            if let Some(kind) = payload.message_type()
                && !kind.main_handles()
            {
                return Err(SendError::NotHandledByMain(kind));
            }
            tracing::debug!(frame = ?payload, "out");
            payload.encode_frame(dst, self.max_frame_length)?;
        }
        Ok(())
    }

    /// Queues one frame, waiting while the queue is full.
    pub(crate) async fn send(&self, payload: &Payload) -> Result<(), SendError> {
        self.send_all(std::slice::from_ref(payload)).await
    }

    /// Queues frames to be written together, in order.
    pub(crate) async fn send_all(&self, payloads: &[Payload]) -> Result<(), SendError> {
        let mut buf = BytesMut::new();
        self.encode(payloads, &mut buf)?;
        self.data
            .send(buf.freeze())
            .await
            .map_err(|_| SendError::Closed)
    }

    /// Queues a liveness frame ahead of data frames.
    pub(crate) fn send_control(&self, payloads: &[Payload]) -> Result<(), SendError> {
        let mut buf = BytesMut::new();
        self.encode(payloads, &mut buf)?;
        self.control
            .try_send(buf.freeze())
            .map_err(|_| SendError::Closed)
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

/// Writes queued frames until the end marker, then flushes and shuts the
/// write side down.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: W,
    mut inbox: Inbox,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(BATCH_BYTES);
    let mut closing = false;
    while !closing {
        let first = tokio::select! {
            biased;
            Some(c) = inbox.control.recv() => c,
            d = inbox.data.recv() => match d {
                Some(d) => d,
                None => break,
            },
        };
        if first.is_empty() {
            break;
        }
        buf.extend_from_slice(&first);
        // Gather what is already waiting into one write.
        while buf.len() < BATCH_BYTES {
            if let Ok(c) = inbox.control.try_recv() {
                buf.extend_from_slice(&c);
                continue;
            }
            match inbox.data.try_recv() {
                Ok(d) if d.is_empty() => {
                    closing = true;
                    break;
                }
                Ok(d) => buf.extend_from_slice(&d),
                Err(_) => break,
            }
        }
        sink.write_all(&buf).await?;
        buf.clear();
    }
    inbox.data.close();
    inbox.control.close();
    sink.flush().await?;
    sink.shutdown().await
}
