//! Spectrum 2's login keys and SASL, against a scripted server: SASL
//! PLAIN needs IRC services, which no Debian IRC server brings along, so
//! the test speaks the server's side of each exchange itself.

mod support;

use spectrum_backend::ConnectionError;
use spectrum_backend::testing::MainInstance;
use support::scripted::{Client, Scripted};
use support::{Report, TestResult, join_request, transport_config};

const USER: &str = "alice@xmpp.test";

async fn backend(config: &str) -> Result<MainInstance, Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), config).await?;
    main.handshake().await?;
    Ok(main)
}

/// The first PRIVMSG the server gets after the welcome, once the user
/// wrote to bob: (target, text).
async fn first_privmsg(
    main: &mut MainInstance,
    irc: &mut Client,
) -> Result<(String, String), Report> {
    main.send_message(USER, "bob", "hi bob").await?;
    let line = irc.expect("a PRIVMSG", |l| l.command == "PRIVMSG").await?;
    Ok((line.param(0).to_owned(), line.last().to_owned()))
}

#[tokio::test]
async fn sasl_plain_logs_in_when_offered_and_replaces_the_identify_message() -> TestResult {
    let server = Scripted::bind().await?;
    let mut main = backend(&transport_config(&server.address())).await?;
    let script = async {
        let mut c = server.accept().await?;
        assert_eq!(c.seen[0].raw.trim_end(), "CAP LS 302", "capabilities first");
        c.send(":irc.scripted CAP * LS * :multi-prefix").await?;
        c.send(":irc.scripted CAP * LS :sasl=PLAIN away-notify chghost")
            .await?;
        let req = c.expect_cap("REQ").await?;
        let mut asked: Vec<&str> = req.last().split_whitespace().collect();
        asked.sort_unstable();
        assert_eq!(asked, ["away-notify", "multi-prefix", "sasl"]);
        c.send(":irc.scripted CAP * ACK :away-notify multi-prefix sasl")
            .await?;
        c.expect("AUTHENTICATE PLAIN", |l| l.command == "AUTHENTICATE")
            .await?;
        c.send("AUTHENTICATE +").await?;
        let response = c
            .expect("the PLAIN response", |l| l.command == "AUTHENTICATE")
            .await?;
        // base64 of "alice\0alice\0secret"
        assert_eq!(response.param(0), "YWxpY2UAYWxpY2UAc2VjcmV0");
        c.send(":irc.scripted 903 alice :SASL authentication successful")
            .await?;
        c.expect_cap("END").await?;
        c.welcome().await?;
        Ok::<Client, Report>(c)
    };
    let (login, irc) = tokio::join!(main.login(USER, "alice", "secret"), script);
    login?;
    let mut irc = irc?;
    assert_eq!(
        first_privmsg(&mut main, &mut irc).await?,
        ("bob".to_owned(), "hi bob".to_owned()),
        "no NickServ identify after SASL"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_refused_sasl_login_is_an_authentication_failure() -> TestResult {
    let server = Scripted::bind().await?;
    let mut main = backend(&transport_config(&server.address())).await?;
    let script = async {
        let mut c = server.accept().await?;
        c.send(":irc.scripted CAP * LS :sasl").await?;
        c.expect_cap("REQ").await?;
        c.send(":irc.scripted CAP * ACK :sasl").await?;
        c.expect("AUTHENTICATE PLAIN", |l| l.command == "AUTHENTICATE")
            .await?;
        c.send("AUTHENTICATE +").await?;
        c.expect("the PLAIN response", |l| l.command == "AUTHENTICATE")
            .await?;
        c.send(":irc.scripted 904 alice :SASL authentication failed")
            .await?;
        Ok::<Client, Report>(c)
    };
    let (login, irc) = tokio::join!(main.try_login(USER, "alice", "wrong"), script);
    let _irc = irc?;
    let refused = login?.expect_err("SASL failed");
    assert_eq!(refused.error, ConnectionError::AuthenticationFailed as i32);
    let text = refused.message.unwrap_or_default();
    assert!(text.contains("SASL authentication failed"), "{text}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// Logs in with password `secret` to a server without capabilities
/// (it answers CAP as an unknown command); returns the server's side.
async fn without_caps(main: &mut MainInstance, server: &Scripted) -> Result<Client, Report> {
    let script = async {
        let mut c = server.accept().await?;
        c.send(":irc.scripted 421 * CAP :Unknown command").await?;
        c.welcome().await?;
        Ok::<Client, Report>(c)
    };
    let (login, irc) = tokio::join!(main.login(USER, "alice", "secret"), script);
    login?;
    irc
}

#[tokio::test]
async fn without_sasl_the_user_identifies_to_the_service() -> TestResult {
    let server = Scripted::bind().await?;
    let mut main = backend(&transport_config(&server.address())).await?;
    let mut irc = without_caps(&mut main, &server).await?;
    assert_eq!(
        first_privmsg(&mut main, &mut irc).await?,
        ("NickServ".to_owned(), "identify secret".to_owned()),
        "the default irc_identify"
    );
    assert_eq!(main.exit().await?, 0);

    let config = format!(
        "{}irc_identify = Q auth $name $password\n",
        transport_config(&server.address())
    );
    let mut main = backend(&config).await?;
    let mut irc = without_caps(&mut main, &server).await?;
    assert_eq!(
        first_privmsg(&mut main, &mut irc).await?,
        ("Q".to_owned(), "auth alice secret".to_owned())
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn irc_send_pass_sends_the_password_as_pass_and_nothing_else() -> TestResult {
    let server = Scripted::bind().await?;
    let config = format!("{}irc_send_pass = 1\n", transport_config(&server.address()));
    let mut main = backend(&config).await?;
    let script = async {
        let mut c = server.accept().await?;
        let commands: Vec<String> = c.seen.iter().map(|l| l.raw.trim_end().to_owned()).collect();
        assert_eq!(
            commands,
            [
                "CAP LS 302",
                "PASS secret",
                "NICK alice",
                "USER alice 0 * alice"
            ]
        );
        // SASL offered, but the password went as PASS: not asked for.
        c.send(":irc.scripted CAP * LS :sasl").await?;
        c.expect("CAP END", |l| l.command == "CAP").await?;
        assert_eq!(c.seen.last().map(|l| l.param(0)), Some("END"));
        c.welcome().await?;
        Ok::<Client, Report>(c)
    };
    let (login, irc) = tokio::join!(main.login(USER, "alice", "secret"), script);
    login?;
    let mut irc = irc?;
    assert_eq!(
        first_privmsg(&mut main, &mut irc).await?,
        ("bob".to_owned(), "hi bob".to_owned()),
        "no identify with PASS"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn with_away_notify_others_away_state_comes_from_the_server() -> TestResult {
    use spectrum_backend::proto::{Payload, StatusType};
    let server = Scripted::bind().await?;
    // Polls every second if they were on: the server would see WHO #room.
    let config = format!(
        "{}irc_away_timeout = 1\n",
        transport_config(&server.address())
    );
    let mut main = backend(&config).await?;
    let script = async {
        let mut c = server.accept().await?;
        c.send(":irc.scripted CAP * LS :away-notify").await?;
        c.expect_cap("REQ").await?;
        c.send(":irc.scripted CAP * ACK :away-notify").await?;
        c.expect_cap("END").await?;
        c.welcome().await?;
        Ok::<Client, Report>(c)
    };
    let (login, irc) = tokio::join!(main.login(USER, "alice", ""), script);
    login?;
    let mut irc = irc?;
    main.send(join_request(USER, "#room", "alice")).await?;
    irc.expect("JOIN #room", |l| l.command == "JOIN").await?;
    irc.send(":alice!a@h JOIN #room").await?;
    irc.send(":irc.scripted 353 alice = #room :alice bob")
        .await?;
    irc.send(":irc.scripted 366 alice #room :End of NAMES")
        .await?;
    irc.send(":bob!b@h AWAY :gone fishing").await?;
    let away = main
        .expect("bob away", |p| match p {
            Payload::ParticipantChanged(p)
                if p.nickname == "bob" && p.status == StatusType::StatusAway as i32 =>
            {
                Some(p.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(away.status_message.as_deref(), Some("gone fishing"));
    // Two poll periods: no WHO for the room (away-notify keeps it current).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    irc.send("PING :check").await?;
    irc.expect("PONG", |l| l.command == "PONG").await?;
    assert!(
        !irc.seen.iter().any(|l| l.command == "WHO"),
        "no WHO polls with away-notify"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
