//! Links and prompts of the author layer over real sockets: a legacy
//! server that drops the connection (the user is told, then told it is
//! back), one that is gone for good (DISCONNECTED with the link's code),
//! and a two-factor login that asks the user for a code through a
//! pseudo-contact, answered or not in time.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use spectrum_backend::gateway::link::{
    Backoff, Line, LineCodec, Link, LinkEvent, LinkSettings, LinkState,
};
use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};
use spectrum_backend::{DEFAULT_ASK_CONTACT, LinkReport};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const USER: &str = "alice@layer.localhost";

fn config(server: std::net::SocketAddr) -> String {
    format!("[service]\njid = layer.localhost\n[backend]\nserver = {server}\n")
}

/// A link to the config's `backend.server`, named `name`, with `attempts`
/// tries `delay_ms` apart.
fn link_to_server(
    ctx: &Ctx,
    name: &str,
    delay_ms: u64,
    attempts: u32,
) -> Result<Link<Line, String>> {
    let server: std::net::SocketAddr = ctx
        .config()
        .get("backend.server")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::invalid_settings("backend.server"))?;
    let delay = Duration::from_millis(delay_ms);
    let settings = LinkSettings {
        backoff: Backoff {
            base: delay,
            max: delay * 2,
            attempts: Some(attempts),
            jitter: false,
        },
        ..LinkSettings::new(name)
    };
    Ok(Link::spawn(
        settings,
        LineCodec::new(512),
        move || async move { Ok(TcpStream::connect(server).await?) },
    ))
}

/// A server that says hello, drops the connection, and accepts the next
/// one at once (returned).
async fn drops_once() -> (std::net::SocketAddr, tokio::task::JoinHandle<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.unwrap();
        first.write_all(b"hello\r\n").await.unwrap();
        drop(first);
        let (second, _) = listener.accept().await.unwrap();
        second
    });
    (addr, server)
}

/// A server that accepts once, then is gone for good.
async fn gone_after_one() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        drop(listener);
        drop(first);
    });
    addr
}

struct Linked {
    _link: Link<Line, String>,
}

#[backend]
impl Linked {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let link = link_to_server(ctx, "test net", 50, 3)?;
        ctx.follow_link(link.states(), LinkReport::new("test net"));
        Ok(Linked { _link: link })
    }
}

