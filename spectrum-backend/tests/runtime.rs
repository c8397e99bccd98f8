//! The runtime, seen from the main instance: every test drives a backend over
//! a real loopback socket with [`MainInstance`] and asserts what the main
//! instance receives — which frames, in which order, with which codes.
//!
//! Nothing here measures wall-clock time: where "meanwhile" matters, a
//! handler reports that it has started (or waits for another user's handler
//! to release it), so the assertions are about the order of events.
//! Timeouts only guard against hangs.

#![allow(clippy::unwrap_used)]

mod common;
use common::{from_backend, logouts};
use std::io::Write as _;
use std::time::Duration;

use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, MessageType, Payload};
use spectrum_backend::testing::{MainInstance, Result, spectrum_argv};
use spectrum_backend::{Args, Backend, Runtime};

const CONFIG: &str = "[service]\njid = runtime.localhost\n";

// ---------------------------------------------------------------------------
// Backends under test.

/// Handles only Login: the smallest possible announcement.
struct Minimal;

#[backend]
impl Minimal {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Minimal
    }
}

/// Handles raw XML: announces `rawxml=1`.
struct RawBackend;

#[backend]
impl RawBackend {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        RawBackend
    }

    #[on(RawXml)]
    async fn raw(&mut self, _xml: String) {}
}

/// A login handler whose error type is a plain `std::io::Error`.
struct IoLogin;

#[backend]
impl IoLogin {
    #[on(Login)]
    async fn login(login: Login) -> std::io::Result<Self> {
        if login.legacy_name == "down" {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "the legacy server refused the connection",
            ));
        }
        Ok(IoLogin)
    }
}

/// Lets one user's handler wait until another user's handler opens it.
#[derive(Default)]
struct Gate(tokio::sync::Notify);

/// A session driven by the text of the messages it receives
/// (`command:argument`); see [`Basic::message`].
struct Basic {
    /// The login's password, used to tell sessions of one user apart.
    tag: String,
}

#[backend]
impl Basic {
    /// Legacy name `refuse` is refused for good (AUTHENTICATION_FAILED).
    #[on(Login)]
    async fn login(login: Login) -> Result<Self, Error> {
        if login.legacy_name == "refuse" {
            return Err(Error::authentication_failed(
                "wrong password for the legacy account",
            ));
        }
        Ok(Basic {
            tag: login.password,
        })
    }

    /// `sleep:MS:TEXT` echoes TEXT after MS ms; `wait:TEXT` echoes once the
    /// gate opens; `open:TEXT` echoes, then opens the gate; `block` types,
    /// sleeps 30 s, then says `woke`; `flood:N` sends `0`..`N-1`; `panic`
    /// panics; `fail` returns an error; `query:CMD` runs an admin command and
    /// echoes its output; `whoami` answers the session's tag; anything else
    /// is echoed.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<(), Error> {
        let buddy = msg.buddy_name.as_str();
        let (command, arg) = msg
            .message
            .split_once(':')
            .unwrap_or((msg.message.as_str(), ""));
        match command {
            "sleep" => {
                let (ms, text) = arg.split_once(':').expect("sleep:MS:TEXT");
                tokio::time::sleep(Duration::from_millis(ms.parse().expect("MS"))).await;
                ctx.message(buddy, text).send().await
            }
            "wait" => {
                ctx.state::<Gate>().0.notified().await;
                ctx.message(buddy, arg).send().await
            }
            "open" => {
                // Reply first: the reply is queued before the waiting user wakes.
                ctx.message(buddy, arg).send().await?;
                ctx.state::<Gate>().0.notify_one();
                Ok(())
            }
            "block" => {
                ctx.typing(buddy).await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                ctx.message(buddy, "woke").send().await
            }
            "flood" => {
                for i in 0..arg.parse::<usize>().expect("flood:N") {
                    ctx.message(buddy, i.to_string()).send().await?;
                }
                Ok(())
            }
            "panic" => panic!("boom: the handler panicked"),
            "fail" => Err(Error::invalid_settings("the session broke")),
            "query" => {
                let output = ctx.backend().query(arg).await?;
                ctx.message(buddy, format!("answer:{output}")).send().await
            }
            "whoami" => ctx.message(buddy, self.tag.clone()).send().await,
            _ => ctx.message(buddy, msg.message.clone()).send().await,
        }
    }

    /// Answers with a vCard built from the request.
    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        VCardReply::new()
            .fullname(format!("Full {}", request.buddy_name))
            .nickname(format!("nick of {}", request.buddy_name))
            .photo(&b"\x89PNG"[..])
    }

    /// Reports the update as a message from `self`.
    #[on(VCardUpdate)]
    async fn vcard_update(&mut self, ctx: &Ctx, update: VCard) -> Result<(), Error> {
        let photo = update.photo.as_ref().map_or(0, |p| p.len());
        let text = format!("vcard-update:{}:{}", update.nickname(), photo);
        ctx.message("self", text).send().await
    }

    /// The user is a moderator of the room. Password `rename`: the network
    /// gives the user the nickname `other`, and the network's list of names
    /// (as IRC's NAMES) already holds it.
    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: Room) -> Result<(), Error> {
        let reply = ctx.room_joined(&join);
        let reply = if join.password() == "rename" {
            reply.occupants(["alice", "other", "bob"]).nickname("other")
        } else {
            reply
                .occupant("alice")
                .occupant_with(join.nickname.as_str(), ParticipantFlag::Moderator.bit())
                .occupant("bob")
        };
        reply.subject("Topic of the day", "alice").send().await
    }

    /// Every logout shows up at the main instance as a BUDDY_REMOVED.
    #[on(Logout)]
    async fn logout(self, ctx: &Ctx, _logout: Logout) -> Result<(), Error> {
        ctx.buddy_removed(format!("logout:{}", self.tag)).await
    }
}

