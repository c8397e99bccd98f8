//! End to end: the `irc` executable, spawned the way Spectrum 2 spawns it,
//! logged in to a real ngircd started for each test, talking with a second,
//! independent IRC client.
//!
//! ngircd must be installed (`apt-get install -y ngircd`); without it these
//! tests fail and say so.

mod support;

use spectrum_backend::proto::{self, ParticipantFlag, Payload, StatusType};
use spectrum_backend::testing::MainInstance;
use support::{Ngircd, PlainClient, TestResult, free_port, join_request, transport_config};

const USER: &str = "alice@xmpp.test";

/// The backend, spawned against `server`, past its first PING.
async fn backend(config: &str) -> Result<MainInstance, support::Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), config).await?;
    let hello = main.handshake().await?;
    let features = hello.backend_config.unwrap_or_default();
    for announced in [
        "muc=1",
        "needRegistration=0",
        "needPassword=0",
        "disable_jid_escaping=1",
    ] {
        assert!(features.contains(announced), "{announced}: {features}");
    }
    Ok(main)
}

/// A running ngircd, the plain client `bob`, and the backend with `alice`
/// logged in.
async fn alice_and_bob() -> Result<(Ngircd, MainInstance, PlainClient), support::Report> {
    let irc = Ngircd::start().await?;
    let bob = PlainClient::connect(irc.port(), "bob").await?;
    let mut main = backend(&irc.transport_config()).await?;
    main.login(USER, "alice", "").await?;
    Ok((irc, main, bob))
}

fn has(flag: i32, bit: ParticipantFlag) -> bool {
    flag & bit.bit() != 0
}

/// The next PARTICIPANT_CHANGED for `nick` in `room`.
async fn participant(
    main: &mut MainInstance,
    room: &str,
    nick: &str,
) -> Result<proto::Participant, support::Report> {
    let what = format!("PARTICIPANT_CHANGED for {nick} in {room}");
    Ok(main
        .expect(&what, |p| match p {
            Payload::ParticipantChanged(p) if p.room == room && p.nickname == nick => {
                Some(p.clone())
            }
            _ => None,
        })
        .await?)
}

