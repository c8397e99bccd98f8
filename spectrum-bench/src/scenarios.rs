//! The measurements.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use spectrum_proto::{self as proto, Payload};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::driver::{self, Backend, BoxError, encode, memory_kib, message, next, percentile};
use crate::load::{self, EchoLoad};

/// The backends side by side: the framework, the hand-written loop, and the
/// raw echo that measures the driver's own ceiling.
const KINDS: [&str; 3] = ["framework", "handwritten", "raw"];

/// Figures kept in every round.
const IDLE_SESSIONS: usize = 10_000;
const ECHO_USERS: usize = 100;
/// How long the echo under load (with a PING every ms) goes on at least,
/// for every backend alike: about a thousand PONGs for its p99 (none with
/// `--quick`).
fn echo_at_least(quick: bool) -> Duration {
    if quick {
        Duration::ZERO
    } else {
        Duration::from_secs(1)
    }
}

/// One figure of one backend, over the runs.
struct Samples(Vec<f64>);

impl Samples {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// `median [min-max]`, each through `show`.
    fn show(&self, show: &dyn Fn(f64) -> String) -> String {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match self.0.len() {
            0 => "-".into(),
            1 => show(min),
            _ => format!("{} [{}-{}]", show(self.median()), show(min), show(max)),
        }
    }
}

/// What one round measured of one backend.
#[derive(Default)]
struct Round {
    echo_per_s: f64,
    echo_p99_ms: f64,
    pong_p99_ms: f64,
    cpu_us_w1: f64,
    first_reply_ms: f64,
    logins_per_s: f64,
    idle_mib: f64,
    exit_ms: f64,
}

/// Figures for one backend kind, one round: logins, idle memory, echo with
/// PINGs, CPU at window 1, first reply of a burst, then EXIT.
async fn round(kind: &str, quick: bool, window: usize) -> Result<Round, BoxError> {
    let (messages, w1, bursts) = if quick {
        (20_000, 2_000, 5)
    } else {
        (200_000, 20_000, 20)
    };
    let backend = Backend::spawn(kind).await?;
    let mut wire = load::Wire::new(backend);
    let mut r = Round::default();
    let login_time = load::logins(&mut wire, IDLE_SESSIONS).await?;
    r.logins_per_s = IDLE_SESSIONS as f64 / login_time.as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.idle_mib = memory_kib(wire.pid).0 as f64 / 1024.0;
    let under_load = EchoLoad {
        users: ECHO_USERS,
        messages,
        window,
        ping_every: Some(Duration::from_millis(1)),
        at_least: echo_at_least(quick),
    };
    let run = load::echo(&mut wire, &under_load).await?;
    r.echo_per_s = run.per_second;
    r.echo_p99_ms = run.p99.as_secs_f64() * 1e3;
    r.pong_p99_ms = run.pong_p99.unwrap_or_default().as_secs_f64() * 1e3;
    let one_at_a_time = EchoLoad {
        users: ECHO_USERS,
        messages: w1,
        window: 1,
        ping_every: None,
        at_least: Duration::ZERO,
    };
    let run = load::echo(&mut wire, &one_at_a_time).await?;
    r.cpu_us_w1 = run.cpu_per_message.as_secs_f64() * 1e6;
    let firsts = load::first_reply(&mut wire, ECHO_USERS, 1_000, bursts).await?;
    r.first_reply_ms = percentile(&firsts, 0.5).as_secs_f64() * 1e3;
    let backend = wire.into_backend();
    let started = Instant::now();
    backend.exit().await?;
    r.exit_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(r)
}

type Get = fn(&Round) -> f64;
/// A printed row: name, figure, how it is shown, the framework's target.
type Row = (&'static str, Get, fn(f64) -> String, &'static str);

