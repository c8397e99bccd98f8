//! A load driver cheap enough not to be the bottleneck: frames are written
//! by hand into one buffer and replies are scanned in place, without a
//! codec, a typed decode or an allocation per message. One task both writes
//! and reads, so no channel or semaphore sits between them.
//!
//! Its ceiling is measured in the same run against [`crate::backends::raw`],
//! an echo with no framework and no codec at all.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf as _, BufMut as _, BytesMut};
use prost::encoding::{decode_varint, encode_varint};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::driver::{Backend, BoxError, percentile};

const CONV_MESSAGE: u64 = 8;
const PING: u64 = 9;
const PONG: u64 = 10;
const CONNECTED: u64 = 1;
const LOGIN: u64 = 3;

/// A protobuf field value, borrowed from the frame.
pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The next field of a protobuf message; `None` at its end or on bad input.
pub(crate) fn next_field<'a>(buf: &mut &'a [u8]) -> Option<(u64, Value<'a>)> {
    if buf.is_empty() {
        return None;
    }
    let key = decode_varint(buf).ok()?;
    let value = match key & 7 {
        0 => Value::Varint(decode_varint(buf).ok()?),
        2 => {
            let n = usize::try_from(decode_varint(buf).ok()?).ok()?;
            let (v, rest) = buf.split_at_checked(n)?;
            *buf = rest;
            Value::Bytes(v)
        }
        1 | 5 => {
            let n = if key & 7 == 1 { 8 } else { 4 };
            *buf = buf.get(n..)?;
            Value::Bytes(&[])
        }
        _ => return None,
    };
    Some((key >> 3, value))
}

/// The type number and payload of a frame body (a `WrapperMessage`).
pub(crate) fn wrapper(mut body: &[u8]) -> (u64, &[u8]) {
    let (mut kind, mut payload) = (0, &[][..]);
    while let Some((field, value)) = next_field(&mut body) {
        match (field, value) {
            (1, Value::Varint(v)) => kind = v,
            (2, Value::Bytes(b)) => payload = b,
            _ => {}
        }
    }
    (kind, payload)
}

/// Length-delimited field `want` of a message.
pub(crate) fn bytes_field(mut msg: &[u8], want: u64) -> Option<&[u8]> {
    while let Some((field, value)) = next_field(&mut msg) {
        if let (true, Value::Bytes(b)) = (field == want, value) {
            return Some(b);
        }
    }
    None
}

fn put_bytes(buf: &mut BytesMut, field: u64, bytes: &[u8]) {
    encode_varint(field << 3 | 2, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

/// Appends one whole frame of `kind` with `payload` (none if `None`).
pub(crate) fn put_frame(buf: &mut BytesMut, kind: u64, payload: Option<&[u8]>) {
    let mut body = BytesMut::with_capacity(16 + payload.map_or(0, <[u8]>::len));
    encode_varint(1 << 3, &mut body);
    encode_varint(kind, &mut body);
    if let Some(p) = payload {
        put_bytes(&mut body, 2, p);
    }
    buf.put_u32(body.len() as u32);
    buf.put_slice(&body);
}

/// Appends echo request `k` for user `u`: a CONV_MESSAGE whose text is `k`.
fn put_message(buf: &mut BytesMut, scratch: &mut BytesMut, user: &[u8], k: usize) {
    scratch.clear();
    put_bytes(scratch, 1, user);
    put_bytes(scratch, 2, b"bob");
    let mut digits = [0u8; 20];
    put_bytes(scratch, 3, decimal(k, &mut digits));
    put_bytes(scratch, 5, b"");
    // Wrapper: type, then the payload; its length is known now.
    let body_len = 2 + 1 + varint_len(scratch.len()) + scratch.len();
    buf.put_u32(body_len as u32);
    buf.put_slice(&[0x08, CONV_MESSAGE as u8, 0x12]);
    encode_varint(scratch.len() as u64, buf);
    buf.put_slice(scratch);
}

fn varint_len(n: usize) -> usize {
    prost::encoding::encoded_len_varint(n as u64)
}

/// `k` in decimal, written at the end of `buf`.
fn decimal(mut k: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (k % 10) as u8;
        k /= 10;
        if k == 0 {
            return &buf[at..];
        }
    }
}

fn parse_index(text: &[u8]) -> Option<usize> {
    let mut k: usize = 0;
    if text.is_empty() {
        return None;
    }
    for &d in text {
        if !d.is_ascii_digit() {
            return None;
        }
        k = k.checked_mul(10)?.checked_add(usize::from(d - b'0'))?;
    }
    Some(k)
}

/// Round trips counted per microsecond, up to a second (and beyond it in
/// one last count): percentiles without keeping every sample.
struct Histogram {
    counts: Vec<u32>,
    total: u64,
}

impl Histogram {
    const BUCKETS: usize = 1_000_000;

    fn new() -> Self {
        Histogram {
            counts: vec![0; Self::BUCKETS + 1],
            total: 0,
        }
    }

    fn record(&mut self, nanos: u64) {
        let bucket = usize::try_from(nanos / 1_000).map_or(Self::BUCKETS, |b| b.min(Self::BUCKETS));
        self.counts[bucket] += 1;
        self.total += 1;
    }

    /// The `q` quantile, to the microsecond (as [`percentile`] picks it).
    fn percentile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((self.total - 1) as f64 * q).round() as u64;
        let mut seen = 0;
        for (micros, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen > rank {
                return Duration::from_micros(micros as u64);
            }
        }
        Duration::from_micros(Self::BUCKETS as u64)
    }
}

