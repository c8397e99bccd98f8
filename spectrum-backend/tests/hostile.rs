//! What the main instance receives when it pushes the backend hard or sends
//! what it should not: PINGs by the thousand, a corrupt length prefix, a
//! LOGIN that is not UTF-8, answers owed to users without a session while
//! nothing is read, concurrent and failing QUERYs, a stuck handler
//! under a flood, and input beyond every queue's bound.
//!
//! Every test runs a backend over a real loopback socket and asserts the
//! frames the main instance gets. Timeouts only guard against hangs.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, MessageType, Payload};
use spectrum_backend::testing::{self, MainInstance, Result, spectrum_argv};
use spectrum_backend::{Args, Config, RunError, Runtime};

const CONFIG: &str = "[service]\njid = hostile.localhost\n";

/// Holds `wait` messages until the test opens it.
#[derive(Default, Clone)]
struct Gate(Arc<tokio::sync::Notify>);

/// `wait` echoes once the gate opens; `hang` never returns; `slow` echoes
/// after 100 ms; `query:CMD`
/// answers `CMD=>OUTPUT` (or `error:..`), `query-repeat:N` the same for a
/// command of N `x`; anything else is echoed.
struct Probe;

#[backend]
impl Probe {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Probe
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<(), Error> {
        let (command, arg) = msg
            .message
            .split_once(':')
            .unwrap_or((msg.message.as_str(), ""));
        match command {
            "wait" => {
                ctx.state::<Gate>().0.notified().await;
                ctx.message(&msg.buddy_name, "waited").send().await
            }
            "hang" => std::future::pending().await,
            "slow" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                ctx.message(&msg.buddy_name, "slow").send().await
            }
            "query" | "query-repeat" => {
                let command = match command {
                    "query" => arg.to_owned(),
                    _ => "x".repeat(arg.parse().unwrap_or(0)),
                };
                let arg = command.as_str();
                let text = match ctx.backend().query(arg).await {
                    Ok(output) => format!("{arg}=>{output}"),
                    Err(e) => format!("error:{e}"),
                };
                ctx.message(&msg.buddy_name, text).send().await
            }
            _ => ctx.message(&msg.buddy_name, &msg.message).send().await,
        }
    }
}