/// Reads its config through every path a backend has: `Config::get`, a
/// typed `[backend]` section, and the backend id.
struct Configured;

#[derive(serde::Deserialize)]
struct BackendSection {
    greeting: String,
    retries: u32,
    servers: Vec<String>,
}

#[backend]
impl Configured {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self, Error> {
        let section: BackendSection = ctx
            .config()
            .section("backend")
            .map_err(|e| Error::invalid_settings(e.to_string()))?;
        let text = format!(
            "jid={} greeting={} retries={} servers={} id={}",
            ctx.config().get("service.jid").unwrap_or("-"),
            section.greeting,
            section.retries,
            section.servers.join(","),
            ctx.backend().backend_id().unwrap_or("-"),
        );
        ctx.message("config", text).send().await?;
        Ok(Configured)
    }
}

// ---------------------------------------------------------------------------
// Helpers.

/// The texts of the CONV_MESSAGEs sent for `user`.
fn messages(frames: &[Payload], user: &str) -> Vec<String> {
    frames
        .iter()
        .filter_map(|p| match p {
            Payload::ConvMessage(m) if m.user_name == user => Some(m.message.clone()),
            _ => None,
        })
        .collect()
}

async fn expect_disconnected(main: &mut MainInstance, user: &str) -> Result<proto::Disconnected> {
    main.expect(&format!("DISCONNECTED for {user}"), |p| match p {
        Payload::Disconnected(d) if d.user == user => Some(d.clone()),
        _ => None,
    })
    .await
}

async fn expect_logout_frame(main: &mut MainInstance, user: &str) -> Result<String> {
    main.expect(
        &format!("the logout handler's frame for {user}"),
        |p| match p {
            Payload::BuddyRemoved(b) if b.user_name == user => Some(b.buddy_name.clone()),
            _ => None,
        },
    )
    .await
}

async fn round_trip(main: &mut MainInstance, user: &str, text: &str) -> Result<()> {
    main.send_message(user, "bob", text).await?;
    let reply = main.expect_message(user).await?;
    assert_eq!(
        (reply.buddy_name.as_str(), reply.message.as_str()),
        ("bob", text)
    );
    Ok(())
}

/// The BACKEND_CONFIG text a backend announces.
async fn announcement<B: Backend>(adjust: impl FnOnce(Runtime<B>) -> Runtime<B>) -> Result<String> {
    let mut main = MainInstance::start_with::<B>(CONFIG, adjust).await?;
    let hello = main.handshake().await?;
    assert_eq!(main.exit().await?, 0);
    Ok(hello
        .backend_config
        .expect("BACKEND_CONFIG before the first PONG"))
}