/// What one load run measured.
pub(crate) struct LoadRun {
    /// Echo requests sent (and answered).
    pub(crate) messages: usize,
    pub(crate) per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// PONG round trips, when PINGs were interleaved.
    pub(crate) pong_p99: Option<Duration>,
    /// PONG round trips measured.
    pub(crate) pongs: usize,
    /// Backend CPU time (every thread) per message.
    pub(crate) cpu_per_message: Duration,
}

/// A backend's connection as raw halves, with what was already read.
pub(crate) struct Wire {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    input: BytesMut,
    child: tokio::process::Child,
    pub(crate) pid: u32,
    config: tempfile::TempPath,
}

impl Wire {
    pub(crate) fn new(backend: Backend) -> Wire {
        let parts = backend.reader.into_parts();
        Wire {
            read: parts.io,
            write: backend.writer,
            input: parts.read_buf,
            child: backend.child,
            pid: backend.pid,
            config: backend._config,
        }
    }

    pub(crate) fn into_backend(self) -> Backend {
        let mut reader = tokio_util::codec::FramedRead::with_capacity(
            self.read,
            spectrum_proto::FrameCodec::new(),
            256 * 1024,
        );
        reader.read_buffer_mut().extend_from_slice(&self.input);
        Backend {
            child: self.child,
            pid: self.pid,
            reader,
            writer: self.write,
            _config: self.config,
        }
    }

    /// Calls `each` for every whole frame read so far (type, payload).
    fn frames(&mut self, mut each: impl FnMut(u64, &[u8])) {
        let mut at = 0;
        while let Some(header) = self.input.get(at..at + 4) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(body) = self.input.get(at + 4..at + 4 + len) else {
                break;
            };
            let (kind, payload) = wrapper(body);
            each(kind, payload);
            at += 4 + len;
        }
        self.input.advance(at);
    }

    /// Reads what arrives, or writes some of `out`, whichever can go on.
    async fn step(&mut self, out: &mut BytesMut) -> Result<(), BoxError> {
        if self.input.capacity() - self.input.len() < 16 * 1024 {
            self.input.reserve(64 * 1024);
        }
        tokio::select! {
            n = self.read.read_buf(&mut self.input) => {
                if n? == 0 {
                    return Err("the backend closed the connection".into());
                }
            }
            n = self.write.write(out), if !out.is_empty() => out.advance(n?),
        }
        Ok(())
    }
}