/// The next ROOM_SUBJECT_CHANGED for `room`: (text, set by).
async fn subject(main: &mut MainInstance, room: &str) -> Result<(String, String), support::Report> {
    Ok(main
        .expect(&format!("ROOM_SUBJECT_CHANGED for {room}"), |p| match p {
            Payload::RoomSubjectChanged(m) if m.buddy_name == room => {
                Some((m.message.clone(), m.nickname.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .await?)
}

/// The XMPP user sets a room's subject.
async fn set_subject(main: &mut MainInstance, room: &str, text: &str) -> TestResult {
    main.send(Payload::RoomSubjectChanged(proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: room.into(),
        message: text.into(),
        ..Default::default()
    }))
    .await?;
    Ok(())
}

#[tokio::test]
async fn login_waits_for_the_welcome_and_private_messages_flow_both_ways() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;

    // CONNECTED came after the welcome: the server already knows alice.
    bob.send("ISON alice").await?;
    bob.expect("ISON naming alice", |l| {
        l.command == "303" && l.last().split_whitespace().any(|n| n == "alice")
    })
    .await?;

    bob.send("PRIVMSG alice :hello from IRC").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        ("bob", "hello from IRC")
    );
    assert_eq!(m.nickname.as_deref().unwrap_or_default(), "", "not a room");

    main.send_message(USER, "bob", "hello from XMPP\nsecond line")
        .await?;
    for text in ["hello from XMPP", "second line"] {
        let line = bob
            .expect(&format!("PRIVMSG `{text}` from alice"), |l| {
                l.is("PRIVMSG", "alice") && l.param(0) == "bob"
            })
            .await?;
        assert_eq!(line.last(), text);
    }

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn joining_a_room_lists_ops_the_user_last_and_the_topic() -> TestResult {
    let irc = Ngircd::start().await?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #Test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    bob.send("TOPIC #Test :Welcome to the test").await?;
    bob.expect("TOPIC echo", |l| l.command == "TOPIC").await?;

    let mut main = backend(&irc.transport_config()).await?;
    main.login(USER, "alice", "").await?;
    // Spectrum 2 lower-cases room names; the answer must use this exact one.
    let occupants = main.join_room(USER, "#test", "alice", "").await?;
    assert!(occupants.iter().all(|p| p.room == "#test"), "{occupants:?}");
    let names: Vec<&str> = occupants.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(names, ["bob", "alice"], "the user last");
    assert!(
        has(occupants[0].flag, ParticipantFlag::Moderator),
        "bob is op"
    );
    assert!(!has(occupants[0].flag, ParticipantFlag::Me));
    assert!(has(occupants[1].flag, ParticipantFlag::Me));
    assert!(!has(occupants[1].flag, ParticipantFlag::Moderator));
    assert!(
        occupants
            .iter()
            .all(|p| p.status == StatusType::StatusOnline as i32)
    );
    assert_eq!(
        subject(&mut main, "#test").await?,
        ("Welcome to the test".to_owned(), "bob".to_owned())
    );

    bob.expect("alice's JOIN", |l| l.is("JOIN", "alice"))
        .await?;

    // Spectrum 2 replays joins after every CONNECTED: answered again, no second JOIN.
    let again = main.join_room(USER, "#test", "alice", "").await?;
    assert_eq!(again.len(), 2, "{again:?}");

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn room_messages_flow_both_ways_and_the_users_own_are_echoed() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    main.join_room(USER, "#test", "alice", "").await?;
    bob.expect("alice's JOIN", |l| l.is("JOIN", "alice"))
        .await?;

    bob.send("PRIVMSG #test :hi alice").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (
            m.buddy_name.as_str(),
            m.nickname.as_deref(),
            m.message.as_str()
        ),
        ("#test", Some("bob"), "hi alice")
    );

    main.send_message(USER, "#test", "hi bob").await?;
    let line = bob
        .expect("alice's room message", |l| l.is("PRIVMSG", "alice"))
        .await?;
    assert!(line.param(0).eq_ignore_ascii_case("#test"), "{}", line.raw);
    assert_eq!(line.last(), "hi bob");
    let echo = main.expect_message(USER).await?;
    assert_eq!(
        (
            echo.buddy_name.as_str(),
            echo.nickname.as_deref(),
            echo.message.as_str()
        ),
        ("#test", Some("alice"), "hi bob"),
        "the user's own message, echoed"
    );

    // A private message to an occupant, and the answer in the same conversation.
    main.send_message(USER, "#test/bob", "just between us")
        .await?;
    let line = bob
        .expect("alice's private message", |l| {
            l.is("PRIVMSG", "alice") && l.param(0) == "bob"
        })
        .await?;
    assert_eq!(line.last(), "just between us");
    bob.send("PRIVMSG alice :sure").await?;
    let answer = main.expect_message(USER).await?;
    assert_eq!(
        (
            answer.buddy_name.as_str(),
            answer.nickname.as_deref(),
            answer.message.as_str(),
            answer.pm
        ),
        ("#test", Some("bob"), "sure", Some(true))
    );

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn subjects_set_on_either_side_reach_the_other() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    main.join_room(USER, "#test", "alice", "").await?;
    // bob created the channel, so he is its op; he makes alice op too, so
    // that either may set the topic whatever the channel's modes.
    bob.send("MODE #test +o alice").await?;
    let opped = participant(&mut main, "#test", "alice").await?;
    assert!(has(opped.flag, ParticipantFlag::Moderator), "{opped:?}");

    set_subject(&mut main, "#test", "set from XMPP").await?;
    let line = bob
        .expect("alice's TOPIC", |l| l.is("TOPIC", "alice"))
        .await?;
    assert_eq!(line.last(), "set from XMPP");
    assert_eq!(
        subject(&mut main, "#test").await?,
        ("set from XMPP".to_owned(), "alice".to_owned())
    );

    bob.send("TOPIC #test :set from IRC").await?;
    assert_eq!(
        subject(&mut main, "#test").await?,
        ("set from IRC".to_owned(), "bob".to_owned())
    );

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn other_users_joins_renames_parts_and_quits_are_participant_changes() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;
    let occupants = main.join_room(USER, "#test", "alice", "").await?;
    assert_eq!(occupants.len(), 1, "alone: {occupants:?}");
    assert!(
        has(occupants[0].flag, ParticipantFlag::Moderator),
        "whoever creates a channel is its op"
    );

    bob.send("JOIN #test").await?;
    let joined = participant(&mut main, "#test", "bob").await?;
    assert_eq!(joined.status, StatusType::StatusOnline as i32);

    bob.send("NICK bobby").await?;
    let renamed = participant(&mut main, "#test", "bob").await?;
    assert_eq!(renamed.newname.as_deref(), Some("bobby"));
    assert_eq!(renamed.status, StatusType::StatusOnline as i32);

    bob.send("PART #test :see you").await?;
    let left = participant(&mut main, "#test", "bobby").await?;
    assert_eq!(left.status, StatusType::StatusNone as i32);
    assert_eq!(
        left.status_message.as_deref(),
        Some("see you"),
        "the part reason"
    );

    bob.send("JOIN #test").await?;
    let back = participant(&mut main, "#test", "bobby").await?;
    assert_eq!(back.status, StatusType::StatusOnline as i32);
    bob.send("QUIT :gone for good").await?;
    let quit = participant(&mut main, "#test", "bobby").await?;
    assert_eq!(quit.status, StatusType::StatusNone as i32);
    assert!(
        quit.status_message
            .as_deref()
            .unwrap_or_default()
            .contains("gone for good"),
        "{quit:?}"
    );

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_plain_client_sees_the_user_join_leave_and_log_out() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;

    main.join_room(USER, "#test", "alice", "").await?;
    bob.expect("alice's JOIN", |l| l.is("JOIN", "alice"))
        .await?;

    main.leave_room(USER, "#test").await?;
    bob.expect("alice's PART", |l| l.is("PART", "alice"))
        .await?;
    // The room is gone for alice: bob's room message is not reported, and
    // his private message right after it (the server keeps bob's order)
    // is the next message she gets.
    bob.send("PRIVMSG #test :anyone?").await?;
    bob.send("PRIVMSG alice :you left").await?;
    let next = main.expect_message(USER).await?;
    assert_eq!(
        (next.buddy_name.as_str(), next.message.as_str()),
        ("bob", "you left")
    );

    // A quick rejoin works, whatever the order of the PART echo.
    let occupants = main.join_room(USER, "#test", "alice", "").await?;
    assert_eq!(occupants.len(), 2, "{occupants:?}");
    bob.expect("alice's JOIN", |l| l.is("JOIN", "alice"))
        .await?;

    main.logout(USER, "alice").await?;
    bob.expect("alice's QUIT", |l| l.is("QUIT", "alice"))
        .await?;

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn join_errors_are_reported_on_the_users_own_nickname() -> TestResult {
    let (_irc, mut main, mut bob) = alice_and_bob().await?;
    bob.send("JOIN #locked").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    bob.send("MODE #locked +k secret").await?;
    bob.expect("the key set", |l| l.command == "MODE").await?;

    let refused = main.join_room(USER, "#locked", "alice", "").await?;
    let own = refused.last().ok_or("no participant")?;
    assert_eq!(own.nickname, "alice");
    assert!(has(own.flag, ParticipantFlag::NotAuthorized), "{own:?}");

    let joined = main.join_room(USER, "#locked", "alice", "secret").await?;
    let names: Vec<&str> = joined.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(names, ["bob", "alice"]);

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_nickname_in_use_gets_an_underscore_and_rooms_show_the_rename() -> TestResult {
    let irc = Ngircd::start().await?;
    let _carol = PlainClient::connect(irc.port(), "carol").await?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    let mut main = backend(&irc.transport_config()).await?;
    main.login("carol@xmpp.test", "carol", "").await?;
    bob.send("WHOIS carol_").await?;
    bob.expect("carol_ known to the server", |l| l.command == "311")
        .await?;

    main.send(join_request("carol@xmpp.test", "#test", "carol"))
        .await?;
    let renamed = main
        .expect("ROOM_NICKNAME_CHANGED", |p| match p {
            Payload::RoomNicknameChanged(r) => Some(r.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (renamed.room.as_str(), renamed.nickname.as_str()),
        ("#test", "carol_")
    );
    let own = participant(&mut main, "#test", "carol").await?;
    assert!(has(own.flag, ParticipantFlag::Me), "{own:?}");
    assert_eq!(own.newname.as_deref(), Some("carol_"));
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_nickname_in_use_even_with_underscores_is_refused_with_code_6() -> TestResult {
    let irc = Ngircd::start().await?;
    let mut taken = Vec::new();
    for nick in [
        "dave",
        "dave_",
        "dave__",
        "dave___",
        "dave____",
        "dave_____",
    ] {
        taken.push(PlainClient::connect(irc.port(), nick).await?);
    }
    let mut main = backend(&irc.transport_config()).await?;
    let refused = main
        .try_login("dave@xmpp.test", "dave", "")
        .await?
        .expect_err("every nickname is taken");
    assert_eq!(
        refused.error,
        spectrum_backend::ConnectionError::NameInUse as i32
    );
    let text = refused.message.unwrap_or_default();
    assert!(text.contains("dave") && text.contains("in use"), "{text}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn at_login_the_servers_are_tried_in_order() -> TestResult {
    let irc = Ngircd::start().await?;
    let dead = free_port()?;
    let config = format!(
        "{}irc_server = 127.0.0.1/{}\n",
        transport_config(&format!("127.0.0.1:{dead}")),
        irc.port()
    );
    let mut main = backend(&config).await?;
    main.login(USER, "alice", "").await?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("PRIVMSG alice :found you").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(m.message, "found you");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_a_network_error() -> TestResult {
    let port = free_port()?;
    let mut main = backend(&transport_config(&format!("127.0.0.1:{port}"))).await?;
    let refused = main
        .try_login(USER, "alice", "")
        .await?
        .expect_err("nothing listens there");
    assert_eq!(
        refused.error,
        spectrum_backend::ConnectionError::NetworkError as i32
    );
    let text = refused.message.unwrap_or_default();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The next message to the user from `from` (the server, for the
/// backend's own news).
async fn news(
    main: &mut MainInstance,
    from: &str,
    needle: &str,
) -> Result<String, support::Report> {
    Ok(main
        .expect(
            &format!("a message from {from} with `{needle}`"),
            |p| match p {
                Payload::ConvMessage(m) if m.buddy_name == from && m.message.contains(needle) => {
                    Some(m.message.clone())
                }
                _ => None,
            },
        )
        .await?)
}

#[tokio::test]
async fn a_lost_connection_comes_back_rejoins_the_rooms_and_tells_the_user() -> TestResult {
    let (mut irc, mut main, mut bob) = alice_and_bob().await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    let occupants = main.join_room(USER, "#test", "alice", "").await?;
    assert_eq!(occupants.len(), 2, "{occupants:?}");

    irc.stop();
    let lost = news(&mut main, "127.0.0.1", "Lost the connection").await?;
    assert!(lost.contains("trying again in"), "{lost}");
    irc.restart().await?;
    let back = news(&mut main, "127.0.0.1", "reconnected to").await?;
    assert_eq!(back, format!("reconnected to 127.0.0.1:{}", irc.port()));
    // The new server's #test has only alice: bob is gone, she is its op.
    let gone = participant(&mut main, "#test", "bob").await?;
    assert_eq!(gone.status, StatusType::StatusNone as i32);
    let own = participant(&mut main, "#test", "alice").await?;
    assert!(
        has(own.flag, ParticipantFlag::Moderator) && has(own.flag, ParticipantFlag::Me),
        "{own:?}"
    );

    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #test").await?;
    let back = participant(&mut main, "#test", "bob").await?;
    assert_eq!(back.status, StatusType::StatusOnline as i32);
    bob.send("PRIVMSG #test :welcome back").await?;
    // (Past any further news of retries, should the restart have been slow.)
    let m = main
        .expect("bob's message in #test", |p| match p {
            Payload::ConvMessage(m) if m.buddy_name == "#test" => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(m.message, "welcome back");

    main.logout(USER, "alice").await?;
    bob.expect("alice's QUIT", |l| l.is("QUIT", "alice"))
        .await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_connection_lost_for_good_is_reported_as_a_network_error() -> TestResult {
    let mut irc = Ngircd::start().await?;
    let config = format!("{}irc_reconnect_attempts = 1\n", irc.transport_config());
    let mut main = backend(&config).await?;
    main.login(USER, "alice", "").await?;
    irc.stop();
    let lost = main
        .expect("DISCONNECTED", |p| match p {
            Payload::Disconnected(d) if d.user == USER => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        lost.error,
        spectrum_backend::ConnectionError::NetworkError as i32
    );
    let text = lost.message.unwrap_or_default();
    assert!(
        text.contains(&format!("127.0.0.1:{}", irc.port())) && text.contains("gave up"),
        "{text}"
    );
    // Spectrum 2 answers with LOGOUT; it must be harmless now.
    main.logout(USER, "alice").await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// alice and bob in #test (bob is its op).
async fn in_a_room(
    config_more: &str,
) -> Result<(Ngircd, MainInstance, PlainClient), support::Report> {
    let irc = Ngircd::start().await?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;
    let mut main = backend(&format!("{}{config_more}", irc.transport_config())).await?;
    main.login(USER, "alice", "").await?;
    main.join_room(USER, "#test", "alice", "").await?;
    bob.expect("alice's JOIN", |l| l.is("JOIN", "alice"))
        .await?;
    Ok((irc, main, bob))
}

#[tokio::test]
async fn actions_go_both_ways_notices_show_and_ctcp_requests_are_answered() -> TestResult {
    let (_irc, mut main, mut bob) = in_a_room("").await?;
    main.send_message(USER, "#test", "/me waves").await?;
    let line = bob
        .expect("alice's action", |l| l.is("PRIVMSG", "alice"))
        .await?;
    assert_eq!(line.last(), "\u{1}ACTION waves\u{1}");
    let echo = main.expect_message(USER).await?;
    assert_eq!(echo.message, "/me waves");

    bob.send("PRIVMSG #test :\u{1}ACTION grins\u{1}").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.nickname.as_deref(), m.message.as_str()),
        (Some("bob"), "/me grins")
    );

    for (request, answer) in [
        ("VERSION", "VERSION "),
        ("PING 42", "PING 42"),
        ("TIME", "TIME "),
    ] {
        bob.send(&format!("PRIVMSG alice :\u{1}{request}\u{1}"))
            .await?;
        let line = bob
            .expect(&format!("the answer to {request}"), |l| {
                l.is("NOTICE", "alice")
            })
            .await?;
        assert!(
            line.last().starts_with(&format!("\u{1}{answer}")),
            "{}",
            line.raw
        );
    }
    bob.send("NOTICE alice :a notice").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        ("bob", "a notice"),
        "CTCP requests are not shown; the notice is"
    );

    // A lone CR is a line break: two lines, nothing lost.
    main.send_message(USER, "bob", "one\rtwo").await?;
    for text in ["one", "two"] {
        let line = bob.expect(text, |l| l.is("PRIVMSG", "alice")).await?;
        assert_eq!(line.last(), text);
    }
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn whois_typed_as_a_message_is_answered_as_a_message() -> TestResult {
    let (_irc, mut main, _bob) = in_a_room("").await?;
    main.send_message(USER, "bob", ".whois bob").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(m.buddy_name, "bob");
    assert!(m.message.contains("bob is ~bob@127.0.0.1"), "{}", m.message);
    assert!(
        m.message.contains("bob is on irc.test.local"),
        "{}",
        m.message
    );
    assert!(m.message.contains("#test"), "{}", m.message);

    main.send_message(USER, "#test", "/whois nobody").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(m.buddy_name, "nobody");
    assert!(
        m.message.starts_with("nobody: No such nick"),
        "{}",
        m.message
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The next PARTICIPANT_CHANGED for bob in #test with this status.
async fn bob_is(
    main: &mut MainInstance,
    status: StatusType,
) -> Result<proto::Participant, support::Report> {
    Ok(main
        .expect(&format!("bob {status:?}"), |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "bob" && p.status == status as i32 => {
                Some(p.clone())
            }
            _ => None,
        })
        .await?)
}

/// The next BUDDY_CHANGED for bob.
async fn buddy_bob(main: &mut MainInstance) -> Result<proto::Buddy, support::Report> {
    Ok(main
        .expect("BUDDY_CHANGED bob", |p| match p {
            Payload::BuddyChanged(b) if b.buddy_name == "bob" => Some(b.clone()),
            _ => None,
        })
        .await?)
}

#[tokio::test]
async fn away_goes_both_ways_and_who_polls_keep_others_current() -> TestResult {
    let (_irc, mut main, mut bob) = in_a_room("irc_away_timeout = 1\n").await?;
    // The XMPP user's away state is IRC's AWAY.
    main.set_status(USER, StatusType::StatusXa, "lunch").await?;
    bob.expect("alice away", |l| {
        l.command == "MODE" && l.last().contains('a')
    })
    .await
    .ok();
    bob.send("WHOIS alice").await?;
    let away = bob.expect("RPL_AWAY", |l| l.command == "301").await?;
    assert_eq!(away.last(), "lunch");
    main.set_status(USER, StatusType::StatusOnline, "").await?;
    bob.send("WHOIS alice").await?;
    let end = bob
        .expect("WHOIS without 301", |l| {
            matches!(l.command.as_str(), "301" | "318")
        })
        .await?;
    assert_eq!(end.command, "318", "back online");

    // Others' away state: ngircd offers no away-notify, so WHO polls.
    main.send(Payload::BuddyChanged(proto::Buddy {
        user_name: USER.into(),
        buddy_name: "bob".into(),
        ..Default::default()
    }))
    .await?;
    let buddy = buddy_bob(&mut main).await?;
    assert_eq!(buddy.status, Some(StatusType::StatusOnline as i32));
    bob.send("AWAY :brb").await?;
    bob_is(&mut main, StatusType::StatusAway).await?;
    let buddy = buddy_bob(&mut main).await?;
    assert_eq!(buddy.status, Some(StatusType::StatusAway as i32));
    bob.send("AWAY").await?;
    bob_is(&mut main, StatusType::StatusOnline).await?;
    let buddy = buddy_bob(&mut main).await?;
    assert_eq!(buddy.status, Some(StatusType::StatusOnline as i32));
    bob.send("QUIT :bye").await?;
    let buddy = buddy_bob(&mut main).await?;
    assert_eq!(buddy.status, Some(StatusType::StatusNone as i32), "offline");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn kicks_and_bans_reach_the_user_with_the_reason() -> TestResult {
    let (_irc, mut main, mut bob) = in_a_room("").await?;
    bob.send("MODE #test +b alice!*@*").await?;
    bob.send("KICK #test alice :behave").await?;
    let kicked = participant(&mut main, "#test", "alice").await?;
    assert_eq!(kicked.status, StatusType::StatusNone as i32);
    assert_eq!(
        kicked.status_message.as_deref(),
        Some("kicked by bob: behave")
    );

    let refused = main.join_room(USER, "#test", "alice", "").await?;
    let own = refused.last().ok_or("no participant")?;
    assert!(has(own.flag, ParticipantFlag::NotAuthorized), "{own:?}");
    let reason = own.status_message.as_deref().unwrap_or_default();
    assert!(reason.contains("banned"), "{reason}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_channel_list_fills_the_room_list() -> TestResult {
    let irc = Ngircd::start().await?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #lobby").await?;
    bob.send("TOPIC #lobby :come\u{7} in").await?;
    bob.expect("the topic set", |l| l.command == "TOPIC")
        .await?;
    let mut main = backend(&irc.transport_config()).await?;
    main.login(USER, "alice", "").await?;
    let list = main
        .expect("ROOM_LIST", |p| match p {
            Payload::RoomList(l) => Some(l.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(list.user.as_deref(), Some(USER));
    // ngircd lists its own &SERVER channel too.
    let lobby = list
        .room
        .iter()
        .position(|r| r == "#lobby")
        .ok_or("no #lobby in the list")?;
    assert_eq!(
        list.name[lobby], "#lobby (1): come in",
        "control characters stripped"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_erroneous_nickname_is_an_invalid_username() -> TestResult {
    let irc = Ngircd::start().await?;
    let mut main = backend(&irc.transport_config()).await?;
    // Longer than the server's MaxNickLength (30): 432.
    let long = "a".repeat(40);
    let refused = main
        .try_login("long@xmpp.test", &long, "")
        .await?
        .expect_err("too long for the server");
    assert_eq!(
        refused.error,
        spectrum_backend::ConnectionError::InvalidUsername as i32
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn control_characters_leave_subjects_sent_to_irc() -> TestResult {
    let (_irc, mut main, mut bob) = in_a_room("").await?;
    bob.send("MODE #test +o alice").await?;
    let opped = participant(&mut main, "#test", "alice").await?;
    assert!(has(opped.flag, ParticipantFlag::Moderator), "{opped:?}");
    set_subject(&mut main, "#test", "bell\u{7} and\u{3}4 colour").await?;
    let line = bob
        .expect("alice's TOPIC", |l| l.is("TOPIC", "alice"))
        .await?;
    assert_eq!(line.last(), "bell and4 colour");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