// ---------------------------------------------------------------------------
// Liveness and announcements.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_gets_pong_then_stats_and_backend_config_comes_once_before_it() -> Result<()> {
    let mut main = MainInstance::start::<Minimal>(CONFIG).await?;
    main.send(Payload::Ping).await?;
    // The first three frames, exactly: BACKEND_CONFIG, PONG, STATS.
    let Payload::BackendConfig(config) = main.recv().await? else {
        return Err(main.failure("the first frame must be BACKEND_CONFIG"));
    };
    assert_eq!(
        config.config,
        "[registration]\nneedPassword=1\nneedRegistration=1\n\
         [features]\nmuc=0\nrawxml=0\ndisable_jid_escaping=0\n"
    );
    assert_eq!(main.recv().await?, Payload::Pong);
    let Payload::Stats(stats) = main.recv().await? else {
        return Err(main.failure("STATS must follow PONG"));
    };
    assert_eq!(stats.id, std::process::id().to_string(), "our real PID");
    assert!(stats.res > 0, "real resident memory: {stats:?}");
    assert!(stats.init_res > 0, "real memory at start: {stats:?}");

    // Later PINGs: PONG and STATS again, never another BACKEND_CONFIG.
    for _ in 0..3 {
        main.send(Payload::Ping).await?;
        assert_eq!(main.recv().await?, Payload::Pong);
        let stats = main.recv().await?;
        assert!(
            matches!(&stats, Payload::Stats(s) if s.id == std::process::id().to_string()),
            "{stats:?}"
        );
    }
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let configs = from_backend(&main)
        .iter()
        .filter(|p| matches!(p, Payload::BackendConfig(_)))
        .count();
    assert_eq!(configs, 1, "BACKEND_CONFIG is sent once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_config_reflects_the_handlers() -> Result<()> {
    let minimal = announcement::<Minimal>(|rt| rt).await?;
    assert!(minimal.contains("\nmuc=0\n"), "{minimal}");
    assert!(minimal.contains("\nrawxml=0\n"), "{minimal}");
    assert!(!minimal.contains("receipts"), "{minimal}");

    let rooms = announcement::<Basic>(|rt| rt).await?;
    assert!(rooms.contains("[features]\nmuc=1\nrawxml=0\n"), "{rooms}");

    let raw = announcement::<RawBackend>(|rt| rt).await?;
    assert!(raw.contains("[features]\nmuc=0\nrawxml=1\n"), "{raw}");

    let receipts = announcement::<Minimal>(|rt| rt.capabilities(|c| c.receipts = true)).await?;
    assert!(receipts.contains("[features]\n"), "{receipts}");
    assert!(receipts.ends_with("receipts=1\n"), "{receipts}");
    // The override changes only what it names.
    assert_eq!(receipts.replace("receipts=1\n", ""), minimal);
    Ok(())
}

