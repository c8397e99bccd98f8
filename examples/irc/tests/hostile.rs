//! The backend against hostile IRC servers, scripted line by line: a line
//! that never ends, a server that stops reading, one that drops the
//! connection mid-session, and a flood. Each prints the backend's memory:
//! it must stay bounded whatever the server does.

mod support;

use std::time::Duration;

use spectrum_backend::proto::{self, Payload, StatusType};
use spectrum_backend::testing::{MainInstance, ProcessMemory};
use support::scripted::{Client, Scripted};
use support::{Report, TestResult, join_request, transport_config};

const USER: &str = "alice@xmpp.test";

/// Far above what the backend needs (a few MiB), far below what the
/// hostile inputs would take if buffered (hundreds of MiB).
const MEMORY_BOUND_MIB: u64 = 64;

/// The backend, logged in to the first of `servers` as alice.
async fn logged_in(first: &Scripted, config: &str) -> Result<(MainInstance, Client), Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), config).await?;
    main.handshake().await?;
    let (login, client) = tokio::join!(main.login(USER, "alice", ""), first.accept_welcomed());
    login?;
    Ok((main, client?))
}

/// The backend's peak memory so far, printed with `what`.
fn peak_mib(main: &MainInstance, what: &str) -> Result<u64, Report> {
    let pid = main.backend_pid().ok_or("the backend has no pid")?;
    let memory = ProcessMemory::read(pid).ok_or("no memory figures in /proc")?;
    let (peak, now) = (memory.hwm_kib / 1024, memory.rss_kib / 1024);
    println!("{what}: backend peak memory {peak} MiB (resident now {now} MiB)");
    Ok(peak)
}