/// The printed rows: name, figure, how it is shown, target of the
/// framework (a ratio to the hand-written loop or an absolute figure).
const ROWS: [Row; 7] = [
    (
        "echo msg/s, 100 users",
        |r| r.echo_per_s,
        kilo,
        "ratio >= 0.8",
    ),
    (
        "backend CPU/message, W=1",
        |r| r.cpu_us_w1,
        micros,
        "ratio <= 1.3",
    ),
    (
        "first reply, 1,000 burst",
        |r| r.first_reply_ms,
        millis,
        "ratio <= 1.5",
    ),
    (
        "PONG p99 under echo load",
        |r| r.pong_p99_ms,
        millis,
        "<= 0.5 ms",
    ),
    ("RSS, 10,000 idle users", |r| r.idle_mib, mebi, "<= 16 MiB"),
    (
        "10,000 pipelined logins/s",
        |r| r.logins_per_s,
        kilo,
        ">= 250k",
    ),
    (
        "EXIT to exit, 10,000 users",
        |r| r.exit_ms,
        millis,
        "<= 50 ms",
    ),
];

fn kilo(v: f64) -> String {
    format!("{:.0}k", v / 1e3)
}
fn millis(v: f64) -> String {
    format!("{v:.2} ms")
}
fn micros(v: f64) -> String {
    format!("{v:.1} us")
}
fn mebi(v: f64) -> String {
    format!("{v:.1} MiB")
}
fn ratio(v: f64) -> String {
    format!("{v:.2}")
}

/// Runs every measurement `runs` times, backends interleaved, and prints
/// the median and the range of each; `window` echo messages in flight.
pub(crate) async fn all(quick: bool, window: usize, runs: usize) -> Result<(), BoxError> {
    let messages = if quick { 20_000 } else { 200_000 };
    println!(
        "spectrum-backend benchmarks: {} CPUs, allocator {}, {runs} runs, median [min-max]",
        cpus(),
        crate::ALLOCATOR_NAME
    );
    println!(
        "per run and backend: {IDLE_SESSIONS} pipelined logins, idle memory, {messages} echoes \
         (and for at least {:?}) over {ECHO_USERS} users with {window} in flight and a PING \
         every ms, echoes one at a time (CPU), bursts of 1,000 (first reply), EXIT",
        echo_at_least(quick)
    );
    println!("raw: a blocking echo with no runtime and no decode, the driver's ceiling\n");
    let host_before = load::host_ticks();
    let mut rounds: Vec<Vec<Round>> = KINDS.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        for (k, kind) in KINDS.iter().enumerate() {
            rounds[k].push(round(kind, quick, window).await?);
        }
        eprintln!("run {} of {runs} done", run + 1);
    }
    let col = |k: usize, get: Get| Samples(rounds[k].iter().map(get).collect());
    println!(
        "  {:<27} {:>25} {:>25} {:>25} {:>18}  target",
        "figure", "framework", "hand-written", "raw (ceiling)", "framework/hand"
    );
    for (name, get, show, target) in ROWS {
        let ratios = Samples(
            rounds[0]
                .iter()
                .zip(&rounds[1])
                .map(|(f, h)| get(f) / get(h))
                .collect(),
        );
        println!(
            "  {name:<27} {:>25} {:>25} {:>25} {:>18}  {target}",
            col(0, get).show(&show),
            col(1, get).show(&show),
            col(2, get).show(&show),
            ratios.show(&ratio),
        );
    }
    let p99: Get = |r| r.echo_p99_ms;
    println!(
        "  {:<27} {:>25} {:>25} {:>25}",
        "echo round trip p99",
        col(0, p99).show(&millis),
        col(1, p99).show(&millis),
        col(2, p99).show(&millis),
    );
    // The driver limits a figure when the raw echo, which does almost
    // nothing, is not clearly faster than the backend measured.
    let ceiling = col(2, |r| r.echo_per_s).median();
    for (k, kind) in KINDS.iter().enumerate().take(2) {
        let rate = col(k, |r| r.echo_per_s).median();
        if rate >= 0.85 * ceiling {
            println!(
                "  note: the {kind} echo reached {:.0} % of the raw echo: the driver (and \
                 loopback) was the limit; its figure is a lower bound",
                100.0 * rate / ceiling
            );
        }
    }

    // On a virtual machine, time the hypervisor gives to other guests
    // stalls every backend alike, at random: what makes one set of runs
    // differ from the next more than any change measured.
    if let (Some((stolen0, all0)), Some((stolen1, all1))) = (host_before, load::host_ticks())
        && all1 > all0
    {
        println!(
            "  host: {:.1} % of the CPU time during these runs went to other guests \
             (steal, /proc/stat)",
            100.0 * (stolen1 - stolen0) as f64 / (all1 - all0) as f64
        );
    }

    println!("\nPONG round trip while 100 sessions are busy in slow handlers (50 ms each)");
    for mode in ["sleep", "block"] {
        let (p50, p99, max) = pong_under_load(mode, 100, 50, if quick { 100 } else { 300 }).await?;
        let what = if mode == "sleep" {
            "async sleep"
        } else {
            "blocking sleep"
        };
        println!(
            "  {what:<15} p50 {:>9}  p99 {:>9}  max {:>9}",
            ms(p50),
            ms(p99),
            ms(max)
        );
    }
    Ok(())
}