// ---------------------------------------------------------------------------
// Login.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_answered_with_connected() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.send(Payload::Login(proto::Login {
        user: "alice@localhost".into(),
        legacy_name: "alice".into(),
        password: "pw".into(),
        extra_fields: Vec::new(),
        settings: Some(proto::login::UserSettings::default()),
    }))
    .await?;
    assert_eq!(
        main.recv().await?,
        Payload::Connected(proto::Connected {
            user: "alice@localhost".into()
        })
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_is_disconnected_with_code_2_and_the_message() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    let refused = main
        .try_login("mallory@localhost", "refuse", "bad")
        .await?
        .expect_err("the login is refused");
    assert_eq!(refused.error, 2, "AUTHENTICATION_FAILED: not retried");
    assert_eq!(
        refused.message.as_deref(),
        Some("wrong password for the legacy account")
    );
    // No session was made: a message for that user is not handled, and the
    // refused user's logout handler never runs.
    main.logout("mallory@localhost", "refuse").await?;
    main.login("alice@localhost", "alice", "pw").await?;
    round_trip(&mut main, "alice@localhost", "still here").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert!(
        !frames
            .iter()
            .any(|p| matches!(p, Payload::Connected(c) if c.user == "mallory@localhost")),
        "a refused login never gets CONNECTED"
    );
    assert!(logouts(&frames, "mallory@localhost").is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failing_with_a_generic_error_is_disconnected_with_code_0() -> Result<()> {
    let mut main = MainInstance::start::<IoLogin>(CONFIG).await?;
    main.handshake().await?;
    let failed = main
        .try_login("alice@localhost", "down", "pw")
        .await?
        .expect_err("the login fails");
    assert_eq!(failed.error, 0, "NETWORK_ERROR: Spectrum 2 retries");
    let text = failed.message.unwrap_or_default();
    assert!(
        text.contains("the legacy server refused the connection"),
        "{text}"
    );
    // The retry Spectrum 2 makes (LOGOUT, then LOGIN) can succeed.
    main.logout("alice@localhost", "down").await?;
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_login_with_the_same_legacy_name_is_ignored() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "first").await?;
    // As a real Spectrum 2 does when the user joins a room of an
    // auto-registering transport: the same LOGIN again, at once.
    main.send(login("alice@localhost", "alice", "second"))
        .await?;
    main.send_message("alice@localhost", "bob", "whoami")
        .await?;
    assert_eq!(
        main.expect_message("alice@localhost").await?.message,
        "first",
        "the first session still serves the user"
    );
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert_eq!(
        frames
            .iter()
            .filter(|p| matches!(p, Payload::Connected(_)))
            .count(),
        1,
        "one CONNECTED: {frames:?}"
    );
    assert_eq!(logouts(&frames, "alice@localhost"), ["logout:first"]);
    Ok(())
}

/// Spectrum 2 retries a session with LOGOUT and LOGIN at once; the LOGIN
/// arrives while the old session is still busy and has not logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_right_after_logout_starts_a_new_session_after_the_old_one() -> Result<()> {
    let mut main =
        MainInstance::start_with::<Basic>(CONFIG, |rt| rt.with_state(Gate::default())).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "first").await?;
    main.login("bob@localhost", "bob", "b").await?;
    // Alice's handler waits at the gate: her session cannot log out yet.
    main.send_message("alice@localhost", "carol", "wait:held")
        .await?;
    main.send(Payload::Logout(proto::Logout {
        user: "alice@localhost".into(),
        legacy_name: "alice".into(),
    }))
    .await?;
    main.send(login("alice@localhost", "alice", "second"))
        .await?;
    main.send_message("bob@localhost", "carol", "open:go")
        .await?;
    // The old session finishes its event and logs out; then the new one
    // connects and serves the user.
    main.expect("the new CONNECTED", |p| {
        matches!(p, Payload::Connected(c) if c.user == "alice@localhost").then_some(())
    })
    .await?;
    main.send_message("alice@localhost", "carol", "whoami")
        .await?;
    let reply = main.expect("the new session's answer", |p| match p {
        Payload::ConvMessage(m) if m.user_name == "alice@localhost" && m.message != "held" => {
            Some(m.message.clone())
        }
        _ => None,
    });
    assert_eq!(reply.await?, "second");
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    let alice = messages(&frames, "alice@localhost");
    assert_eq!(
        alice.first().map(String::as_str),
        Some("held"),
        "{frames:?}"
    );
    assert_eq!(
        logouts(&frames, "alice@localhost"),
        ["logout:first", "logout:second"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_another_legacy_name_logs_the_old_session_out_first() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "first").await?;
    main.send(login("alice@localhost", "alice2", "second"))
        .await?;
    // The old session's logout, then CONNECTED for the new one.
    assert!(
        matches!(main.recv().await?, Payload::BuddyRemoved(b) if b.buddy_name == "logout:first")
    );
    assert!(matches!(main.recv().await?, Payload::Connected(c) if c.user == "alice@localhost"));
    // Messages now reach the new session.
    main.send_message("alice@localhost", "bob", "whoami")
        .await?;
    assert_eq!(
        main.expect_message("alice@localhost").await?.message,
        "second"
    );
    assert_eq!(main.exit_and_wait().await?, 0);
    assert_eq!(
        logouts(&from_backend(&main), "alice@localhost"),
        ["logout:first", "logout:second"]
    );
    Ok(())
}

fn login(user: &str, legacy_name: &str, password: &str) -> Payload {
    Payload::Login(proto::Login {
        user: user.into(),
        legacy_name: legacy_name.into(),
        password: password.into(),
        extra_fields: Vec::new(),
        settings: Some(proto::login::UserSettings::default()),
    })
}