#[tokio::test]
async fn a_line_that_never_ends_is_skipped_as_it_arrives() -> TestResult {
    let server = Scripted::bind().await?;
    let (mut main, mut irc) = logged_in(&server, &transport_config(&server.address())).await?;
    let before = peak_mib(&main, "after login")?;

    // 200 MiB without a line end, then a normal line.
    let chunk = vec![b'x'; 1 << 16];
    irc.send_raw(b":bob!b@h PRIVMSG alice :").await?;
    for _ in 0..(200 << 4) {
        irc.send_raw(&chunk).await?;
    }
    irc.send_raw(b"\r\n:bob!b@h PRIVMSG alice :still here\r\n")
        .await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        ("bob", "still here")
    );

    let peak = peak_mib(&main, "after a 200 MiB line")?;
    assert!(
        peak < before + MEMORY_BOUND_MIB,
        "{peak} MiB: the line was buffered"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_server_that_stops_reading_slows_the_sender_and_loses_nothing() -> TestResult {
    const MESSAGES: usize = 20_000;
    let server = Scripted::bind().await?;
    let (mut main, mut irc) = logged_in(&server, &transport_config(&server.address())).await?;
    main.set_recording(false);
    let before = peak_mib(&main, "after login")?;

    // The server reads nothing while 20,000 messages of 200 bytes come.
    for i in 0..MESSAGES {
        let text = format!("{i:05} {}", "y".repeat(194));
        main.send_message(USER, "bob", &text).await?;
    }
    main.ping().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peak = peak_mib(&main, "20,000 messages to a server that reads nothing")?;
    assert!(peak < before + MEMORY_BOUND_MIB, "{peak} MiB");

    // Now it reads: every message arrives, in order.
    for i in 0..MESSAGES {
        let line = irc
            .expect(&format!("message {i}"), |l| l.command == "PRIVMSG")
            .await?;
        assert_eq!(line.param(0), "bob");
        assert!(line.last().starts_with(&format!("{i:05} ")), "{}", line.raw);
        irc.seen.clear();
    }
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The participant changes in `room` until the user's own, as
/// (nickname, online).
async fn occupants_until_own(
    main: &mut MainInstance,
    room: &str,
) -> Result<Vec<(String, bool)>, Report> {
    let mut seen = Vec::new();
    loop {
        let p = main
            .expect(&format!("PARTICIPANT_CHANGED in {room}"), |p| match p {
                Payload::ParticipantChanged(p) if p.room == room => Some(p.clone()),
                _ => None,
            })
            .await?;
        let me = p.flag & proto::ParticipantFlag::Me.bit() != 0;
        seen.push((p.nickname, p.status != StatusType::StatusNone as i32));
        if me {
            return Ok(seen);
        }
    }
}

/// Answers a JOIN for `#room` with these names.
async fn answer_join(irc: &mut Client, names: &str) -> Result<(), Report> {
    let join = irc.expect("JOIN #room", |l| l.command == "JOIN").await?;
    assert_eq!(join.param(0), "#room");
    irc.send(":alice!a@h JOIN #room").await?;
    irc.send(&format!(":irc.scripted 353 alice = #room :{names}"))
        .await?;
    irc.send(":irc.scripted 366 alice #room :End of NAMES")
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_dropped_connection_moves_to_the_next_server_and_rejoins() -> TestResult {
    let first = Scripted::bind().await?;
    let second = Scripted::bind().await?;
    let config = format!(
        "{}irc_server = {}\n",
        transport_config(&first.address()),
        second.address()
    );
    let (mut main, mut irc) = logged_in(&first, &config).await?;
    main.send(join_request(USER, "#room", "alice")).await?;
    answer_join(&mut irc, "alice @bob").await?;
    assert_eq!(
        occupants_until_own(&mut main, "#room").await?,
        [("bob".to_owned(), true), ("alice".to_owned(), true)]
    );

    // The first server drops the connection; the second one gets the rejoin.
    drop(irc);
    let mut irc = second.accept_welcomed().await?;
    answer_join(&mut irc, "alice carol").await?;
    let lost = main
        .expect("news of the lost connection", |p| match p {
            Payload::ConvMessage(m) if m.message.contains("Lost the connection") => {
                Some(m.message.clone())
            }
            _ => None,
        })
        .await?;
    assert!(lost.contains(&first.address()), "{lost}");
    let back = main
        .expect("news of the new connection", |p| match p {
            Payload::ConvMessage(m) if m.message.starts_with("reconnected to") => {
                Some(m.message.clone())
            }
            _ => None,
        })
        .await?;
    assert!(back.contains(&second.address()), "{back}");
    // Only what changed: bob is gone, carol is there.
    let changes = [
        main.expect("bob gone", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "bob" => Some(p.status),
            _ => None,
        })
        .await?,
        main.expect("carol there", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "carol" => Some(p.status),
            _ => None,
        })
        .await?,
    ];
    assert_eq!(
        changes,
        [
            StatusType::StatusNone as i32,
            StatusType::StatusOnline as i32
        ]
    );
    irc.send(":carol!c@h PRIVMSG #room :hello again").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (
            m.buddy_name.as_str(),
            m.nickname.as_deref(),
            m.message.as_str()
        ),
        ("#room", Some("carol"), "hello again")
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_names_list_that_never_ends_is_cut() -> TestResult {
    let server = Scripted::bind().await?;
    let (mut main, mut irc) = logged_in(&server, &transport_config(&server.address())).await?;
    main.set_recording(false);
    let before = peak_mib(&main, "after login")?;
    main.send(join_request(USER, "#room", "alice")).await?;
    irc.expect("JOIN #room", |l| l.command == "JOIN").await?;
    irc.send(":alice!a@h JOIN #room").await?;
    // 1,000,000 made-up names, then the end of the list.
    let mut batch = String::new();
    for i in 0..100_000 {
        let names: Vec<String> = (0..10).map(|j| format!("n{i}x{j}")).collect();
        batch.push_str(&format!(
            ":irc.scripted 353 alice = #room :{}\r\n",
            names.join(" ")
        ));
        if i % 1000 == 999 {
            irc.send_raw(batch.as_bytes()).await?;
            batch.clear();
        }
    }
    irc.send(":irc.scripted 366 alice #room :End of NAMES")
        .await?;
    let mut occupants = 0;
    loop {
        let p = main
            .expect("the room's occupants", |p| match p {
                Payload::ParticipantChanged(p) => Some(p.clone()),
                _ => None,
            })
            .await?;
        if p.flag & proto::ParticipantFlag::Me.bit() != 0 {
            break;
        }
        occupants += 1;
    }
    println!("occupants reported out of 1,000,000 names: {occupants}");
    assert_eq!(occupants, 20_000);
    let peak = peak_mib(&main, "a NAMES list of 1,000,000 names")?;
    assert!(peak < before + MEMORY_BOUND_MIB, "{peak} MiB");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_server_gone_silent_is_pinged_then_left_for_a_new_connection() -> TestResult {
    let server = Scripted::bind().await?;
    let config = format!("{}irc_keepalive = 1\n", transport_config(&server.address()));
    let (mut main, mut irc) = logged_in(&server, &config).await?;
    // The server reads but never writes again (no PONG, no FIN).
    let ping = irc
        .expect("a keepalive PING", |l| l.command == "PING")
        .await?;
    assert_eq!(ping.param(0), "keepalive");
    let _again = server.accept_welcomed().await?;
    let lost = main
        .expect("news of the lost connection", |p| match p {
            Payload::ConvMessage(m) if m.message.contains("Lost the connection") => {
                Some(m.message.clone())
            }
            _ => None,
        })
        .await?;
    assert!(lost.contains("nothing received"), "{lost}");
    drop(irc);
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_flood_waits_for_the_main_instance_and_loses_nothing() -> TestResult {
    const LINES: usize = 100_000;
    let server = Scripted::bind().await?;
    let (mut main, mut irc) = logged_in(&server, &transport_config(&server.address())).await?;
    main.set_recording(false);
    let before = peak_mib(&main, "after login")?;

    let flood = tokio::spawn(async move {
        for i in 0..LINES {
            irc.send(&format!(
                ":bob!b@h PRIVMSG alice :flood {i} {}",
                "z".repeat(100)
            ))
            .await?;
        }
        Ok::<Client, String>(irc)
    });
    // The main instance reads nothing for a while: the flood must wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peak = peak_mib(&main, "a flood while the main instance reads nothing")?;
    assert!(peak < before + MEMORY_BOUND_MIB, "{peak} MiB");

    for i in 0..LINES {
        let m = main.expect_message(USER).await?;
        assert!(
            m.message.starts_with(&format!("flood {i} ")),
            "{}",
            m.message
        );
    }
    flood.await??;
    let peak = peak_mib(&main, "after 100,000 flooded lines")?;
    assert!(peak < before + MEMORY_BOUND_MIB, "{peak} MiB");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
