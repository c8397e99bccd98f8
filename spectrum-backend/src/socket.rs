//! The connection's socket as plain values: the readiness queue, the
//! buffers, and what the socket is known to be ready for.
//!
//! Not a tokio socket: that one is driven by its runtime's thread, and the
//! connection thread may be stuck in a handler and replaced (see
//! `watchdog`); with `mio`, whichever thread holds the connection waits on
//! and uses the socket. Readiness is edge-triggered: a direction is tried
//! until it would block, and then waited for.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf as _, BytesMut};

use crate::bell::Bell;
use crate::outbox::{self, Inbox, WriterConfig};

const SOCKET: mio::Token = mio::Token(0);
const WAKE: mio::Token = mio::Token(1);
/// How much is read from the socket at once. A PING read behind a chunk of
/// small frames waits for them: 16 KiB is a few hundred echoes.
const READ_CHUNK: usize = 16 * 1024;

pub(crate) struct Socket {
    poll: mio::Poll,
    events: mio::Events,
    stream: mio::net::TcpStream,
    readable: bool,
    /// The system said the peer closed its side (or the socket failed):
    /// reading goes on until it says so too.
    read_closed: bool,
    writable: bool,
    chunk: Box<[u8]>,
    /// Bytes read and not yet decoded.
    pub(crate) input: BytesMut,
    /// Bytes being written (taken from the outbox).
    output: BytesMut,
    /// When something was last written.
    pub(crate) last_write: Instant,
    /// Writing failed: nothing more can be written.
    write_failed: bool,
    bell: Arc<Bell>,
}

impl Socket {
    /// Takes `stream` over; the bell that wakes whoever waits on it.
    pub(crate) fn new(stream: std::net::TcpStream) -> std::io::Result<(Socket, Arc<Bell>)> {
        stream.set_nonblocking(true)?;
        let _ = stream.set_nodelay(true);
        let mut stream = mio::net::TcpStream::from_std(stream);
        let poll = mio::Poll::new()?;
        poll.registry().register(
            &mut stream,
            SOCKET,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        let bell = Arc::new(Bell::new(mio::Waker::new(poll.registry(), WAKE)?));
        let socket = Socket {
            poll,
            events: mio::Events::with_capacity(16),
            stream,
            readable: true,
            read_closed: false,
            writable: true,
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            input: BytesMut::new(),
            output: BytesMut::new(),
            last_write: Instant::now(),
            write_failed: false,
            bell: Arc::clone(&bell),
        };
        Ok((socket, bell))
    }

    /// Whether a read may find something without waiting first.
    pub(crate) fn readable(&self) -> bool {
        self.readable
    }

    pub(crate) fn write_failed(&self) -> bool {
        self.write_failed
    }

    /// Whether everything taken from the outbox was written.
    pub(crate) fn written(&self) -> bool {
        self.output.is_empty()
    }

    /// Reads what the socket has, up to one chunk, into `input`; 0 at the
    /// end of stream.
    ///
    /// A read that did not fill the chunk emptied the socket: it is not
    /// read again before the system says it is readable, which saves the
    /// read that would only find nothing (one system call in four when
    /// messages come one at a time). Data or a close that arrives after it
    /// makes a new readiness event; a close that came with the data read is
    /// known from the event that announced it, and the socket stays
    /// readable to read the end of the stream.
    pub(crate) fn read(&mut self) -> std::io::Result<usize> {
        loop {
            match self.stream.read(&mut self.chunk) {
                Ok(n) => {
                    if n > 0 && n < self.chunk.len() && !self.read_closed {
                        self.readable = false;
                    }
                    self.input.extend_from_slice(&self.chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        self.readable = false;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Writes what is owed and queued in `inbox`, as far as the socket
    /// takes it; with a keepalive STATS if `keepalive`.
    pub(crate) fn flush(&mut self, inbox: &mut Inbox, writer: &WriterConfig, mut keepalive: bool) {
        if self.write_failed {
            return;
        }
        loop {
            if self.output.is_empty() {
                if self.output.capacity() > outbox::KEEP_CAPACITY {
                    self.output = BytesMut::new();
                }
                inbox.take(&mut self.output, writer, keepalive);
                keepalive = false;
                if self.output.is_empty() {
                    return;
                }
            }
            if !self.writable {
                return;
            }
            match self.stream.write(&self.output) {
                Ok(n) => {
                    self.output.advance(n);
                    self.last_write = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!("could not write to the main instance: {e}");
                    self.write_failed = true;
                    self.output.clear();
                    inbox.gone();
                    return;
                }
            }
        }
    }

    /// Shuts the write side down; whether that worked.
    pub(crate) fn shutdown_write(&self) -> bool {
        self.stream.shutdown(std::net::Shutdown::Write).is_ok()
    }

    /// Waits for the socket, a ring of the bell, or `deadline`.
    pub(crate) fn sleep(&mut self, deadline: Option<Instant>) {
        if !self.bell.may_sleep() {
            self.bell.woke();
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let polled = self.poll.poll(&mut self.events, timeout);
        self.bell.woke();
        if let Err(e) = polled
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            tracing::error!("waiting for the connection failed: {e}");
            std::thread::sleep(Duration::from_millis(1));
        }
        for event in &self.events {
            if event.token() == SOCKET {
                let closed = event.is_read_closed() || event.is_error();
                self.read_closed |= closed;
                self.readable |= event.is_readable() || closed;
                self.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
            }
        }
    }
}