// ---------------------------------------------------------------------------
// Sessions: concurrency, order, isolation.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_run_concurrently_and_each_keeps_its_order() -> Result<()> {
    const N: usize = 30;
    let mut main =
        MainInstance::start_with::<Basic>(CONFIG, |rt| rt.with_state(Gate::default())).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "pw").await?;
    main.login("b@localhost", "b", "pw").await?;
    // a-00 waits until b-00's handler opens the gate: if b's events waited
    // for a's, this would never finish.
    for i in 0..N {
        let (a, b) = if i == 0 {
            ("wait:a-00".to_owned(), "open:b-00".to_owned())
        } else {
            (
                format!("sleep:{}:a-{i:02}", i * 7 % 5),
                format!("sleep:{}:b-{i:02}", i * 3 % 4),
            )
        };
        main.send_message("a@localhost", "bob", &a).await?;
        main.send_message("b@localhost", "bob", &b).await?;
    }
    let mut replies = Vec::new();
    while replies.len() < 2 * N {
        let m = main
            .expect("a reply", |p| match p {
                Payload::ConvMessage(m) => Some((m.user_name.clone(), m.message.clone())),
                _ => None,
            })
            .await?;
        replies.push(m);
    }
    let of = |user: &str| -> Vec<String> {
        replies
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, m)| m.clone())
            .collect()
    };
    let expected = |p: &str| (0..N).map(|i| format!("{p}-{i:02}")).collect::<Vec<_>>();
    assert_eq!(of("a@localhost"), expected("a"), "a's replies in order");
    assert_eq!(of("b@localhost"), expected("b"), "b's replies in order");
    let pos = |text: &str| replies.iter().position(|(_, m)| m == text).unwrap();
    assert!(
        pos("b-00") < pos("a-00"),
        "b was served while a's handler was blocked"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pong_and_other_users_do_not_wait_for_a_blocked_handler() -> Result<()> {
    let mut main = MainInstance::start_with::<Basic>(CONFIG, |rt| {
        rt.shutdown_grace(Duration::from_millis(200))
    })
    .await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.login("b@localhost", "b", "b").await?;
    main.send_message("a@localhost", "bob", "block").await?;
    // The handler has started its 30 s sleep once its typing frame is here.
    main.expect("a's handler to start", |p| {
        matches!(p, Payload::BuddyTyping(b) if b.user_name == "a@localhost").then_some(())
    })
    .await?;

    main.send(Payload::Ping).await?;
    main.expect("PONG", |p| matches!(p, Payload::Pong).then_some(()))
        .await?;
    let a_replied = |main: &MainInstance| !messages(&from_backend(main), "a@localhost").is_empty();
    assert!(!a_replied(&main), "PONG came before a's reply");

    // Another user is served meanwhile.
    round_trip(&mut main, "b@localhost", "b is not blocked").await?;
    main.send(Payload::Ping).await?;
    main.expect("PONG", |p| matches!(p, Payload::Pong).then_some(()))
        .await?;
    assert!(!a_replied(&main), "a's handler is still asleep");

    // The blocked session is abandoned after the shutdown grace; the others
    // log out normally.
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert!(messages(&frames, "a@localhost").is_empty(), "{frames:?}");
    assert_eq!(logouts(&frames, "b@localhost"), ["logout:b"]);
    assert!(logouts(&frames, "a@localhost").is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_ends_only_its_own_session() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.login("b@localhost", "b", "b").await?;
    main.send_message("a@localhost", "bob", "panic").await?;
    let d = expect_disconnected(&mut main, "a@localhost").await?;
    assert_eq!(d.error, 16, "OTHER_ERROR, as for a crashed backend");
    let text = d.message.unwrap_or_default();
    assert!(text.contains("boom: the handler panicked"), "{text}");
    assert!(text.contains("ConvMessage"), "{text}");

    // b is unaffected.
    round_trip(&mut main, "b@localhost", "after the panic").await?;
    main.ping().await?;

    // Spectrum 2 retries OTHER_ERROR: LOGOUT, then LOGIN; a works again.
    main.logout("a@localhost", "a").await?;
    main.login("a@localhost", "a", "a2").await?;
    round_trip(&mut main, "a@localhost", "back again").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert_eq!(logouts(&frames, "b@localhost"), ["logout:b"]);
    assert_eq!(logouts(&frames, "a@localhost"), ["logout:a2"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_ends_its_session_through_the_logout_handler() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.login("b@localhost", "b", "b").await?;
    main.send_message("a@localhost", "bob", "fail").await?;
    // DISCONNECTED with the error's code, then the logout handler's frame.
    let d = main.recv().await?;
    assert_eq!(
        d,
        Payload::Disconnected(proto::Disconnected {
            user: "a@localhost".into(),
            error: 7,
            message: Some("the session broke".into()),
        })
    );
    assert_eq!(
        expect_logout_frame(&mut main, "a@localhost").await?,
        "logout:a"
    );

    round_trip(&mut main, "b@localhost", "b still works").await?;
    // The LOGOUT Spectrum 2 sends after DISCONNECTED finds nothing to do.
    main.logout("a@localhost", "a").await?;
    main.login("a@localhost", "a", "a2").await?;
    round_trip(&mut main, "a@localhost", "a is back").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert_eq!(logouts(&frames, "a@localhost"), ["logout:a", "logout:a2"]);
    assert_eq!(logouts(&frames, "b@localhost"), ["logout:b"]);
    Ok(())
}

// ---------------------------------------------------------------------------
// Shutdown.

/// Three users, one of them in the middle of sending 200 messages when the
/// main instance lets the backend go (`close`: by closing the socket).
async fn shutdown_keeps_every_frame(close: bool) -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    for user in ["u1", "u2", "u3"] {
        main.login(&format!("{user}@localhost"), user, user).await?;
    }
    main.send_message("u1@localhost", "bob", "flood:200")
        .await?;
    let code = if close {
        main.close_and_wait().await?
    } else {
        main.exit_and_wait().await?
    };
    assert_eq!(code, 0);
    let frames = from_backend(&main);
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    assert_eq!(messages(&frames, "u1@localhost"), expected, "all, in order");
    let last_message = frames
        .iter()
        .rposition(|p| matches!(p, Payload::ConvMessage(_)))
        .unwrap();
    for user in ["u1", "u2", "u3"] {
        let jid = format!("{user}@localhost");
        assert_eq!(logouts(&frames, &jid), [format!("logout:{user}")]);
    }
    let u1_logout = frames
        .iter()
        .position(|p| matches!(p, Payload::BuddyRemoved(b) if b.user_name == "u1@localhost"))
        .unwrap();
    assert!(last_message < u1_logout, "u1 logs out after its last event");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_delivers_every_frame_already_sent_and_logs_every_session_out() -> Result<()> {
    shutdown_keeps_every_frame(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_close_delivers_every_frame_already_sent_and_logs_every_session_out() -> Result<()> {
    shutdown_keeps_every_frame(true).await
}

// ---------------------------------------------------------------------------
// Users without a session.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_for_a_user_without_a_session_get_the_expected_answers() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    // LOGOUT: accepted silently. The vCard request after it is answered by
    // the reader itself, so anything LOGOUT had sent would come first.
    main.logout("ghost@localhost", "ghost").await?;
    main.send(Payload::Vcard(proto::VCard {
        user_name: "ghost@localhost".into(),
        buddy_name: "bob".into(),
        id: 17,
        ..Default::default()
    }))
    .await?;
    let Payload::Vcard(vcard) = main.recv().await? else {
        return Err(main.failure("expected the empty vCard, and nothing before it"));
    };
    assert_eq!(
        vcard,
        proto::VCard {
            user_name: "ghost@localhost".into(),
            buddy_name: "bob".into(),
            id: 17,
            fullname: Some(String::new()),
            nickname: Some(String::new()),
            photo: Some(Default::default()),
        }
    );

    main.send(Payload::JoinRoom(proto::Room {
        user_name: "ghost@localhost".into(),
        nickname: "ghosty".into(),
        room: "#haunted@irc.example.net".into(),
        password: Some(String::new()),
    }))
    .await?;
    let Payload::ParticipantChanged(p) = main.recv().await? else {
        return Err(main.failure("expected PARTICIPANT_CHANGED with ROOM_NOT_FOUND"));
    };
    assert_eq!(p.user_name, "ghost@localhost");
    assert_eq!(p.room, "#haunted@irc.example.net");
    assert_eq!(
        p.nickname, "ghosty",
        "the error is about the user's own nickname"
    );
    assert_ne!(p.flag & ParticipantFlag::RoomNotFound.bit(), 0, "{p:?}");
    assert!(!p.status_message().is_empty(), "an error text for the user");

    // A message for the ghost is dropped without an answer.
    main.send_message("ghost@localhost", "bob", "hello?")
        .await?;
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let frames = from_backend(&main);
    assert!(messages(&frames, "ghost@localhost").is_empty());
    assert!(logouts(&frames, "ghost@localhost").is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------
// Request/answer flows.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcard_requests_and_updates_reach_their_own_handlers() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.send(Payload::Vcard(proto::VCard {
        user_name: "alice@localhost".into(),
        buddy_name: "bob".into(),
        id: 42,
        ..Default::default()
    }))
    .await?;
    let Payload::Vcard(reply) = main.recv().await? else {
        return Err(main.failure("expected the vCard"));
    };
    assert_eq!(
        reply,
        proto::VCard {
            user_name: "alice@localhost".into(),
            buddy_name: "bob".into(),
            id: 42,
            fullname: Some("Full bob".into()),
            nickname: Some("nick of bob".into()),
            photo: Some(bytes::Bytes::from_static(b"\x89PNG")),
        }
    );

    // The user publishes their own vCard: a photo is present, id 0.
    main.send(Payload::Vcard(proto::VCard {
        user_name: "alice@localhost".into(),
        buddy_name: String::new(),
        id: 0,
        fullname: None,
        nickname: Some("Alice".into()),
        photo: Some(bytes::Bytes::from_static(b"img")),
    }))
    .await?;
    // Then a request: its answer comes after the update was handled.
    main.send(Payload::Vcard(proto::VCard {
        user_name: "alice@localhost".into(),
        buddy_name: "carol".into(),
        id: 43,
        ..Default::default()
    }))
    .await?;
    let update = main.recv().await?;
    assert!(
        matches!(&update, Payload::ConvMessage(m) if m.message == "vcard-update:Alice:3"),
        "{update:?}"
    );
    let next = main.recv().await?;
    assert!(
        matches!(&next, Payload::Vcard(v) if v.id == 43 && v.buddy_name == "carol"),
        "the update is not answered as a request: {next:?}"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_join_sends_occupants_then_self_last_then_the_subject() -> Result<()> {
    const ROOM: &str = "#rust@irc.example.net";
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.send(Payload::JoinRoom(proto::Room {
        user_name: "alice@localhost".into(),
        nickname: "me".into(),
        room: ROOM.into(),
        password: Some(String::new()),
    }))
    .await?;
    let mut frames = Vec::new();
    for _ in 0..4 {
        frames.push(main.recv().await?);
    }
    let occupant = |p: &Payload| match p {
        Payload::ParticipantChanged(p) if p.room == ROOM && p.user_name == "alice@localhost" => {
            Some((p.nickname.clone(), p.flag, p.newname().to_owned()))
        }
        _ => None,
    };
    let me = ParticipantFlag::Me.bit();
    assert_eq!(me, 16);
    assert_eq!(
        occupant(&frames[0]),
        Some(("alice".into(), 0, String::new()))
    );
    assert_eq!(occupant(&frames[1]), Some(("bob".into(), 0, String::new())));
    let moderator = ParticipantFlag::Moderator.bit();
    assert_eq!(
        occupant(&frames[2]),
        Some(("me".into(), me | moderator, String::new())),
        "self last, once, with the ME flag and its own flags"
    );
    let Payload::RoomSubjectChanged(subject) = &frames[3] else {
        return Err(main.failure("expected the subject after the occupants"));
    };
    assert_eq!(
        (subject.buddy_name.as_str(), subject.message.as_str()),
        (ROOM, "Topic of the day")
    );
    assert_eq!(subject.nickname(), "alice");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_join_with_a_forced_nickname_announces_it_first() -> Result<()> {
    const ROOM: &str = "#rust@irc.example.net";
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.send(Payload::JoinRoom(proto::Room {
        user_name: "alice@localhost".into(),
        nickname: "me".into(),
        room: ROOM.into(),
        password: Some("rename".into()),
    }))
    .await?;
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(main.recv().await?);
    }
    assert_eq!(
        frames[0],
        Payload::RoomNicknameChanged(proto::Room {
            user_name: "alice@localhost".into(),
            nickname: "other".into(),
            room: ROOM.into(),
            password: Some(String::new()),
        })
    );
    let occupant = |p: &Payload| match p {
        Payload::ParticipantChanged(p) if p.room == ROOM => {
            Some((p.nickname.clone(), p.flag, p.newname().to_owned()))
        }
        _ => None,
    };
    let me = ParticipantFlag::Me.bit();
    assert_eq!(
        occupant(&frames[1]),
        Some(("alice".into(), 0, String::new()))
    );
    assert_eq!(occupant(&frames[2]), Some(("bob".into(), 0, String::new())));
    assert_eq!(
        occupant(&frames[3]),
        Some(("me".into(), me, "other".into())),
        "self last, as a rename from the requested nickname to the given one, and only once"
    );
    assert!(matches!(&frames[4], Payload::RoomSubjectChanged(s) if s.buddy_name == ROOM));
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_is_sent_and_its_answer_reaches_the_handler() -> Result<()> {
    let mut main = MainInstance::start::<Basic>(CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.send_message("alice@localhost", "admin", "query:online_users_count")
        .await?;
    let Payload::Query(query) = main.recv().await? else {
        return Err(main.failure("expected QUERY"));
    };
    assert_eq!(query.config, "online_users_count");
    main.send(Payload::Query(proto::BackendConfig { config: "1".into() }))
        .await?;
    let answer = main.expect_message("alice@localhost").await?;
    assert_eq!(
        (answer.buddy_name.as_str(), answer.message.as_str()),
        ("admin", "answer:1")
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

// ---------------------------------------------------------------------------
// Start-up as Spectrum 2 spawns a backend.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_args_reads_spectrum_argv_and_config_file() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.localhost.cfg");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(
        b"# Spectrum 2 transport config\n\
          [service]\n\
          jid = runtime.localhost  # the transport's JID\n\
          backend = /usr/libexec/spectrum2/runtime_backend\n\
          backend_host = 127.0.0.1\n\
          backend_port = 0\n\
          users_per_backend = 10\n\
          \n\
          [backend]\n\
          greeting = hello there\n\
          retries = 3\n\
          servers = a.example.net\n\
          servers = b.example.net # a second value for the same key\n\
          \n\
          [logging]\n\
          backend_config =\n",
    )
    .unwrap();
    drop(file);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    // Exactly what Spectrum 2 runs for a main started as `spectrum2 -n <cfg>`.
    let argv = [
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--service.backend_id=1".to_owned(),
        "-n".to_owned(),
        path.display().to_string(),
    ];
    assert_eq!(argv.to_vec(), spectrum_argv(port, 1, &path));
    let args = Args::parse(argv).unwrap();
    let runtime = Runtime::<Configured>::from_args(args).unwrap();
    let task = tokio::spawn(runtime.run());

    let mut main = MainInstance::accept_from(listener).await?;
    let hello = main.handshake().await?;
    assert!(hello.backend_config.is_some());
    assert_eq!(hello.stats.id, std::process::id().to_string());
    main.login("alice@localhost", "alice", "pw").await?;
    let Payload::ConvMessage(m) = main.expect_type(MessageType::ConvMessage).await? else {
        unreachable!()
    };
    assert_eq!(
        m.message,
        "jid=runtime.localhost greeting=hello there retries=3 \
         servers=a.example.net,b.example.net id=1"
    );
    assert_eq!(main.exit_and_wait().await?, 0);
    let run = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the runtime stops after EXIT")
        .expect("the runtime task does not panic");
    assert!(run.is_ok(), "{run:?}");
    Ok(())
}

/// The harness fails at once, with the backend's own words, when the
/// backend exits before it connects.
#[tokio::test]
async fn a_backend_that_dies_before_connecting_fails_fast() {
    let started = std::time::Instant::now();
    let err = spectrum_backend::testing::MainInstance::spawn("/bin/false", "[service]\n")
        .await
        .expect_err("/bin/false never connects");
    assert!(err.what().contains("exited"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "waited for the 30 s timeout"
    );
}

/// A handler that blocks its thread (a synchronous legacy library) while
/// the backend's runtime has a single worker: the connection has a thread
/// of its own, so PING is still answered before the blocked handler's reply.
#[tokio::test]
async fn pong_does_not_wait_for_a_handler_that_blocks_its_thread()
-> spectrum_backend::testing::Result<()> {
    use spectrum_backend::prelude::*;
    use spectrum_backend::proto::Payload;

    struct Blocking;
    #[backend]
    impl Blocking {
        #[on(Login)]
        fn login(_login: Login) -> Self {
            Blocking
        }
        #[on(ConvMessage)]
        async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
            ctx.typing(&msg.buddy_name).await?;
            std::thread::sleep(std::time::Duration::from_millis(150));
            ctx.message(&msg.buddy_name, "done").send().await
        }
    }

    // The backend's own process-like runtime: one worker, on another thread.
    let (mut main, backend) = common::on_own_runtime::<Blocking>(1).await?;
    // Keep the only worker busy without a break: four users, three
    // blocking messages each. A reader or socket driven by that worker
    // would not see the PING until all of them are done.
    let users = ["a@localhost", "b@localhost", "c@localhost", "d@localhost"];
    for user in users {
        main.login(user, "x", "x").await?;
    }
    for _ in 0..3 {
        for user in users {
            main.send_message(user, "bob", "block").await?;
        }
    }
    // A handler has started: it sent its typing notification first.
    main.expect("BUDDY_TYPING", |p| {
        matches!(p, Payload::BuddyTyping(_)).then_some(())
    })
    .await?;
    main.ping().await?;
    assert!(
        !main
            .unconsumed()
            .any(|p| matches!(p, Payload::ConvMessage(_))),
        "PONG came after the blocked handler's reply"
    );
    for _ in 0..12 {
        let reply = main.expect("a reply", |p| match p {
            Payload::ConvMessage(m) => Some(m.message.clone()),
            _ => None,
        });
        assert_eq!(reply.await?, "done");
    }
    assert_eq!(main.exit().await?, 0);
    assert!(backend.join().expect("backend thread").is_ok());
    Ok(())
}

/// A login handler may send CONNECTED itself, before events it forwards;
/// the runtime then does not send a second one.
#[tokio::test]
async fn connected_sent_early_by_the_login_handler_is_sent_once() -> Result<()> {
    use spectrum_backend::prelude::*;

    struct Early;
    #[backend]
    impl Early {
        #[on(Login)]
        async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
            ctx.connected().await?;
            ctx.message("network", "a message that arrived right after the welcome")
                .send()
                .await?;
            Ok(Early)
        }
    }

    let mut main = MainInstance::start::<Early>("[service]\n").await?;
    main.handshake().await?;
    main.login("a@localhost", "a", "a").await?;
    main.expect_message("a@localhost").await?;
    main.ping().await?;
    let frames = from_backend(&main);
    let connected: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter_map(|(i, p)| matches!(p, Payload::Connected(_)).then_some(i))
        .collect();
    let message = frames
        .iter()
        .position(|p| matches!(p, Payload::ConvMessage(_)));
    assert_eq!(connected.len(), 1, "{frames:?}");
    assert!(
        Some(connected[0]) < message,
        "CONNECTED before the forwarded message: {frames:?}"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