/// CPU time of process `pid` so far, user and system, every thread
/// included, those that have ended too.
///
/// From `/proc/<pid>/stat`, in clock ticks (10 ms): summing the threads'
/// `schedstat` is finer, but loses a thread that ends in between (the
/// framework starts a fresh connection thread when a handler holds its
/// own), and once reported a tenth of the truth.
pub(crate) fn cpu_time(pid: u32) -> Duration {
    /// `USER_HZ`: what `/proc` counts CPU time in on Linux.
    const TICKS_PER_SECOND: u64 = 100;
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the name (in parentheses, which may hold
            // anything): state is the 3rd field, utime the 14th, stime
            // the 15th.
            let rest = stat.rsplit_once(')')?.1;
            let mut fields = rest.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// The whole machine's CPU time so far, in clock ticks: how much of it the
/// hypervisor gave to other guests (*steal*), and all of it. From the first
/// line of `/proc/stat`: user, nice, system, idle, iowait, irq, softirq and
/// steal (the guest times that follow are counted in user already).
pub(crate) fn host_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let stolen = *ticks.get(7)?;
    Some((stolen, ticks.iter().sum()))
}

/// What [`echo`] sends.
pub(crate) struct EchoLoad {
    /// Users (logged in already) the requests are spread over.
    pub(crate) users: usize,
    pub(crate) messages: usize,
    /// Requests unanswered at most.
    pub(crate) window: usize,
    /// A PING this often meanwhile, if any.
    pub(crate) ping_every: Option<Duration>,
    /// Go on sending, past `messages`, until this much time has passed.
    ///
    /// A time as well as a count: a backend that stalls now and then (a
    /// busy host does that to every backend) would otherwise be measured
    /// over less time, and so less exposed, the faster it is; and a PING
    /// every ms gives a p99 of a few hundred samples only over a fraction
    /// of a second.
    pub(crate) at_least: Duration,
}

/// Sends echo requests as `load` says: `messages` of them and for
/// `at_least`, whichever takes longer.
pub(crate) async fn echo(wire: &mut Wire, load: &EchoLoad) -> Result<LoadRun, BoxError> {
    let &EchoLoad {
        users,
        messages,
        window,
        ping_every,
        at_least,
    } = load;
    let names: Vec<Vec<u8>> = (0..users)
        .map(|u| crate::driver::user(u).into_bytes())
        .collect();
    // Fixed memory, whatever the run's length: growing a vector of every
    // message's times copied tens of megabytes in the middle of the load,
    // a stall of the driver that showed up in every backend's figures.
    // Replies carry their request's number, and at most `window` are
    // unanswered: a ring of send times serves.
    let ring = window.next_power_of_two();
    let mut sent_at = vec![0u64; ring];
    let mut rtts = Histogram::new();
    let mut pings: VecDeque<Instant> = VecDeque::new();
    let mut pongs = Vec::new();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut scratch = BytesMut::with_capacity(256);
    let (mut next, mut in_flight) = (0, 0);
    let cpu_before = cpu_time(wire.pid);
    let start = Instant::now();
    let mut next_ping = start;
    let mut bad = 0;
    loop {
        // Decided before waiting for input: with nothing more to send or
        // to receive, a wait would never end.
        let sending = next < messages || start.elapsed() < at_least;
        if !sending && in_flight == 0 && pings.is_empty() {
            break;
        }
        if sending && in_flight < window && out.len() < 64 * 1024 {
            let stamp = start.elapsed().as_nanos() as u64;
            while in_flight < window {
                sent_at[next & (ring - 1)] = stamp;
                put_message(&mut out, &mut scratch, &names[next % users], next);
                next += 1;
                in_flight += 1;
            }
        }
        if let Some(every) = ping_every
            && sending
        {
            let now = Instant::now();
            if now >= next_ping {
                put_frame(&mut out, PING, None);
                pings.push_back(now);
                next_ping = now + every;
            }
        }
        wire.step(&mut out).await?;
        let now = start.elapsed().as_nanos() as u64;
        wire.frames(|kind, payload| match kind {
            CONV_MESSAGE => {
                match bytes_field(payload, 3)
                    .and_then(parse_index)
                    .filter(|&k| k < next && next - k <= window)
                    .map(|k| sent_at[k & (ring - 1)])
                {
                    Some(sent) => {
                        rtts.record(now.saturating_sub(sent));
                        in_flight -= 1;
                    }
                    None => bad += 1,
                }
            }
            PONG => {
                if let Some(sent) = pings.pop_front() {
                    pongs.push(sent.elapsed());
                }
            }
            _ => {}
        });
        if bad > 0 {
            return Err("an echo that was never sent".into());
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time(wire.pid).saturating_sub(cpu_before);
    pongs.sort_unstable();
    Ok(LoadRun {
        messages: next,
        per_second: next as f64 / elapsed.as_secs_f64(),
        p50: rtts.percentile(0.50),
        p99: rtts.percentile(0.99),
        pong_p99: ping_every.map(|_| percentile(&pongs, 0.99)),
        pongs: pongs.len(),
        cpu_per_message: cpu / u32::try_from(next).unwrap_or(u32::MAX),
    })
}

/// `bursts` times: `size` echo requests over `users` in one write; the time
/// from that write to the first reply. Waits for every reply between bursts.
pub(crate) async fn first_reply(
    wire: &mut Wire,
    users: usize,
    size: usize,
    bursts: usize,
) -> Result<Vec<Duration>, BoxError> {
    let names: Vec<Vec<u8>> = (0..users)
        .map(|u| crate::driver::user(u).into_bytes())
        .collect();
    let mut scratch = BytesMut::with_capacity(256);
    let mut firsts = Vec::with_capacity(bursts);
    for _ in 0..bursts {
        let mut out = BytesMut::with_capacity(size * 64);
        for k in 0..size {
            put_message(&mut out, &mut scratch, &names[k % users], k);
        }
        let start = Instant::now();
        wire.write.write_all(&out).await?;
        let mut first = None;
        let mut got = 0;
        while got < size {
            if wire.read.read_buf(&mut wire.input).await? == 0 {
                return Err("the backend closed the connection".into());
            }
            wire.frames(|kind, _| {
                if kind == CONV_MESSAGE {
                    got += 1;
                    first.get_or_insert_with(|| start.elapsed());
                }
            });
        }
        firsts.push(first.unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    firsts.sort_unstable();
    Ok(firsts)
}

/// Logs in `users` users with one write of every LOGIN; the time from that
/// write to the last CONNECTED.
pub(crate) async fn logins(wire: &mut Wire, users: usize) -> Result<Duration, BoxError> {
    use prost::Message as _;
    let mut out = BytesMut::new();
    for u in 0..users {
        let login = spectrum_proto::Login {
            user: crate::driver::user(u),
            legacy_name: format!("user{u}"),
            password: "pw".into(),
            extra_fields: Vec::new(),
            settings: Some(spectrum_proto::login::UserSettings::default()),
        };
        put_frame(&mut out, LOGIN, Some(&login.encode_to_vec()));
    }
    let start = Instant::now();
    let mut connected = 0;
    while connected < users {
        wire.step(&mut out).await?;
        wire.frames(|kind, _| {
            if kind == CONNECTED {
                connected += 1;
            }
        });
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn hand_written_frames_are_what_prost_reads_and_scan_back() -> Result<(), BoxError> {
        let mut out = BytesMut::new();
        let mut scratch = BytesMut::new();
        put_message(&mut out, &mut scratch, b"user7@bench.localhost", 123_456);
        let mut codec = spectrum_proto::FrameCodec::new();
        let frame = tokio_util::codec::Decoder::decode(&mut codec, &mut out.clone())?
            .ok_or("no whole frame")??;
        let spectrum_proto::Payload::ConvMessage(m) = spectrum_proto::Payload::from_wrapper(frame)?
        else {
            return Err("not a message".into());
        };
        assert_eq!(
            (
                m.user_name.as_str(),
                m.buddy_name.as_str(),
                m.message.as_str()
            ),
            ("user7@bench.localhost", "bob", "123456")
        );
        let (kind, payload) = wrapper(&out[4..]);
        assert_eq!(kind, CONV_MESSAGE);
        assert_eq!(bytes_field(payload, 3).and_then(parse_index), Some(123_456));
        assert_eq!(spectrum_proto::ConversationMessage::decode(payload)?, m);
        Ok(())
    }
}
