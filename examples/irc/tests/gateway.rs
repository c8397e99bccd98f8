//! Gateway mode (no `service.irc_server`): rooms name their network
//! (`#channel%server`), the first join to a network connects to it under
//! the join's nickname, the last leave disconnects; contacts and private
//! messages are `nick%server`. Against a real ngircd.
//!
//! ngircd must be installed (`apt-get install -y ngircd`); without it these
//! tests fail and say so.

mod support;

use spectrum_backend::proto::{self, ParticipantFlag, Payload, StatusType};
use spectrum_backend::testing::MainInstance;
use support::{Ngircd, PlainClient, Report, TestResult, free_port};

const USER: &str = "alice@xmpp.test";
const GATEWAY: &str = "[service]\njid = irc.localhost\nbackend = /usr/bin/irc\n";

async fn gateway() -> Result<MainInstance, Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), GATEWAY).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    Ok(main)
}

#[tokio::test]
async fn the_first_join_connects_under_its_nickname_and_the_last_leave_quits() -> TestResult {
    let irc = Ngircd::start().await?;
    let network = format!("127.0.0.1:{}", irc.port());
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #test").await?;
    bob.expect("end of NAMES", |l| l.command == "366").await?;

    // Logged in without a connection: nothing on IRC yet.
    let mut main = gateway().await?;
    bob.send("ISON alicia alice").await?;
    let ison = bob.expect("ISON", |l| l.command == "303").await?;
    assert_eq!(ison.last().trim(), "", "no connection before a join");

    let test = format!("#test%{network}");
    let occupants = main.join_room(USER, &test, "alicia", "").await?;
    let names: Vec<(&str, &str)> = occupants
        .iter()
        .map(|p| (p.room.as_str(), p.nickname.as_str()))
        .collect();
    assert_eq!(names, [(test.as_str(), "bob"), (test.as_str(), "alicia")]);
    bob.expect("alicia's JOIN", |l| l.is("JOIN", "alicia"))
        .await?;

    // Room messages and private messages carry the network.
    bob.send("PRIVMSG #test :hi all").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (
            m.buddy_name.as_str(),
            m.nickname.as_deref(),
            m.message.as_str()
        ),
        (test.as_str(), Some("bob"), "hi all")
    );
    bob.send("PRIVMSG alicia :psst").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        (format!("bob%{network}").as_str(), "psst")
    );
    main.send_message(USER, &format!("bob%{network}"), "hello bob")
        .await?;
    let line = bob
        .expect("alicia's answer", |l| l.is("PRIVMSG", "alicia"))
        .await?;
    assert_eq!((line.param(0), line.last()), ("bob", "hello bob"));

    // A second room on the same network: the same connection.
    let other = format!("#other%{network}");
    let occupants = main.join_room(USER, &other, "alicia", "").await?;
    assert_eq!(occupants.len(), 1, "{occupants:?}");
    bob.send("JOIN #other").await?;
    let joined = main
        .expect("bob in #other", |p| match p {
            Payload::ParticipantChanged(p) if p.room == other && p.nickname == "bob" => Some(()),
            _ => None,
        })
        .await;
    joined?;
    bob.send("WHOIS alicia").await?;
    let channels = bob
        .expect("alicia's channels", |l| l.command == "319")
        .await?;
    let mut joined: Vec<&str> = channels
        .last()
        .split_whitespace()
        .map(|c| c.trim_start_matches(['@', '+']))
        .collect();
    joined.sort_unstable();
    assert_eq!(joined, ["#other", "#test"], "one connection, both rooms");

    // Leaving the last room of the network quits it (bob shares #other).
    main.leave_room(USER, &test).await?;
    bob.expect("alicia's PART", |l| l.is("PART", "alicia"))
        .await?;
    main.leave_room(USER, &other).await?;
    let quit = bob
        .expect("alicia's QUIT", |l| l.is("QUIT", "alicia"))
        .await?;
    assert!(quit.last().contains("Left the last room"), "{}", quit.raw);

    main.send_message(USER, &format!("bob%{network}"), "still there?")
        .await?;
    let m = main.expect_message(USER).await?;
    assert!(
        m.message.contains("join a room on it first"),
        "{}",
        m.message
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_network_that_cannot_be_reached_fails_the_join_not_the_session() -> TestResult {
    let irc = Ngircd::start().await?;
    let dead = format!("127.0.0.1:{}", free_port()?);
    let mut main = gateway().await?;
    main.send(Payload::JoinRoom(proto::Room {
        user_name: USER.into(),
        nickname: "alice".into(),
        room: format!("#x%{dead}"),
        password: Some(String::new()),
    }))
    .await?;
    let refused = main
        .expect("the join refused", |p| match p {
            Payload::ParticipantChanged(p) => Some(p.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(refused.status, StatusType::StatusNone as i32);
    assert!(
        refused.flag & ParticipantFlag::RoomNotFound.bit() != 0,
        "{refused:?}"
    );
    let reason = refused.status_message.unwrap_or_default();
    assert!(reason.contains(&dead), "{reason}");

    // The session goes on: another network works.
    let room = format!("#ok%127.0.0.1:{}", irc.port());
    let occupants = main.join_room(USER, &room, "alice", "").await?;
    assert_eq!(occupants.len(), 1, "{occupants:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_gateway_network_that_drops_comes_back_and_rejoins() -> TestResult {
    let mut irc = Ngircd::start().await?;
    let network = format!("127.0.0.1:{}", irc.port());
    let mut main = gateway().await?;
    let room = format!("#back%{network}");
    main.join_room(USER, &room, "alice", "").await?;
    irc.restart().await?;
    let back = main
        .expect("news of the new connection", |p| match p {
            Payload::ConvMessage(m) if m.message.starts_with("reconnected to") => Some(()),
            _ => None,
        })
        .await;
    back?;
    let mut bob = PlainClient::connect(irc.port(), "bob").await?;
    bob.send("JOIN #back").await?;
    let names = bob
        .expect("the names of #back", |l| l.command == "353")
        .await?;
    // The news goes out once the connection is back; the rejoin may land
    // just after bob's JOIN: then bob sees alice join.
    let listed = names
        .last()
        .split_whitespace()
        .any(|n| n.trim_start_matches('@') == "alice");
    if !listed {
        bob.expect("alice rejoining #back", |l| {
            l.command == "JOIN" && l.nick() == "alice"
        })
        .await?;
    }
    bob.send("PRIVMSG #back :welcome back").await?;
    let m = main
        .expect("bob's message in the room", |p| match p {
            Payload::ConvMessage(m) if m.buddy_name == room => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (m.nickname.as_deref(), m.message.as_str()),
        (Some("bob"), "welcome back")
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// Two networks in one session share its room tracker: a QUIT, a nickname
/// change and a reconnect on one network touch only that network's rooms
/// (the other room stays joined, so a replayed join of it is answered at
/// once from the tracker).
#[tokio::test]
async fn two_networks_keep_their_rooms_apart() -> TestResult {
    let mut one = Ngircd::start().await?;
    let two = Ngircd::start().await?;
    let (n1, n2) = (
        format!("127.0.0.1:{}", one.port()),
        format!("127.0.0.1:{}", two.port()),
    );
    let mut carol1 = PlainClient::connect(one.port(), "carol").await?;
    carol1.send("JOIN #a").await?;
    carol1
        .expect("end of NAMES", |l| l.command == "366")
        .await?;
    let mut carol2 = PlainClient::connect(two.port(), "carol").await?;
    carol2.send("JOIN #b").await?;
    carol2
        .expect("end of NAMES", |l| l.command == "366")
        .await?;
    let mut main = gateway().await?;
    let (a, b) = (format!("#a%{n1}"), format!("#b%{n2}"));
    assert_eq!(main.join_room(USER, &a, "alice", "").await?.len(), 2);
    assert_eq!(main.join_room(USER, &b, "alice", "").await?.len(), 2);

    // carol quits network one: she leaves #a, not #b.
    carol1.send("QUIT :bye").await?;
    let left = main
        .expect("carol leaving", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "carol" => Some(p.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (left.room.as_str(), left.status),
        (a.as_str(), StatusType::StatusNone as i32)
    );
    // carol renames herself on network two: in #b only.
    carol2.send("NICK carola").await?;
    let renamed = main
        .expect("carol renamed", |p| match p {
            Payload::ParticipantChanged(p) if p.newname.as_deref() == Some("carola") => {
                Some(p.room.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(renamed, b);

    // Network one drops and comes back: #a is joined again, as its op now.
    one.restart().await?;
    let own = main
        .expect("alice's new flags in #a", |p| match p {
            Payload::ParticipantChanged(p) if p.room == a && p.nickname == "alice" => Some(p.flag),
            _ => None,
        })
        .await?;
    assert!(own & ParticipantFlag::Moderator.bit() != 0, "{own}");
    // #b was never lost: Spectrum 2's replay of its join is answered from
    // the tracker, with carola.
    let again = main.join_room(USER, &b, "alice", "").await?;
    let names: Vec<&str> = again.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(names, ["carola", "alice"]);
    carol2.send("PRIVMSG #b :still here").await?;
    let m = main
        .expect("carola's message in #b", |p| match p {
            Payload::ConvMessage(m) if m.buddy_name == b => Some(m.message.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(m, "still here");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// A network given up for good ends its rooms and says so; the session and
/// its other networks go on.
#[tokio::test]
async fn a_gateway_network_given_up_ends_its_rooms_not_the_session() -> TestResult {
    let mut gone = Ngircd::start().await?;
    let other = Ngircd::start().await?;
    let config = format!("{GATEWAY}irc_reconnect_attempts = 1\n");
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), config).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    let network = format!("127.0.0.1:{}", gone.port());
    let room = format!("#lost%{network}");
    main.join_room(USER, &room, "alice", "").await?;
    gone.stop();
    // A join the network will never answer: Spectrum 2 still gets one.
    let late = format!("#late%{network}");
    main.send(Payload::JoinRoom(proto::Room {
        user_name: USER.into(),
        nickname: "alice".into(),
        room: late.clone(),
        password: Some(String::new()),
    }))
    .await?;
    let left = main
        .expect("alice out of the room", |p| match p {
            Payload::ParticipantChanged(p) if p.room == room && p.nickname == "alice" => {
                Some(p.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(left.status, StatusType::StatusNone as i32);
    let reason = left.status_message.unwrap_or_default();
    assert!(
        reason.contains(&network) && reason.contains("gave up"),
        "{reason}"
    );
    let refused = main
        .expect("the late join refused", |p| match p {
            Payload::ParticipantChanged(p) if p.room == late => Some(p.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(refused.nickname, "alice");
    assert_ne!(refused.flag & ParticipantFlag::RoomNotFound.bit(), 0);
    assert!(
        refused
            .status_message
            .unwrap_or_default()
            .contains("gave up")
    );
    let told = main
        .expect("news that the network is given up", |p| match p {
            Payload::ConvMessage(m) if m.message.contains("gave up") => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(told.buddy_name, "127.0.0.1");
    main.expect_none("DISCONNECTED", std::time::Duration::from_millis(200), |p| {
        matches!(p, Payload::Disconnected(_))
    })
    .await?;
    let room = format!("#ok%127.0.0.1:{}", other.port());
    assert_eq!(main.join_room(USER, &room, "alice", "").await?.len(), 1);
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