const PING: [u8; 6] = [0, 0, 0, 2, 0x08, 0x09];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pings_in_one_write_get_a_thousand_pongs() -> Result<()> {
    let mut main = MainInstance::start::<Probe>(CONFIG).await?;
    main.handshake().await?;
    main.send_raw(&PING.repeat(1000)).await?;
    for i in 0..1000 {
        let pong = main.recv().await?;
        let stats = main.recv().await?;
        if pong != Payload::Pong || !matches!(stats, Payload::Stats(_)) {
            return Err(main.failure(format!("PING {i}: got {pong:?} then {stats:?}")));
        }
    }
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_length_prefix_ends_the_backend_with_an_error() -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let args = Args::parse(spectrum_argv(port, 1, Path::new("hostile.cfg"))).unwrap();
    let runtime = Runtime::<Probe>::new(args, Config::parse(CONFIG).unwrap());
    let task = tokio::spawn(runtime.run());
    let mut main = MainInstance::accept_from(listener).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.send_raw(&[0xff, 0xff, 0xff, 0xff, 0x08, 0x09]).await?;
    let run = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the backend stops at once, not after 4 GiB")
        .unwrap();
    match run {
        Err(RunError::CorruptStream(c)) => assert_eq!(c.len, 0xffff_ffff),
        other => panic!("expected a corrupt-stream error, got {other:?}"),
    }
    // The session was logged out and the connection closed.
    let rest = main.read_to_end().await?;
    assert!(rest.is_empty() || rest.iter().all(|p| !matches!(p, Payload::Connected(_))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_frame_below_the_ceiling_is_still_skipped() -> Result<()> {
    let mut main =
        MainInstance::start_with::<Probe>(CONFIG, |rt| rt.max_frame_length(1024)).await?;
    main.handshake().await?;
    // 2 MiB announced and sent: skipped, and the stream goes on.
    let mut bytes = vec![0x00, 0x20, 0x00, 0x00];
    bytes.extend(std::iter::repeat_n(0u8, 2 << 20));
    bytes.extend_from_slice(&PING);
    main.send_raw(&bytes).await?;
    main.expect_type(MessageType::Pong).await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_password_that_is_not_utf8_is_answered() -> Result<()> {
    let mut main = MainInstance::start::<Probe>(CONFIG).await?;
    main.handshake().await?;
    // LOGIN{user "u@localhost", legacyName "u", password "\xe9t\xe9"}.
    let login = [
        &[0x0a, 11][..],
        b"u@localhost",
        &[0x12, 1, b'u', 0x1a, 3, 0xe9, b't', 0xe9],
    ]
    .concat();
    let mut frame = vec![0x08, 3, 0x12, login.len() as u8];
    frame.extend_from_slice(&login);
    let mut bytes = (frame.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&frame);
    main.send_raw(&bytes).await?;
    let refused = main
        .expect("DISCONNECTED", |p| match p {
            Payload::Disconnected(d) => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(refused.user, "u@localhost");
    assert_eq!(
        refused.error,
        proto::ConnectionError::AuthenticationImpossible as i32
    );
    assert!(refused.message().contains("UTF-8"), "{refused:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_for_users_without_a_session_wait_for_a_main_that_does_not_read() -> Result<()> {
    // Far more than the socket buffers and the outbox hold, in ~1 KiB
    // requests and answers.
    const REQUESTS: i32 = 200_000;
    let mut main = MainInstance::start::<Probe>(CONFIG).await?;
    main.handshake().await?;
    main.set_recording(false);
    let buddy = "b".repeat(1000);
    let request = |id| {
        Payload::Vcard(proto::VCard {
            user_name: "nobody@localhost".into(),
            buddy_name: buddy.clone(),
            id,
            ..Default::default()
        })
    };
    // Nobody is logged in, so the runtime answers each request itself.
    // Nobody reads the answers either: once they fill the socket and the
    // outbox, the backend must stop reading rather than keep answers
    // without bound, and sending stalls.
    let mut sent = 0;
    while sent < REQUESTS {
        match tokio::time::timeout(Duration::from_secs(1), main.send(request(sent))).await {
            Ok(done) => done?,
            Err(_) => break,
        }
        sent += 1;
    }
    assert!(
        sent < REQUESTS,
        "the backend read all {REQUESTS} requests while their answers went unread"
    );
    // Reading again: every request is answered, in order, including the
    // one whose sending stalled (flushed with the PING).
    for id in 0..sent {
        match main.recv().await? {
            Payload::Vcard(v) if v.id == id && v.buddy_name == buddy => {}
            other => panic!("answer {id} of {sent}: {}", testing::describe(&other)),
        }
    }
    main.send(Payload::Ping).await?;
    let last = main
        .expect("the answer to the stalled request", |p| match p {
            Payload::Vcard(v) => Some(v.id),
            _ => None,
        })
        .await?;
    assert_eq!(last, sent);
    main.expect_type(MessageType::Pong).await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_each_get_their_own_answer() -> Result<()> {
    let mut main = MainInstance::start::<Probe>(CONFIG).await?;
    main.handshake().await?;
    let users: Vec<String> = (0..20).map(|i| format!("u{i}@localhost")).collect();
    for user in &users {
        main.login(user, user, "pw").await?;
    }
    for user in &users {
        main.send_message(user, "admin", &format!("query:cmd-{user}"))
            .await?;
    }
    // Answer in the order the QUERYs arrive, each with its own command.
    for _ in &users {
        let command = main
            .expect("QUERY", |p| match p {
                Payload::Query(q) => Some(q.config.clone()),
                _ => None,
            })
            .await?;
        main.send(Payload::Query(proto::BackendConfig {
            config: format!("out-{command}"),
        }))
        .await?;
    }
    for user in &users {
        let answer = main.expect_message(user).await?;
        assert_eq!(answer.message, format!("cmd-{user}=>out-cmd-{user}"));
    }
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_cannot_be_sent_does_not_shift_later_answers() -> Result<()> {
    let mut main = MainInstance::start_with::<Probe>(CONFIG, |rt| rt.max_frame_length(512)).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    // A command too large to send: the query fails, and nothing is left
    // waiting for an answer.
    main.send_message("a@localhost", "admin", "query-repeat:1000")
        .await?;
    let failed = main.expect_message("a@localhost").await?;
    assert!(failed.message.starts_with("error:"), "{}", failed.message);
    main.send_message("a@localhost", "admin", "query:status")
        .await?;
    let Payload::Query(q) = main.expect_type(MessageType::Query).await? else {
        unreachable!()
    };
    assert_eq!(q.config, "status");
    main.send(Payload::Query(proto::BackendConfig {
        config: "running".into(),
    }))
    .await?;
    assert_eq!(
        main.expect_message("a@localhost").await?.message,
        "status=>running"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_handler_with_a_full_queue_disconnects_only_its_user() -> Result<()> {
    let mut main = MainInstance::start_with::<Probe>(CONFIG, |rt| {
        rt.input_limits(8 * 1024, 1 << 20)
            .stuck_after(Duration::from_millis(300))
            .shutdown_grace(Duration::from_millis(300))
    })
    .await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    main.login("b@localhost", "b", "pw").await?;
    main.send_message("a@localhost", "bob", "hang").await?;
    let filler = "y".repeat(500);
    for _ in 0..40 {
        main.send_message("a@localhost", "bob", &filler).await?;
    }
    let gone = main
        .expect("DISCONNECTED for a", |p| match p {
            Payload::Disconnected(d) if d.user == "a@localhost" => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(gone.error, proto::ConnectionError::OtherError as i32);
    assert!(gone.message().contains("did not keep up"), "{gone:?}");
    // The filler beyond the bound was refused as for a user without a
    // session: nothing is answered for it, and nothing waits for it.
    // b is served all along, and PING is answered.
    main.send_message("b@localhost", "bob", "still here")
        .await?;
    assert_eq!(
        main.expect_message("b@localhost").await?.message,
        "still here"
    );
    main.ping().await?;
    // As Spectrum 2 answers DISCONNECTED: LOGOUT, then LOGIN. a works again.
    main.logout("a@localhost", "a").await?;
    main.login("a@localhost", "a", "pw").await?;
    main.send_message("a@localhost", "bob", "back").await?;
    assert_eq!(main.expect_message("a@localhost").await?.message, "back");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_too_slow_for_its_flood_holds_others_up_only_for_a_while() -> Result<()> {
    let mut main = MainInstance::start_with::<Probe>(CONFIG, |rt| {
        rt.input_limits(4 * 1024, 1 << 20)
            .stuck_after(Duration::from_millis(500))
            .shutdown_grace(Duration::from_millis(300))
    })
    .await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    main.login("b@localhost", "b", "pw").await?;
    // a's handler makes progress, ten events a second: far too slow for
    // two hundred at once.
    for _ in 0..200 {
        main.send_message("a@localhost", "bob", "slow").await?;
    }
    main.send_message("b@localhost", "bob", "waits at most a while")
        .await?;
    let gone = main
        .expect("DISCONNECTED for a", |p| match p {
            Payload::Disconnected(d) if d.user == "a@localhost" => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert!(gone.message().contains("did not keep up"), "{gone:?}");
    assert_eq!(
        main.expect_message("b@localhost").await?.message,
        "waits at most a while"
    );
    let served = main
        .received()
        .filter(|p| matches!(p, Payload::ConvMessage(m) if m.user_name == "a@localhost"))
        .count();
    assert!(
        served > 0 && served < 200,
        "a was served until it was stopped: {served}"
    );
    main.ping().await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_input_pauses_reading_but_keepalives_flow_and_nothing_is_lost() -> Result<()> {
    let gate = Gate::default();
    let state = gate.clone();
    let mut main = MainInstance::start_with::<Probe>(CONFIG, |rt| {
        rt.with_state(state)
            .input_limits(1 << 20, 16 * 1024)
            .keepalive(Duration::from_millis(200))
    })
    .await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    main.send_message("a@localhost", "bob", "wait").await?;
    let filler = "z".repeat(500);
    for i in 0..100 {
        main.send_message("a@localhost", "bob", &format!("{i} {filler}"))
            .await?;
    }
    // Beyond the total: the backend no longer reads, so this PING waits...
    main.send(Payload::Ping).await?;
    main.expect_none(
        "PONG while reading is paused",
        Duration::from_millis(700),
        |p| matches!(p, Payload::Pong),
    )
    .await?;
    // ...but the backend shows it is alive.
    let stats = main
        .unconsumed()
        .filter(|p| matches!(p, Payload::Stats(_)))
        .count();
    assert!(stats >= 2, "keepalive STATS while paused: {stats}");
    // The handler moves on: everything is handled, in order, then the PONG.
    gate.0.notify_one();
    assert_eq!(main.expect_message("a@localhost").await?.message, "waited");
    for i in 0..100 {
        let m = main.expect_message("a@localhost").await?;
        assert!(m.message.starts_with(&format!("{i} ")), "message {i}");
    }
    main.expect_type(MessageType::Pong).await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_that_is_not_utf8_is_read() -> Result<()> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"[service]\n# Jos\xe9's transport\njid = latin1.localhost\n")
        .unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let args = Args::parse(spectrum_argv(port, 1, file.path())).unwrap();
    let runtime = Runtime::<Probe>::from_args(args).expect("a Latin-1 comment is fine");
    let task = tokio::spawn(runtime.run());
    let mut main = MainInstance::accept_from(listener).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    assert!(task.await.unwrap().is_ok());
    let config = Config::load(file.path()).unwrap();
    assert_eq!(config.get("service.jid"), Some("latin1.localhost"));
    assert_eq!(config.lossy_lines(), [2]);
    Ok(())
}