pub(crate) async fn echo(kind: &str, sent: EchoLoad) -> Result<(), BoxError> {
    let (users, window) = (sent.users, sent.window);
    let mut backend = Backend::spawn(kind).await?;
    backend.login_all(users).await?;
    let mut wire = load::Wire::new(backend);
    let run = load::echo(&mut wire, &sent).await?;
    wire.into_backend().exit().await?;
    println!(
        "{kind}: {users} users, {} messages, {window} in flight: {:.0} msg/s, p50 {}, \
         p99 {}, backend CPU {:.2} us per message",
        run.messages,
        run.per_second,
        ms(run.p50),
        ms(run.p99),
        run.cpu_per_message.as_secs_f64() * 1e6
    );
    if let Some(p99) = run.pong_p99 {
        println!(
            "{kind}: PONG round trip p99 {} ({} PINGs)",
            ms(p99),
            run.pongs
        );
    }
    Ok(())
}

pub(crate) async fn pong(mode: &str, pings: usize) -> Result<(), BoxError> {
    let (p50, p99, max) = pong_under_load(mode, 100, 50, pings).await?;
    println!(
        "PONG with 100 sessions busy ({mode}): p50 {}  p99 {}  max {}",
        ms(p50),
        ms(p99),
        ms(max)
    );
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// PONG round trips while every one of `users` sessions always has a
/// `handler_ms` handler running (`mode`: `sleep` or `block`).
async fn pong_under_load(
    mode: &str,
    users: usize,
    handler_ms: u64,
    pings: usize,
) -> Result<(Duration, Duration, Duration), BoxError> {
    let mut backend = Backend::spawn("framework").await?;
    backend.login_all(users).await?;
    let Backend {
        mut reader,
        mut writer,
        child,
        _config,
        ..
    } = backend;
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Payload>>();
    let writer_task = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        while let Some(frames) = rx.recv().await {
            encode(&frames, &mut buf)?;
            writer.write_all(&buf).await?;
            buf.clear();
        }
        Ok::<_, BoxError>(writer)
    });
    let busy = |u: usize| message(u, format!("{mode}:{handler_ms}"));
    // Two queued per user: a handler is always running, another waiting.
    tx.send((0..users).flat_map(|u| [busy(u), busy(u)]).collect())?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ticker = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            let mut sent = Vec::with_capacity(pings);
            for _ in 0..pings {
                interval.tick().await;
                sent.push(Instant::now());
                if tx.send(vec![Payload::Ping]).is_err() {
                    break;
                }
            }
            sent
        })
    };
    let mut pongs = Vec::with_capacity(pings);
    while pongs.len() < pings {
        match next(&mut reader).await? {
            Payload::Pong => pongs.push(Instant::now()),
            Payload::ConvMessage(m) => {
                let u: usize = m
                    .user_name
                    .trim_start_matches("user")
                    .split('@')
                    .next()
                    .unwrap_or("0")
                    .parse()?;
                tx.send(vec![busy(u)])?;
            }
            _ => {}
        }
    }
    let sent = ticker.await?;
    let mut rtts: Vec<Duration> = sent
        .iter()
        .zip(&pongs)
        .map(|(s, r)| r.duration_since(*s))
        .collect();
    rtts.sort_unstable();
    drop(tx);
    let writer = writer_task.await??;
    let backend = Backend {
        reader,
        writer,
        pid: 0,
        child,
        _config,
    };
    backend.exit().await?;
    Ok((
        percentile(&rtts, 0.5),
        percentile(&rtts, 0.99),
        rtts.last().copied().unwrap_or_default(),
    ))
}

/// What the soak run expects back for what it sent.
#[derive(Default)]
struct Ledger {
    sent: u64,
    received: u64,
    expected: HashMap<&'static str, u64>,
    got: HashMap<&'static str, u64>,
}

