//! The echo backend as Spectrum 2 runs it: a separate process, spawned with
//! Spectrum 2's argument list and a config file, talking over TCP.

use spectrum_backend::proto::{Buddy, MessageType, Payload};
use spectrum_backend::testing::{MainInstance, Result};

const CONFIG: &str = "[service]\njid = echo.localhost\nbackend = /usr/bin/echo\n";

#[tokio::test]
async fn echoes_over_a_real_socket() -> Result<()> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
    let hello = main.handshake().await?;
    let config = hello
        .backend_config
        .expect("BACKEND_CONFIG before the first PONG");
    assert!(config.contains("[features]\nmuc=0\n"), "{config}");
    assert!(hello.stats.res > 0, "real memory figures");
    assert_ne!(
        hello.stats.id,
        std::process::id().to_string(),
        "the backend's own PID"
    );

    main.login("alice@localhost", "alice", "pw").await?;
    let roster = main.expect_type(MessageType::BuddyChanged).await?;
    assert!(matches!(roster, Payload::BuddyChanged(b) if b.buddy_name == "echo"));

    main.send_message("alice@localhost", "bob", "hello").await?;
    let echoed = main.expect_message("alice@localhost").await?;
    assert_eq!(
        (echoed.buddy_name.as_str(), echoed.message.as_str()),
        ("bob", "hello")
    );

    let vcard = main.vcard("alice@localhost", "bob").await?;
    assert_eq!(vcard.fullname.as_deref(), Some("Echo of bob"));
    assert_eq!(vcard.nickname.as_deref(), Some("1 messages echoed"));

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// An XMPP client sends `composing`, `paused`, then `active`; Spectrum 2
/// turns them into BUDDY_TYPING, BUDDY_TYPED and BUDDY_STOPPED_TYPING. Each
/// comes back from the same contact, so the client never shows a contact
/// typing forever.
#[tokio::test]
async fn mirrors_every_typing_state() -> Result<()> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.expect_type(MessageType::BuddyChanged).await?;
    let bob = || Buddy {
        user_name: "alice@localhost".into(),
        buddy_name: "bob".into(),
        ..Default::default()
    };
    for (sent, kind) in [
        (Payload::BuddyTyping(bob()), MessageType::BuddyTyping),
        (Payload::BuddyTyped(bob()), MessageType::BuddyTyped),
        (
            Payload::BuddyStoppedTyping(bob()),
            MessageType::BuddyStoppedTyping,
        ),
    ] {
        main.send(sent).await?;
        match main.expect_type(kind).await? {
            Payload::BuddyTyping(b) | Payload::BuddyTyped(b) | Payload::BuddyStoppedTyping(b) => {
                assert_eq!(
                    (b.user_name.as_str(), b.buddy_name.as_str()),
                    ("alice@localhost", "bob")
                );
            }
            other => panic!("{kind:?} answered by {other:?}"),
        }
    }
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn refuses_an_empty_legacy_name_for_good() -> Result<()> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
    main.handshake().await?;
    let refused = main
        .try_login("bob@localhost", " ", "pw")
        .await?
        .expect_err("refused");
    // INVALID_USERNAME (1): Spectrum 2 must not retry.
    assert_eq!(refused.error, 1);
    assert_eq!(main.close().await?, 0);
    Ok(())
}

/// An admin's `logging.backend_config` (a log4cxx properties file, as for
/// Spectrum 2's own backends) sends the log to a file of its own per backend,
/// at the level it names.
#[tokio::test]
async fn logs_where_logging_backend_config_says() -> Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let properties = dir.path().join("backend-logging.cfg");
    let log = dir.path().join("logs/${jid}/backend-${id}.log");
    std::fs::write(
        &properties,
        format!(
            "log4j.rootLogger=debug, R\n\
             log4j.appender.R=org.apache.log4j.RollingFileAppender\n\
             log4j.appender.R.File={}\n",
            log.display()
        ),
    )
    .expect("write the properties file");
    let config = format!(
        "[service]\njid = echo.localhost\n[logging]\nbackend_config = {}\n",
        properties.display()
    );
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), &config).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit().await?, 0);

    let written = dir.path().join("logs/echo.localhost/backend-1.log");
    let text = std::fs::read_to_string(&written).expect("the backend wrote its log file");
    assert!(text.contains("connected to the main instance"), "{text}");
    assert!(
        text.contains("DEBUG"),
        "debug lines, as the root logger asks: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a file: {text}"
    );
    Ok(())
}

#[test]
fn wrong_arguments_print_usage_and_fail() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_echo"))
        .arg("--port")
        .arg("1")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing --host") && stderr.contains("usage:"),
        "{stderr}"
    );
}

/// The texts of the CONV_MESSAGEs among `frames`.
fn echoes(frames: &[Payload]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|p| match p {
            Payload::ConvMessage(m) => Some(m.message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigterms_mid_flood_lose_no_reply() -> Result<()> {
    const BEFORE: usize = 1500;
    const AFTER: usize = 1500;
    let mut delivered = Vec::new();
    for round in 0..20 {
        let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
        main.set_recording(false);
        main.handshake().await?;
        main.login("alice@localhost", "alice", "pw").await?;
        for i in 0..BEFORE {
            main.send_message("alice@localhost", "bob", &i.to_string())
                .await?;
        }
        // Mid-flood: the handler is running.
        assert_eq!(main.expect_message("alice@localhost").await?.message, "0");
        main.signal("TERM")?;
        // The flood goes on while the backend shuts down; once it has
        // closed, writes may fail.
        for i in BEFORE..BEFORE + AFTER {
            if main
                .send_message("alice@localhost", "bob", &i.to_string())
                .await
                .is_err()
            {
                break;
            }
        }
        // Read to a clean end (a reset would fail here): the replies form
        // an unbroken prefix of the messages, at least up to the signal.
        let frames = main.read_to_end().await?;
        let texts = echoes(&frames);
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(text, &(i + 1).to_string(), "round {round}: reply {}", i + 1);
        }
        assert_eq!(main.wait_for_exit().await?, 0, "round {round}");
        delivered.push(texts.len() + 1);
    }
    eprintln!("replies delivered per round (of {BEFORE} before the signal): {delivered:?}");
    Ok(())
}

#[tokio::test]
async fn sighup_shuts_down_like_sigterm() -> Result<()> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.send_message("alice@localhost", "bob", "before the hangup")
        .await?;
    assert_eq!(
        main.expect_message("alice@localhost").await?.message,
        "before the hangup"
    );
    main.signal("HUP")?;
    main.read_to_end().await?;
    assert_eq!(
        main.wait_for_exit().await?,
        0,
        "a clean exit, not death by SIGHUP"
    );
    let stderr = main.stderr().unwrap_or_default();
    assert!(
        stderr.contains("shutting down after a termination signal"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn logs_to_a_file_carry_no_colour_codes() -> Result<()> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), CONFIG).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let stderr = main.stderr().unwrap_or_default();
    assert!(stderr.contains("logged in"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escapes in a pipe: {stderr:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_latin1_config_file_is_accepted_with_a_warning_naming_the_line() -> Result<()> {
    let config =
        b"[service]\njid = echo.localhost\n# Jos\xe9's transport\nbackend = /usr/bin/echo\n";
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_echo"), config).await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    assert_eq!(main.exit_and_wait().await?, 0);
    let stderr = main.stderr().unwrap_or_default();
    assert!(
        stderr.contains("not UTF-8") && stderr.contains("line=3"),
        "{stderr}"
    );
    Ok(())
}
