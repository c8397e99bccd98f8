//! Reliability: what the main instance receives when things go wrong on the
//! wire or in a handler — a main that vanishes mid-frame, oversized and
//! invalid frames, a main that reads slowly under a flood, a handler that
//! never returns, and many users coming and going.
//!
//! Every test runs a backend in-process over a real loopback socket and
//! asserts the frames the main instance gets. Assertions are about order and
//! counts; timeouts only guard against hangs.

#![allow(clippy::unwrap_used)]

mod common;
use common::{from_backend, logouts};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, FrameCodec, Payload};
use spectrum_backend::testing::{MainInstance, Result, spectrum_argv};
use spectrum_backend::{Args, Config, Runtime};
use tokio_util::codec::Encoder as _;

const CONFIG: &str = "[service]\njid = faults.localhost\n";

/// How many ~1 KiB messages the flood handler sends.
const FLOOD: usize = 20_000;

/// How far the flood handler got: messages queued so far.
struct Progress(Arc<AtomicUsize>);

/// How many times the logout handler ran.
struct LoggedOut(Arc<AtomicUsize>);

/// A session whose messages say what to do; see [`Faulty::message`].
struct Faulty {
    /// The login's password, echoed by the logout handler.
    tag: String,
}

#[backend]
impl Faulty {
    /// Sends a one-contact roster, then connects.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self, Error> {
        ctx.buddy("roster").send().await?;
        Ok(Faulty {
            tag: login.password,
        })
    }

    /// `flood` sends [`FLOOD`] messages of about 1 KiB, counting them in
    /// [`Progress`]; `hang` never returns; anything else is echoed.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<(), Error> {
        match msg.message.as_str() {
            "flood" => {
                let progress = &ctx.state::<Progress>().0;
                let padding = "x".repeat(1000);
                for i in 0..FLOOD {
                    ctx.message("flood", format!("{i:05} {padding}"))
                        .send()
                        .await?;
                    progress.store(i + 1, Ordering::SeqCst);
                }
                Ok(())
            }
            "hang" => std::future::pending().await,
            text => ctx.message(&msg.buddy_name, text).send().await,
        }
    }

    /// Counts in [`LoggedOut`] (when registered) and tells the main instance.
    #[on(Logout)]
    async fn logout(self, ctx: &Ctx, _logout: Logout) -> Result<(), Error> {
        if let Some(count) = ctx.backend().try_state::<LoggedOut>() {
            count.0.fetch_add(1, Ordering::SeqCst);
        }
        ctx.buddy_removed(format!("logout:{}", self.tag)).await
    }
}

/// The bytes of one frame as the main instance writes it.
fn wire(payload: &Payload) -> Vec<u8> {
    let mut buf = BytesMut::new();
    FrameCodec::new()
        .encode(payload.to_wrapper(), &mut buf)
        .unwrap();
    buf.to_vec()
}

const PING: [u8; 6] = [0, 0, 0, 2, 0x08, 0x09];

/// The next two frames are exactly PONG and STATS.
async fn expect_pong_and_stats(main: &mut MainInstance) -> Result<()> {
    let pong = main.recv().await?;
    let stats = main.recv().await?;
    if pong != Payload::Pong || !matches!(stats, Payload::Stats(_)) {
        return Err(main.failure(format!(
            "expected PONG then STATS, got {pong:?} then {stats:?}"
        )));
    }
    Ok(())
}

/// Waits, without reading, until the flood handler's progress stops
/// changing; where it stopped.
async fn wait_for_stall(main: &MainInstance, progress: &AtomicUsize) -> Result<usize> {
    let started = Instant::now();
    let (mut last, mut unchanged) = (usize::MAX, 0);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = progress.load(Ordering::SeqCst);
        if now == last && now > 0 {
            unchanged += 1;
            if unchanged == 5 {
                return Ok(now);
            }
        } else {
            unchanged = 0;
        }
        last = now;
        if started.elapsed() > Duration::from_secs(30) {
            return Err(main.failure(format!(
                "the flood never stalled while nobody read (at {now} of {FLOOD})"
            )));
        }
    }
}