impl Ledger {
    fn expect(&mut self, kind: &'static str, n: u64) {
        *self.expected.entry(kind).or_default() += n;
    }
    fn lost(&self) -> u64 {
        self.expected
            .iter()
            .map(|(k, n)| n.saturating_sub(self.got.get(k).copied().unwrap_or(0)))
            .sum()
    }
}

pub(crate) async fn soak(seconds: u64, users: usize) -> Result<(), BoxError> {
    let users = users.max(1);
    println!("soak: {users} users, mixed load for {seconds} s (loopback only)");
    let mut backend = Backend::spawn("framework").await?;
    // One extra user only logs out and in, so its traffic never races a logout.
    let cycler = users;
    backend.login_all(users + 1).await?;
    let pid = backend.pid;
    let Backend {
        mut reader,
        mut writer,
        child,
        _config,
        ..
    } = backend;
    let mut ledger = Ledger::default();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut report = tokio::time::interval(Duration::from_secs(5));
    let mut round: usize = 0;
    let mut buf = BytesMut::new();
    println!(
        "  {:>6} {:>10} {:>10} {:>10} {:>10}",
        "time", "sent", "received", "in flight", "RSS"
    );
    loop {
        tokio::select! {
            frame = next(&mut reader) => {
                let kind = kind_of(&frame?);
                ledger.received += 1;
                *ledger.got.entry(kind).or_default() += 1;
            }
            _ = report.tick() => {
                let (rss, _) = memory_kib(pid);
                let in_flight = ledger.expected.values().sum::<u64>().saturating_sub(ledger.got.values().sum::<u64>());
                println!("  {:>5}s {:>10} {:>10} {:>10} {:>7} KiB", start.elapsed().as_secs(), ledger.sent, ledger.received, in_flight, rss);
            }
            _ = tick.tick(), if Instant::now() < deadline => {
                round += 1;
                let u = round % users;
                let mut frames = vec![message(u, format!("soak {round}")), message((u + 7) % users, format!("soak {round}b"))];
                ledger.expect("CONV_MESSAGE", 2);
                if round.is_multiple_of(10) {
                    frames.push(Payload::Vcard(proto::VCard { user_name: driver::user(u), buddy_name: "bob".into(), id: round as i32, ..Default::default() }));
                    ledger.expect("VCARD", 1);
                    frames.push(Payload::JoinRoom(proto::Room { user_name: driver::user(u), nickname: "me".into(), room: format!("#r{}", round % 50), password: Some(String::new()) }));
                    ledger.expect("PARTICIPANT_CHANGED", 2);
                }
                if round.is_multiple_of(50) {
                    frames.push(Payload::Ping);
                    ledger.expect("PONG", 1);
                    ledger.expect("STATS", 1);
                    frames.push(Payload::Logout(proto::Logout { user: driver::user(cycler), legacy_name: format!("user{cycler}") }));
                    frames.push(driver::login(cycler));
                    ledger.expect("CONNECTED", 1);
                }
                ledger.sent += frames.len() as u64;
                encode(&frames, &mut buf)?;
                writer.write_all(&buf).await?;
                buf.clear();
            }
            () = tokio::time::sleep_until(deadline.into()), if Instant::now() >= deadline => {
                if ledger.lost() == 0 || Instant::now() > deadline + Duration::from_secs(10) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let (rss, peak) = memory_kib(pid);
    let backend = Backend {
        reader,
        writer,
        pid,
        child,
        _config,
    };
    backend.exit().await?;
    println!(
        "\nframes sent {}, received {}, lost {}",
        ledger.sent,
        ledger.received,
        ledger.lost()
    );
    println!("backend memory: resident {rss} KiB at the end, peak {peak} KiB");
    if ledger.lost() > 0 {
        let mut kinds: Vec<_> = ledger
            .expected
            .iter()
            .map(|(k, n)| (k, n, ledger.got.get(k).copied().unwrap_or(0)))
            .filter(|(_, n, got)| got < n)
            .collect();
        kinds.sort();
        return Err(format!(
            "{} expected frames never arrived (kind, expected, received): {kinds:?}",
            ledger.lost()
        )
        .into());
    }
    Ok(())
}

fn kind_of(p: &Payload) -> &'static str {
    p.message_type()
        .map_or("UNKNOWN", |t| t.as_str_name().trim_start_matches("TYPE_"))
}

/// A main instance that sends `messages` echo requests and reads nothing
/// until it has sent them all (or the backend stopped taking them); then it
/// reads every echo. Prints the backend's memory during the unread phase
/// against its input bound.
pub(crate) async fn unread(messages: usize) -> Result<(), BoxError> {
    let mut backend = Backend::spawn("framework").await?;
    backend.login_all(1).await?;
    let (baseline, _) = memory_kib(backend.pid);
    let Backend {
        child,
        pid,
        mut reader,
        mut writer,
        _config,
    } = backend;
    let sent = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&sent);
    let flood = tokio::spawn(async move {
        let text = "m".repeat(64);
        let mut buf = bytes::BytesMut::new();
        let mut i = 0;
        while i < messages {
            let batch: Vec<Payload> = (i..(i + 1000).min(messages))
                .map(|_| driver::message(0, text.clone()))
                .collect();
            buf.clear();
            driver::encode(&batch, &mut buf)?;
            writer.write_all(&buf).await?;
            i += batch.len();
            progress.store(i, Ordering::Relaxed);
        }
        Ok::<_, BoxError>(writer)
    });
    // Unread phase: until the flood is all sent, or has made no progress
    // for 8 s (the backend stopped reading: backpressure), longer than the
    // 5 s after which a handler that does not keep up is stopped: waiting
    // for the main instance is not that.
    let mut peak = baseline;
    let mut last = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (rss, _) = memory_kib(pid);
        peak = peak.max(rss);
        let now = sent.load(Ordering::Relaxed);
        if flood.is_finished() {
            break;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let held_at = sent.load(Ordering::Relaxed);
    println!(
        "unread flood of {messages} messages: the main wrote {held_at} before the backend \
         stopped reading; backend RSS {:.1} MiB at rest, peak {:.1} MiB unread (+{:.1} MiB; \
         input bound {} MiB per user, {} MiB total)",
        baseline as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(baseline) as f64 / 1024.0,
        spectrum_backend::DEFAULT_INPUT_PER_USER >> 20,
        spectrum_backend::DEFAULT_INPUT_TOTAL >> 20,
    );
    // Now read: every message comes back.
    let started = Instant::now();
    let mut echoed = 0;
    while echoed < messages {
        if let Payload::ConvMessage(_) = driver::next(&mut reader).await? {
            echoed += 1;
        }
    }
    let mut writer = flood.await??;
    let (_, hwm) = memory_kib(pid);
    println!(
        "then read: all {echoed} echoed in {:.1} s; backend peak RSS over the whole run {:.1} MiB",
        started.elapsed().as_secs_f64(),
        hwm as f64 / 1024.0
    );
    let mut buf = bytes::BytesMut::new();
    driver::encode(&[Payload::Exit], &mut buf)?;
    writer.write_all(&buf).await?;
    while driver::next(&mut reader).await.is_ok() {}
    let _ = writer.shutdown().await;
    let mut child = child;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await??;
    if !status.success() {
        return Err(format!("the backend exited with {status}").into());
    }
    Ok(())
}

/// EXIT with `sessions` logged in: time from EXIT to the backend's exit, and
/// the lines it logged (at `info`) while shutting down.
pub(crate) async fn shutdown(sessions: usize) -> Result<(), BoxError> {
    use tokio::io::AsyncBufReadExt as _;
    let mut backend =
        Backend::spawn_with("framework", "info", std::process::Stdio::piped()).await?;
    let stderr = backend.child.stderr.take().ok_or("no stderr")?;
    let lines = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&lines);
    let counter = tokio::spawn(async move {
        let mut reader = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(_)) = reader.next_line().await {
            counting.fetch_add(1, Ordering::Relaxed);
        }
    });
    backend.login_all(sessions).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = lines.load(Ordering::Relaxed);
    let started = Instant::now();
    backend.exit().await?;
    let elapsed = started.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(5), counter).await;
    println!(
        "shutdown with {sessions} sessions: EXIT to process exit {}; {} log lines while \
         shutting down",
        ms(elapsed),
        lines.load(Ordering::Relaxed) - before
    );
    Ok(())
}