async fn message_from(main: &mut MainInstance, contact: &str) -> HarnessResult<String> {
    main.expect(&format!("a message from {contact}"), |p| match p {
        Payload::ConvMessage(m) if m.buddy_name == contact => Some(m.message.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_dropped_link_is_told_to_the_user_and_so_is_its_return() -> HarnessResult<()> {
    let main = told_of_a_drop_and_a_return::<Linked>().await?;
    // One CONNECTED only, whoever sent it first.
    let connected = main
        .received()
        .filter(|p| matches!(p, Payload::Connected(_)))
        .count();
    assert_eq!(connected, 1);
    main.exit().await?;
    Ok(())
}

/// Logs in to backend `B` against a server that drops the connection
/// once: the user is told of the drop, then of the return.
async fn told_of_a_drop_and_a_return<B: spectrum_backend::Backend>() -> HarnessResult<MainInstance>
{
    let (addr, server) = drops_once().await;
    let mut main = MainInstance::start::<B>(&config(addr)).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    let lost = message_from(&mut main, "test net").await?;
    assert!(
        lost.starts_with("Lost the connection to test net (the server closed the connection)"),
        "{lost}"
    );
    assert_eq!(
        message_from(&mut main, "test net").await?,
        "reconnected to test net"
    );
    let _second = server.await.unwrap();
    Ok(main)
}

/// Follows its link only once the link has been dropped and is back (an
/// instant reconnect, no backoff delay): every transition is still told.
struct LateFollower {
    _link: Link<Line, String>,
}

#[backend]
impl LateFollower {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        // No delay between tries: the drop and the return are instant.
        let mut link = link_to_server(ctx, "test net", 0, 3)?;
        let states = link.states();
        let mut ups = 0;
        while ups < 2 {
            match link.next().await {
                Some(LinkEvent::State(LinkState::Up)) => ups += 1,
                Some(_) => {}
                None => return Err(Error::network("the link ended")),
            }
        }
        ctx.follow_link(states, LinkReport::new("test net"));
        Ok(LateFollower { _link: link })
    }
}

#[tokio::test]
async fn a_drop_and_an_instant_reconnect_are_both_told_to_the_user() -> HarnessResult<()> {
    let main = told_of_a_drop_and_a_return::<LateFollower>().await?;
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn a_link_that_gives_up_disconnects_with_its_code() -> HarnessResult<()> {
    let addr = gone_after_one().await;
    let mut main = MainInstance::start::<Linked>(&config(addr)).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    let d = main
        .expect("DISCONNECTED", |p| match p {
            Payload::Disconnected(d) => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(d.error, ConnectionError::NetworkError as i32);
    let text = d.message.unwrap_or_default();
    assert!(
        text.starts_with("Cannot connect to test net") && text.ends_with("gave up."),
        "{text}"
    );
    main.exit().await?;
    Ok(())
}

/// A link that is one of several of the session (`keeps_session`).
struct SideLink {
    _link: Link<Line, String>,
}

#[backend]
impl SideLink {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let link = link_to_server(ctx, "side net", 10, 1)?;
        let report = LinkReport::new("side net").contact("side").keeps_session();
        ctx.follow_link(link.states(), report);
        Ok(SideLink { _link: link })
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        ctx.message(msg.to(), msg.text()).await
    }
}

#[tokio::test]
async fn a_link_that_keeps_the_session_gives_up_with_a_message() -> HarnessResult<()> {
    let addr = gone_after_one().await;
    let mut main = MainInstance::start::<SideLink>(&config(addr)).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    let lost = message_from(&mut main, "side").await?;
    assert!(
        lost.starts_with("Lost the connection to side net"),
        "{lost}"
    );
    let gave_up = message_from(&mut main, "side").await?;
    assert!(
        gave_up.starts_with("Cannot connect to side net") && gave_up.ends_with("gave up."),
        "{gave_up}"
    );
    // The session goes on.
    main.send_message(USER, "bob", "still here?").await?;
    assert_eq!(message_from(&mut main, "bob").await?, "still here?");
    main.expect_none("DISCONNECTED", Duration::from_millis(100), |p| {
        matches!(p, Payload::Disconnected(_))
    })
    .await?;
    main.exit().await?;
    Ok(())
}

/// A login that needs a one-time code when the password says so.
struct TwoFactor;

#[backend]
impl TwoFactor {
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        if login.password == "2fa" {
            let code = ctx
                .ask("Enter the code we sent you")
                .timeout(Duration::from_millis(800))
                .await?;
            if code.trim() != "123456" {
                return Err(Error::authentication_failed("wrong code"));
            }
            ctx.message("network", format!("logged in with code {code}"))
                .await?;
        }
        Ok(TwoFactor)
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        ctx.message(
            "network",
            format!("handler got {:?} for {}", msg.text(), msg.to()),
        )
        .await
    }
}

async fn login_2fa(main: &mut MainInstance) -> HarnessResult<()> {
    main.send(Payload::Login(proto::Login {
        user: USER.into(),
        legacy_name: "alice".into(),
        password: "2fa".into(),
        extra_fields: Vec::new(),
        settings: Some(proto::login::UserSettings::default()),
    }))
    .await?;
    // Asking makes the user connected first: Spectrum 2 would drop the
    // question otherwise.
    main.expect_type(proto::MessageType::Connected).await?;
    let question = message_from(main, DEFAULT_ASK_CONTACT).await?;
    assert_eq!(question, "Enter the code we sent you");
    Ok(())
}

#[tokio::test]
async fn a_two_factor_code_is_asked_and_answered_during_login() -> HarnessResult<()> {
    let mut main = MainInstance::start::<TwoFactor>("[service]\njid = layer.localhost\n").await?;
    main.handshake().await?;
    login_2fa(&mut main).await?;
    main.send_message(USER, DEFAULT_ASK_CONTACT, "123456")
        .await?;
    assert_eq!(
        message_from(&mut main, "network").await?,
        "logged in with code 123456"
    );
    // With no question open, the pseudo-contact is an ordinary contact.
    main.send_message(USER, DEFAULT_ASK_CONTACT, "hi").await?;
    assert_eq!(
        message_from(&mut main, "network").await?,
        "handler got \"hi\" for transport"
    );
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn an_unanswered_question_times_out_with_a_clear_error() -> HarnessResult<()> {
    let mut main = MainInstance::start::<TwoFactor>("[service]\njid = layer.localhost\n").await?;
    main.handshake().await?;
    login_2fa(&mut main).await?;
    // A message to another contact is not an answer.
    main.send_message(USER, "bob", "not the code").await?;
    let d = main
        .expect("DISCONNECTED", |p| match p {
            Payload::Disconnected(d) => Some(d.clone()),
            _ => None,
        })
        .await?;
    let text = d.message.unwrap_or_default();
    assert!(
        text.contains("no answer from the user to \"transport\" within 800ms"),
        "{text}"
    );
    main.exit().await?;
    Ok(())
}

/// A login that returns once its link is up, or with the link's error.
struct WaitsForLink {
    _link: Link<Line, String>,
}

#[backend]
impl WaitsForLink {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let link = link_to_server(ctx, "test net", 10, 1)?;
        let mut report = LinkReport::new("test net");
        let up = report.login();
        ctx.follow_link(link.states(), report);
        up.wait().await?;
        ctx.message("test net", "logged in").await?;
        Ok(WaitsForLink { _link: link })
    }
}

#[tokio::test]
async fn a_login_waiting_for_its_link_returns_after_connected() -> HarnessResult<()> {
    let (addr, _server) = drops_once().await;
    let mut main = MainInstance::start::<WaitsForLink>(&config(addr)).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    // The link's own messages ("lost", "reconnected") may come first: the
    // server drops the first connection at once.
    main.expect("the login's message", |p| match p {
        Payload::ConvMessage(m) if m.buddy_name == "test net" && m.message == "logged in" => {
            Some(())
        }
        _ => None,
    })
    .await?;
    let order: Vec<bool> = main
        .received()
        .filter_map(|p| match p {
            Payload::Connected(_) => Some(true),
            Payload::ConvMessage(m) if m.message == "logged in" => Some(false),
            _ => None,
        })
        .collect();
    assert_eq!(order, [true, false], "CONNECTED, then the login's message");
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn a_login_waiting_for_a_link_that_gives_up_fails_with_its_code_once() -> HarnessResult<()> {
    // Nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut main = MainInstance::start::<WaitsForLink>(&config(addr)).await?;
    main.handshake().await?;
    let Err(d) = main.try_login(USER, "alice", "").await? else {
        panic!("the login succeeded without a server");
    };
    assert_eq!(d.error, ConnectionError::NetworkError as i32);
    let text = d.message.unwrap_or_default();
    assert!(text.starts_with("Cannot connect to test net"), "{text}");
    // The link's GaveUp went to the login, not out a second time.
    main.expect_none("a second DISCONNECTED", Duration::from_millis(300), |p| {
        matches!(p, Payload::Disconnected(_))
    })
    .await?;
    main.exit().await?;
    Ok(())
}

/// Sends the user's messages to the server while the link is up.
struct Relay {
    link: Link<Line, String>,
}

#[backend]
impl Relay {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        // Slow retries: a link that is down stays down for the test.
        Ok(Relay {
            link: link_to_server(ctx, "test net", 10_000, 3)?,
        })
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        let sender = self.link.sender();
        let text = msg.text().to_owned();
        ctx.send_or_tell(&sender, text, "test net", "the message")
            .await
            .map(drop)
    }
}

#[tokio::test]
async fn a_message_while_the_link_is_down_is_told_not_sent() -> HarnessResult<()> {
    let nobody = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = nobody.local_addr().unwrap();
    drop(nobody);
    let mut main = MainInstance::start::<Relay>(&config(addr)).await?;
    main.handshake().await?;
    main.try_login(USER, "alice", "").await?.ok();
    main.send_message(USER, "bob", "hello").await?;
    assert_eq!(
        message_from(&mut main, "test net").await?,
        "Not connected to test net right now: the message was not sent."
    );
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn a_message_while_the_link_is_up_goes_to_the_server() -> HarnessResult<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut line)
            .await
            .unwrap();
        line
    });
    let mut main = MainInstance::start::<Relay>(&config(addr)).await?;
    main.handshake().await?;
    main.try_login(USER, "alice", "").await?.ok();
    // Until the link is up, the message is refused; then it goes out.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the link never came up"
        );
        main.send_message(USER, "bob", "hello").await?;
        let told = main
            .expect_none(
                "a message from test net",
                Duration::from_millis(200),
                |p| matches!(p, Payload::ConvMessage(m) if m.buddy_name == "test net"),
            )
            .await;
        if told.is_ok() {
            break;
        }
    }
    assert_eq!(server.await.unwrap(), "hello\r\n");
    main.exit().await?;
    Ok(())
}