async fn round_trip(main: &mut MainInstance, user: &str, text: &str) -> Result<()> {
    main.send_message(user, "bob", text).await?;
    let reply = main.expect_message(user).await?;
    assert_eq!(reply.message, text);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_vanishing_mid_frame_ends_the_backend_cleanly() -> Result<()> {
    let mut main = MainInstance::start::<Faulty>(CONFIG).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.login("b@localhost", "b", "b").await?;
    let frame = wire(&Payload::ConvMessage(proto::ConversationMessage {
        user_name: "a@localhost".into(),
        buddy_name: "bob".into(),
        message: "never complete".into(),
        ..Default::default()
    }));
    main.send_raw(&frame[..frame.len() / 2]).await?;
    assert_eq!(main.close_and_wait().await?, 0, "a clean exit");
    let frames = from_backend(&main);
    assert_eq!(logouts(&frames, "a@localhost"), ["logout:a"]);
    assert_eq!(logouts(&frames, "b@localhost"), ["logout:b"]);
    assert!(
        !frames.iter().any(|p| matches!(p, Payload::ConvMessage(_))),
        "half a frame is not a message: {frames:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_is_skipped_and_the_stream_goes_on() -> Result<()> {
    let mut main =
        MainInstance::start_with::<Faulty>(CONFIG, |rt| rt.max_frame_length(1024)).await?;
    main.handshake().await?;
    // A 4096-byte body over the 1024-byte maximum, made of PING frames: a
    // reader that lost the frame boundary would answer them.
    let mut big = 4096u32.to_be_bytes().to_vec();
    while big.len() + PING.len() <= 4 + 4096 {
        big.extend_from_slice(&PING);
    }
    big.resize(4 + 4096, 0);
    // In pieces: the skipping spans reads.
    main.send_raw(&big[..1500]).await?;
    main.send_raw(&big[1500..]).await?;
    main.send(Payload::Ping).await?;
    expect_pong_and_stats(&mut main).await?;

    main.login("a@localhost", "a", "a").await?;
    round_trip(&mut main, "a@localhost", "after the big frame").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let pongs = from_backend(&main)
        .iter()
        .filter(|p| **p == Payload::Pong)
        .count();
    assert_eq!(
        pongs, 2,
        "one PONG per real PING, none for the skipped bytes"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_a_valid_frame_is_skipped() -> Result<()> {
    let mut main = MainInstance::start::<Faulty>(CONFIG).await?;
    main.handshake().await?;
    // One write: PING, a well-framed body that is no WrapperMessage, PING.
    let mut bytes = PING.to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
    bytes.extend_from_slice(&PING);
    main.send_raw(&bytes).await?;
    expect_pong_and_stats(&mut main).await?;
    expect_pong_and_stats(&mut main).await?;
    // The connection is still up and serving.
    main.login("a@localhost", "a", "a").await?;
    round_trip(&mut main, "a@localhost", "still up").await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_invalid_frame_is_skipped() -> Result<()> {
    let mut main = MainInstance::start::<Faulty>(CONFIG).await?;
    main.handshake().await?;
    let mut bytes = Vec::new();
    // A zero-length frame: the wrapper's required type is missing.
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    // An unknown type number (99).
    bytes.extend_from_slice(&[0, 0, 0, 2, 0x08, 99]);
    // A dead FT_START (24).
    bytes.extend_from_slice(&[0, 0, 0, 2, 0x08, 24]);
    // LOGIN{user="u"} without its required legacyName and password.
    bytes.extend_from_slice(&[0, 0, 0, 7, 0x08, 3, 0x12, 3, 0x0a, 1, b'u']);
    // RAW_XML that is not UTF-8.
    bytes.extend_from_slice(&[0, 0, 0, 6, 0x08, 34, 0x12, 2, 0xff, 0xfe]);
    // A type only backends send (PONG), and API_VERSION, never sent by the main.
    bytes.extend(wire(&Payload::Pong));
    bytes.extend(wire(&Payload::ApiVersion(proto::ApiVersion { version: 1 })));
    bytes.extend_from_slice(&PING);
    main.send_raw(&bytes).await?;
    main.expect_type(proto::MessageType::Pong).await?;
    // The invalid LOGIN still names its user: that user is told, not left waiting.
    let refused = main
        .expect("DISCONNECTED for u", |p| match p {
            Payload::Disconnected(d) if d.user == "u" => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert!(
        refused.message().contains("could not read this login"),
        "{refused:?}"
    );

    main.login("a@localhost", "a", "a").await?;
    round_trip(&mut main, "a@localhost", "still up").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert!(
        !frames
            .iter()
            .any(|p| matches!(p, Payload::Connected(c) if c.user == "u")),
        "an invalid LOGIN starts no session"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_main_gets_every_frame_in_order_and_holds_the_flood_back() -> Result<()> {
    let progress = Arc::new(AtomicUsize::new(0));
    let state = Progress(Arc::clone(&progress));
    let mut main = MainInstance::start_with::<Faulty>(CONFIG, |rt| rt.with_state(state)).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.send_message("a@localhost", "bob", "flood").await?;

    // Do not read. The handler runs until the socket and the bounded queue
    // are full, then waits: its progress stops changing.
    let stalled = wait_for_stall(&main, &progress).await?;
    assert!(
        stalled < FLOOD / 2,
        "backpressure: the handler stalled at {stalled} of {FLOOD} while nobody read"
    );

    // Read slowly at first, then at full speed: everything arrives, in order.
    for i in 0..FLOOD {
        if i < 200 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let m = main.expect_message("a@localhost").await?;
        let prefix = format!("{i:05} ");
        if m.buddy_name != "flood" || !m.message.starts_with(&prefix) || m.message.len() != 1006 {
            return Err(main.failure(format!(
                "message {i} is wrong or out of order: {:?}",
                &m.message[..m.message.len().min(20)]
            )));
        }
    }
    assert_eq!(progress.load(Ordering::SeqCst), FLOOD);
    main.ping().await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_from_a_main_that_reads_nothing_still_ends_the_backend() -> Result<()> {
    // Run by hand, to watch the runtime's own task end.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let args = Args::parse(spectrum_argv(port, 1, Path::new("faults.cfg"))).unwrap();
    let progress = Arc::new(AtomicUsize::new(0));
    let runtime = Runtime::<Faulty>::new(args, Config::parse(CONFIG).unwrap())
        .with_state(Progress(Arc::clone(&progress)))
        .shutdown_grace(Duration::from_millis(300));
    let task = tokio::spawn(runtime.run());
    let mut main = MainInstance::accept_from(listener).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.send_message("a@localhost", "bob", "flood").await?;
    let stalled = wait_for_stall(&main, &progress).await?;
    assert!(stalled < FLOOD, "the flood is held back ({stalled})");

    // EXIT, and still read nothing: the backend must stop all the same.
    main.send(Payload::Exit).await?;
    let run = match tokio::time::timeout(Duration::from_secs(10), task).await {
        Ok(run) => run.expect("the runtime task does not panic"),
        Err(_) => {
            return Err(
                main.failure("the backend did not stop after EXIT while the main was not reading")
            );
        }
    };
    assert!(run.is_ok(), "{run:?}");

    // A main that reads nothing cannot be given everything: the backend
    // stopped instead of waiting forever. What did reach the socket is an
    // in-order prefix of what the handler queued, with no gap.
    assert_eq!(main.close_and_wait().await?, 0);
    let sent = progress.load(Ordering::SeqCst);
    let texts: Vec<String> = from_backend(&main)
        .into_iter()
        .filter_map(|p| match p {
            Payload::ConvMessage(m) => Some(m.message),
            _ => None,
        })
        .collect();
    assert!(
        texts.len() <= sent,
        "{} frames for {sent} sent",
        texts.len()
    );
    assert!(!texts.is_empty(), "the frames written before EXIT arrive");
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.starts_with(&format!("{i:05} ")),
            "message {i} out of order"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_that_never_returns_blocks_neither_others_nor_exit() -> Result<()> {
    let mut main = MainInstance::start_with::<Faulty>(CONFIG, |rt| {
        rt.shutdown_grace(Duration::from_millis(500))
    })
    .await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.login("b@localhost", "b", "b").await?;
    main.send_message("a@localhost", "bob", "hang").await?;
    main.send_message("a@localhost", "bob", "queued behind the hang")
        .await?;
    round_trip(&mut main, "b@localhost", "b is served").await?;
    main.ping().await?;
    main.login("c@localhost", "c", "c").await?;
    round_trip(&mut main, "c@localhost", "so is a newcomer").await?;

    // EXIT ends the process once the grace has run out: well within the
    // harness's guard (ten times the grace).
    main.set_timeout(Duration::from_secs(5));
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert_eq!(logouts(&frames, "b@localhost"), ["logout:b"]);
    assert_eq!(logouts(&frames, "c@localhost"), ["logout:c"]);
    assert!(
        logouts(&frames, "a@localhost").is_empty(),
        "the hung session is abandoned"
    );
    assert!(
        !frames
            .iter()
            .any(|p| matches!(p, Payload::ConvMessage(m) if m.user_name == "a@localhost")),
        "{frames:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_users_log_in_and_out_repeatedly() -> Result<()> {
    const USERS: usize = 1000;
    const ROUNDS: usize = 3;
    let logged_out = Arc::new(AtomicUsize::new(0));
    let state = LoggedOut(Arc::clone(&logged_out));
    let mut main = MainInstance::start_with::<Faulty>(CONFIG, |rt| rt.with_state(state)).await?;
    main.handshake().await?;
    let jid = |i: usize| format!("user{i}@localhost");
    for round in 0..ROUNDS {
        for i in 0..USERS {
            main.send(Payload::Login(proto::Login {
                user: jid(i),
                legacy_name: format!("user{i}"),
                password: format!("{round}-{i}"),
                extra_fields: Vec::new(),
                settings: Some(proto::login::UserSettings::default()),
            }))
            .await?;
        }
        // Per user: the roster, then CONNECTED.
        let mut seen: HashMap<String, Vec<&'static str>> = HashMap::new();
        let mut connected = 0;
        while connected < USERS {
            match main.recv().await? {
                Payload::BuddyChanged(b) => seen.entry(b.user_name).or_default().push("roster"),
                Payload::Connected(c) => {
                    connected += 1;
                    seen.entry(c.user).or_default().push("connected");
                }
                other => return Err(main.failure(format!("unexpected {other:?}"))),
            }
        }
        assert_eq!(seen.len(), USERS);
        assert!(seen.values().all(|v| *v == ["roster", "connected"]));

        for i in 0..USERS {
            main.logout(&jid(i), &format!("user{i}")).await?;
        }
        let mut gone: HashMap<String, String> = HashMap::new();
        while gone.len() < USERS {
            match main.recv().await? {
                Payload::BuddyRemoved(b) => {
                    let previous = gone.insert(b.user_name.clone(), b.buddy_name);
                    assert!(previous.is_none(), "{} logged out twice", b.user_name);
                }
                other => return Err(main.failure(format!("unexpected {other:?}"))),
            }
        }
        for i in 0..USERS {
            assert_eq!(gone[&jid(i)], format!("logout:{round}-{i}"));
        }
        assert_eq!(logged_out.load(Ordering::SeqCst), USERS * (round + 1));
    }
    assert_eq!(main.exit_and_wait().await?, 0);
    // Nothing more: no session was left over to log out at EXIT.
    assert_eq!(logged_out.load(Ordering::SeqCst), USERS * ROUNDS);
    let frames = from_backend(&main);
    let count = |f: fn(&Payload) -> bool| frames.iter().filter(|p| f(p)).count();
    assert_eq!(
        count(|p| matches!(p, Payload::Connected(_))),
        USERS * ROUNDS
    );
    assert_eq!(
        count(|p| matches!(p, Payload::BuddyChanged(_))),
        USERS * ROUNDS
    );
    assert_eq!(
        count(|p| matches!(p, Payload::BuddyRemoved(_))),
        USERS * ROUNDS
    );
    Ok(())
}
