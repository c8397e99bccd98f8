//! `spectrum_backend::gateway::link` against a real ngircd: registration
//! done in the connect closure, a channel joined and a message received
//! over the link, and a reconnect (with its states) when the server goes
//! away and another one comes up.
//!
//! ngircd must be installed (`apt-get install -y ngircd`); without it these
//! tests fail and say so.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use spectrum_backend::ConnectionError;
use spectrum_backend::gateway::link::{
    Backoff, ConnectError, Line, LineCodec, Link, LinkEvent, LinkSettings, LinkState,
};
use support::{Ngircd, PlainClient, TestResult};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// A guard against hangs, not a pace.
const GUARD: Duration = Duration::from_secs(20);

type IrcLink = Link<Line, String>;

/// Connects and registers as `linker`; returns once the server welcomed it.
async fn register(port: u16) -> Result<BufReader<TcpStream>, ConnectError> {
    let mut stream = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await?);
    stream
        .write_all(b"NICK linker\r\nUSER linker 0 * :link test\r\n")
        .await?;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(ConnectError::retry("closed before the welcome"));
        }
        match line.split(' ').nth(1) {
            Some("001") => return Ok(stream),
            Some("433") => {
                return Err(ConnectError::fatal(
                    ConnectionError::NameInUse,
                    "the nickname linker is in use",
                ));
            }
            _ => {}
        }
    }
}

/// The next event `pick` accepts; the states passed on the way are
/// returned too, lines are skipped.
async fn until(
    link: &mut IrcLink,
    what: &str,
    pick: impl Fn(&LinkEvent<Line>) -> bool,
) -> Result<(LinkEvent<Line>, Vec<LinkState>), String> {
    let mut states = Vec::new();
    loop {
        let event = tokio::time::timeout(GUARD, link.next())
            .await
            .map_err(|_| format!("no {what} within {GUARD:?}; states: {states:?}"))?
            .ok_or_else(|| format!("the link ended before {what}; states: {states:?}"))?;
        if pick(&event) {
            return Ok((event, states));
        }
        if let LinkEvent::State(state) = event {
            states.push(state);
        }
    }
}

fn line_has(event: &LinkEvent<Line>, needle: &str) -> bool {
    matches!(event, LinkEvent::Received(Line::Text(t)) if String::from_utf8_lossy(t).contains(needle))
}

#[tokio::test]
async fn a_link_talks_irc_and_comes_back_when_the_server_does() -> TestResult {
    let mut first = Ngircd::start().await?;
    let port = Arc::new(AtomicU16::new(first.port()));
    let settings = LinkSettings {
        backoff: Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            attempts: None,
            jitter: true,
        },
        ..LinkSettings::new("ngircd")
    };
    let target = Arc::clone(&port);
    let mut link: IrcLink = Link::spawn(settings, LineCodec::new(512), move || {
        let port = target.load(Ordering::SeqCst);
        async move { register(port).await }
    });
    until(&mut link, "the link up", |e| {
        *e == LinkEvent::State(LinkState::Up)
    })
    .await?;

    // Over the link: join a channel, get a message from a plain client.
    let mut bob = PlainClient::connect(first.port(), "bob").await?;
    link.send("JOIN #lobby".to_owned()).await?;
    until(&mut link, "the end of the names (366)", |e| {
        line_has(e, " 366 ")
    })
    .await?;
    bob.send("PRIVMSG linker :hello over the link").await?;
    until(&mut link, "bob's message", |e| {
        line_has(e, "PRIVMSG linker :hello over the link")
    })
    .await?;

    // The server goes away; another comes up; the link finds it.
    first.stop();
    let (retrying, _) = until(&mut link, "a retry", |e| {
        matches!(e, LinkEvent::State(LinkState::Retrying { .. }))
    })
    .await?;
    let LinkEvent::State(LinkState::Retrying { attempt, delay, .. }) = retrying else {
        unreachable!()
    };
    assert_eq!(attempt, 1);
    assert!(delay >= Duration::from_millis(100), "{delay:?}");
    let second = Ngircd::start().await?;
    port.store(second.port(), Ordering::SeqCst);
    let (_, on_the_way) = until(&mut link, "the link up again", |e| {
        *e == LinkEvent::State(LinkState::Up)
    })
    .await?;
    assert!(
        on_the_way
            .iter()
            .all(|s| matches!(s, LinkState::Connecting { .. } | LinkState::Retrying { .. })),
        "{on_the_way:?}"
    );
    link.send("JOIN #lobby".to_owned()).await?;
    until(&mut link, "the JOIN on the new server", |e| {
        line_has(e, "JOIN") && line_has(e, "#lobby")
    })
    .await?;
    link.close().await;
    Ok(())
}
