//! `gateway::link` against real local TCP servers: a server that drops the
//! connection (reconnect after a backoff delay), one that is gone (giving
//! up), one that refuses the login (giving up at once), one that never
//! reads (send waits, nothing lost), one that sends lines without end or
//! with lone CRs, a close that writes the queue first, and a last line the
//! server hangs up on.
//!
//! Timeouts only guard against hangs; the one timing assertion is a lower
//! bound measured by the server (the backoff delay was waited).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use spectrum_backend::ConnectionError;
use spectrum_backend::gateway::link::{
    Backoff, ConnectError, Endpoints, Handshake, Keepalive, Line, LineCodec, Link, LinkEvent,
    LinkSettings, LinkState, NotUp,
};
use spectrum_backend::proto::Payload;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

const GUARD: Duration = Duration::from_secs(20);

fn settings(attempts: u32) -> LinkSettings {
    LinkSettings {
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(200),
            attempts: Some(attempts),
            jitter: true,
        },
        send_queue: 4,
        ..LinkSettings::new("test server")
    }
}

type LineLink = Link<Line, String>;

fn tcp_link(settings: LinkSettings, addr: SocketAddr, max_line: usize) -> LineLink {
    Link::spawn(settings, LineCodec::new(max_line), move || async move {
        Ok(TcpStream::connect(addr).await?)
    })
}

async fn next(link: &mut LineLink) -> LinkEvent<Line> {
    tokio::time::timeout(GUARD, link.next())
        .await
        .expect("an event in time")
        .expect("the link is running")
}

/// The first two events of a link to a server that accepts.
async fn connected(link: &mut LineLink) {
    assert_eq!(
        next(link).await,
        state(LinkState::Connecting { attempt: 1 })
    );
    assert_eq!(next(link).await, state(LinkState::Up));
}

/// A server on a free local port, running `serve` on its first connection.
async fn serve<R, Fut>(
    serve: impl FnOnce(TcpStream) -> Fut + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<R>)
where
    R: Send + 'static,
    Fut: Future<Output = R> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        serve(s).await
    });
    (addr, server)
}

fn text(s: &str) -> LinkEvent<Line> {
    LinkEvent::Received(Line::Text(s.as_bytes().to_vec().into()))
}

fn state(s: LinkState) -> LinkEvent<Line> {
    LinkEvent::State(s)
}

#[tokio::test]
async fn a_dropped_connection_is_opened_again_after_a_backoff_delay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.unwrap();
        first.write_all(b"first\r\n").await.unwrap();
        let dropped = Instant::now();
        drop(first);
        let (mut second, _) = listener.accept().await.unwrap();
        let reconnected = Instant::now();
        second.write_all(b"second\r\n").await.unwrap();
        (second, reconnected.duration_since(dropped))
    });
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("first"));
    let LinkEvent::State(LinkState::Retrying {
        attempt,
        delay,
        reason,
    }) = next(&mut link).await
    else {
        panic!("expected a retry");
    };
    assert_eq!(attempt, 1);
    assert!(
        delay >= Duration::from_millis(50) && delay < Duration::from_millis(100),
        "{delay:?}"
    );
    assert_eq!(reason, "the server closed the connection");
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 2 })
    );
    assert_eq!(next(&mut link).await, state(LinkState::Up));
    assert_eq!(next(&mut link).await, text("second"));
    // The client noticed the loss after the drop, then waited the delay.
    let (_second, reconnected_after) = server.await.unwrap();
    assert!(
        reconnected_after >= delay,
        "reconnected {reconnected_after:?} after the drop, delay {delay:?}"
    );
    assert_eq!(link.state(), LinkState::Up);
}

/// A server that drops the connection and accepts the next one at once,
/// with no backoff delay: an observer that reads only afterwards still sees
/// the drop, then the return (a watch of the latest state would show `Up`
/// and nothing else).
#[tokio::test]
async fn an_observer_sees_a_drop_and_an_instant_reconnect_as_two_transitions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        drop(first);
        let (second, _) = listener.accept().await.unwrap();
        second
    });
    let instant = LinkSettings {
        backoff: Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
            attempts: Some(3),
            jitter: false,
        },
        ..LinkSettings::new("test server")
    };
    let mut link = tcp_link(instant, addr, 512);
    let mut observer = link.states();
    // The owner goes through the whole drop and return first.
    let mut ups = 0;
    while ups < 2 {
        if next(&mut link).await == state(LinkState::Up) {
            ups += 1;
        }
    }
    let _second = server.await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let state = tokio::time::timeout(GUARD, observer.next()).await.unwrap();
        seen.push(state.expect("the link is running"));
    }
    assert_eq!(
        seen[..2],
        [LinkState::Connecting { attempt: 1 }, LinkState::Up]
    );
    assert!(
        matches!(&seen[2], LinkState::Retrying { attempt: 1, reason, .. } if reason == "the server closed the connection"),
        "{seen:?}"
    );
    assert_eq!(
        seen[3..],
        [LinkState::Connecting { attempt: 2 }, LinkState::Up]
    );
    link.close().await;
    assert_eq!(observer.next().await, Some(LinkState::Closed));
    assert_eq!(observer.next().await, None, "the link's task has ended");
}

#[tokio::test]
async fn a_server_that_is_gone_makes_the_link_give_up_with_a_retryable_code() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let mut link = tcp_link(settings(2), addr, 512);
    let mut delays = Vec::new();
    for attempt in 1..=2 {
        assert_eq!(
            next(&mut link).await,
            state(LinkState::Connecting { attempt })
        );
        match next(&mut link).await {
            LinkEvent::State(LinkState::Retrying {
                attempt: failed,
                delay,
                ..
            }) => {
                assert_eq!(failed, attempt);
                delays.push(delay);
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }
    // Exponential: the second delay is drawn from [100, 200) ms.
    assert!(delays[1] >= Duration::from_millis(100), "{delays:?}");
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 3 })
    );
    let LinkEvent::State(gave_up) = next(&mut link).await else {
        panic!("expected the link to give up");
    };
    assert!(matches!(
        gave_up,
        LinkState::GaveUp {
            code: ConnectionError::NetworkError,
            ..
        }
    ));
    let Some(Payload::Disconnected(d)) = gave_up.frame("alice@example.org", "test server") else {
        panic!("giving up is a DISCONNECTED");
    };
    assert_eq!(d.error, 0, "Spectrum 2 logs the user in again");
    assert!(link.next().await.is_none(), "nothing after giving up");
    let refused = link.send("lost?".to_owned()).await.unwrap_err();
    assert_eq!(refused.0, "lost?", "the item comes back");
}

#[tokio::test]
async fn a_refused_login_gives_up_at_once_with_its_code() {
    let (addr, _server) = serve(|mut s| async move {
        s.write_all(b":server 464 * :Password incorrect\r\n")
            .await
            .unwrap();
        // Hold the socket: the closure's own verdict ends the try.
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink).await;
    })
    .await;
    // The connect closure does the login handshake and says whether to retry.
    let mut link: LineLink = Link::spawn(settings(5), LineCodec::new(512), move || async move {
        let mut stream = BufReader::new(TcpStream::connect(addr).await?);
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        if line.contains(" 464 ") {
            return Err(ConnectError::fatal(
                ConnectionError::AuthenticationFailed,
                "wrong password",
            ));
        }
        Ok(stream)
    });
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 1 })
    );
    assert_eq!(
        next(&mut link).await,
        state(LinkState::GaveUp {
            code: ConnectionError::AuthenticationFailed,
            reason: "wrong password".into(),
        })
    );
    assert!(link.next().await.is_none());
}

#[tokio::test]
async fn a_peer_that_never_reads_makes_send_wait_and_loses_nothing() {
    const LINE: usize = 64 * 1024;
    let (start_reading, reading) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = serve(|mut s| async move {
        reading.await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        all
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    let line = "x".repeat(LINE);
    let mut accepted = 0usize;
    let wait = Duration::from_secs(1);
    while let Ok(sent) = tokio::time::timeout(wait, link.send(line.clone())).await {
        sent.unwrap();
        accepted += 1;
        assert!(
            accepted < 1024,
            "64 MiB accepted by a peer that reads nothing: the queue is not bounded"
        );
    }
    // The queue (4) plus what the sockets' buffers hold, and no more.
    assert!(accepted >= 4, "only {accepted} lines before waiting");
    // Once the peer reads, the waiting send goes through.
    start_reading.send(()).unwrap();
    tokio::time::timeout(GUARD, link.send("last".to_owned()))
        .await
        .expect("send resumes once the peer reads")
        .unwrap();
    tokio::time::timeout(GUARD, link.close()).await.unwrap();
    let all = server.await.unwrap();
    let lines: Vec<&[u8]> = all
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), accepted + 1, "every accepted line arrived");
    assert_eq!(lines[accepted], b"last\r");
}

#[tokio::test]
async fn an_over_long_line_is_refused_and_the_next_one_read() {
    let (addr, server) = serve(|mut s| async move {
        s.write_all(b"hello\r\n").await.unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            s.write_all(&chunk).await.unwrap();
        }
        s.write_all(b"\r\nworld\r\n").await.unwrap();
        s
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 4096);
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("hello"));
    assert_eq!(next(&mut link).await, LinkEvent::Received(Line::TooLong));
    assert_eq!(next(&mut link).await, text("world"));
    assert_eq!(link.state(), LinkState::Up, "the connection stays up");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_lone_cr_ends_a_line() {
    let (addr, server) = serve(|mut s| async move {
        s.write_all(b"one\rtwo\nthree\r\n").await.unwrap();
        s
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    for expected in ["one", "two", "three"] {
        assert_eq!(next(&mut link).await, text(expected));
    }
    drop(server.await.unwrap());
}

/// A link, up, to a server that records every byte until the link closes.
async fn linked_to_a_recorder() -> (LineLink, tokio::task::JoinHandle<String>) {
    let (addr, server) = serve(|mut s| async move {
        let mut all = String::new();
        s.read_to_string(&mut all).await.unwrap();
        all
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    (link, server)
}

#[tokio::test]
async fn close_writes_what_is_queued_first() {
    let (link, server) = linked_to_a_recorder().await;
    let sender = link.sender();
    sender.send("PRIVMSG bob :hi".to_owned()).await.unwrap();
    // A line with a line end inside is refused, not smuggled through.
    sender.send("a\r\nQUIT".to_owned()).await.unwrap();
    sender.send("QUIT :bye".to_owned()).await.unwrap();
    tokio::time::timeout(GUARD, link.close()).await.unwrap();
    assert_eq!(server.await.unwrap(), "PRIVMSG bob :hi\r\nQUIT :bye\r\n");
    assert!(sender.send("late".to_owned()).await.is_err());
}

#[tokio::test]
async fn close_writes_the_queue_even_while_the_server_talks() {
    let (addr, server) = serve(|s| async move {
        let (mut read, mut write) = s.into_split();
        let talk = tokio::spawn(async move {
            // Chatter until the client hangs up.
            while write.write_all(b"NOTICE * :chatter\r\n").await.is_ok() {
                tokio::task::yield_now().await;
            }
        });
        let mut all = String::new();
        read.read_to_string(&mut all).await.unwrap();
        talk.abort();
        all
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("NOTICE * :chatter"));
    link.send("QUIT :bye".to_owned()).await.unwrap();
    tokio::time::timeout(GUARD, link.close()).await.unwrap();
    assert_eq!(server.await.unwrap(), "QUIT :bye\r\n");
}

#[tokio::test]
async fn a_silent_connection_counts_as_lost_after_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        // The first connection: one line, then silence, never closed.
        let (mut first, _) = listener.accept().await.unwrap();
        first.write_all(b"hello\r\n").await.unwrap();
        let silent_since = Instant::now();
        // The link gives up on it and comes back.
        let (mut second, _) = listener.accept().await.unwrap();
        let waited = silent_since.elapsed();
        second.write_all(b"again\r\n").await.unwrap();
        drop(first);
        (waited, second)
    });
    let idle = Duration::from_millis(300);
    let mut link = tcp_link(
        LinkSettings {
            idle_timeout: Some(idle),
            ..settings(3)
        },
        addr,
        512,
    );
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("hello"));
    let LinkEvent::State(LinkState::Retrying { reason, .. }) = next(&mut link).await else {
        panic!("expected a retry");
    };
    assert!(reason.contains("nothing received"), "{reason}");
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 2 })
    );
    assert_eq!(next(&mut link).await, state(LinkState::Up));
    assert_eq!(next(&mut link).await, text("again"));
    let (waited, _second) = server.await.unwrap();
    assert!(waited >= idle, "reconnected after {waited:?}");
}

#[tokio::test]
async fn a_handshake_that_never_answers_is_retried_after_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        // Accepts and says nothing, twice.
        let first = listener.accept().await.unwrap();
        let second = listener.accept().await.unwrap();
        (first, second)
    });
    let settings = LinkSettings {
        connect_timeout: Duration::from_millis(200),
        ..settings(1)
    };
    let mut link: LineLink = Link::spawn(settings, LineCodec::new(512), move || async move {
        let mut stream = BufReader::new(TcpStream::connect(addr).await?);
        let mut banner = String::new();
        stream.read_line(&mut banner).await?;
        Ok(stream)
    });
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 1 })
    );
    let LinkEvent::State(LinkState::Retrying { reason, .. }) = next(&mut link).await else {
        panic!("expected a retry");
    };
    assert_eq!(reason, "no connection within 200ms");
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 2 })
    );
    assert!(matches!(
        next(&mut link).await,
        LinkEvent::State(LinkState::GaveUp { .. })
    ));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_silent_peer_gets_the_keepalive_and_its_answer_keeps_the_link_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let every = Duration::from_millis(150);
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let accepted = Instant::now();
        let mut stream = BufReader::new(stream);
        let mut got = Vec::new();
        // Answers two keepalives, each after the silence, then says bye.
        for _ in 0..2 {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            got.push((line, accepted.elapsed()));
            stream.get_mut().write_all(b"PONG\r\n").await.unwrap();
        }
        stream.get_mut().write_all(b"bye\r\n").await.unwrap();
        (got, stream)
    });
    let mut link = tcp_link(
        LinkSettings {
            keepalive: Some(Keepalive::new(every, "PING :alive\r\n")),
            // Longer than the keepalive, shorter than the whole test: the
            // answers are what keeps the link up.
            idle_timeout: Some(every * 3),
            ..settings(1)
        },
        addr,
        512,
    );
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("PONG"));
    assert_eq!(next(&mut link).await, text("PONG"));
    assert_eq!(next(&mut link).await, text("bye"));
    let (got, _stream) = server.await.unwrap();
    assert_eq!(got[0].0, "PING :alive\r\n");
    assert_eq!(got[1].0, "PING :alive\r\n");
    // Each one came after a silence of the period, not sooner.
    assert!(got[0].1 >= every, "first keepalive after {:?}", got[0].1);
    assert!(
        got[1].1 >= got[0].1 + every,
        "second keepalive after {:?}",
        got[1].1
    );
    assert_eq!(link.state(), LinkState::Up);
}

/// A local address on which nothing listens: connecting is refused.
async fn refusing() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn endpoints_link(settings: LinkSettings, servers: Endpoints<SocketAddr>) -> LineLink {
    Link::spawn(settings, LineCodec::new(512), move || {
        let servers = servers.clone();
        async move {
            let connect = |addr| async move { Ok(TcpStream::connect(addr).await?) };
            Ok(servers.connect(connect).await?.1)
        }
    })
}

#[tokio::test]
async fn endpoints_try_every_server_first_then_the_next_one_each_time() {
    let down = refusing().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.unwrap();
        first.write_all(b"one\r\n").await.unwrap();
        drop(first);
        let (mut second, _) = listener.accept().await.unwrap();
        second.write_all(b"two\r\n").await.unwrap();
        second
    });
    let servers = Endpoints::new(vec![down, up]).timeout(GUARD);
    let mut link = endpoints_link(settings(5), servers.clone());
    // The login goes past the server that is down.
    connected(&mut link).await;
    assert_eq!(servers.current(), up);
    assert_eq!(next(&mut link).await, text("one"));
    assert!(matches!(
        next(&mut link).await,
        LinkEvent::State(LinkState::Retrying { .. })
    ));
    // After a drop, one server per try, in turn: the one down first.
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 2 })
    );
    let LinkEvent::State(LinkState::Retrying { reason, .. }) = next(&mut link).await else {
        panic!("expected the server that is down to fail");
    };
    assert!(!reason.contains(';'), "one server per try: {reason}");
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 3 })
    );
    assert_eq!(next(&mut link).await, state(LinkState::Up));
    assert_eq!(next(&mut link).await, text("two"));
    assert_eq!(servers.current(), up);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn endpoints_all_down_at_the_first_try_give_up_with_every_reason() {
    let servers = Endpoints::new(vec![refusing().await, refusing().await]).timeout(GUARD);
    let mut link = endpoints_link(settings(5), servers);
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 1 })
    );
    let LinkEvent::State(LinkState::GaveUp { code, reason }) = next(&mut link).await else {
        panic!("expected to give up at once");
    };
    assert_eq!(code, ConnectionError::NetworkError);
    assert_eq!(reason.matches(';').count(), 1, "both reasons: {reason}");
}

#[tokio::test]
async fn send_if_up_refuses_while_the_link_is_down_and_sends_once_it_is_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        drop(listener.accept().await.unwrap());
        let (second, _) = listener.accept().await.unwrap();
        let mut line = String::new();
        BufReader::new(second).read_line(&mut line).await.unwrap();
        line
    });
    // A long delay before the retry: the sender is asked while it lasts.
    let delay = Duration::from_secs(1);
    let backoff = Backoff {
        base: delay,
        max: delay,
        attempts: Some(3),
        jitter: false,
    };
    let mut link = tcp_link(
        LinkSettings {
            backoff,
            ..settings(3)
        },
        addr,
        512,
    );
    let sender = link.sender();
    connected(&mut link).await;
    assert!(matches!(
        next(&mut link).await,
        LinkEvent::State(LinkState::Retrying { .. })
    ));
    assert!(!sender.is_up() && !sender.is_gone());
    assert_eq!(
        sender.send_if_up("early".to_owned()).await,
        Err(NotUp("early".to_owned()))
    );
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 2 })
    );
    assert_eq!(next(&mut link).await, state(LinkState::Up));
    sender.send_if_up("now".to_owned()).await.unwrap();
    assert_eq!(server.await.unwrap(), "now\r\n");
    tokio::time::timeout(GUARD, link.close()).await.unwrap();
    assert!(sender.is_gone());
}

#[tokio::test]
async fn a_handshake_hands_over_what_came_after_its_last_line() {
    let (addr, server) = serve(|mut s| async move {
        // The welcome and the first line after it come in one piece.
        s.write_all(b"hello\r\n").await.unwrap();
        let mut stream = BufReader::new(s);
        let mut login = String::new();
        stream.read_line(&mut login).await.unwrap();
        stream
            .get_mut()
            .write_all(b"WELCOME\r\nfirst after\r\n")
            .await
            .unwrap();
        let mut later = String::new();
        stream.read_line(&mut later).await.unwrap();
        (login, later, stream)
    })
    .await;
    let mut link: LineLink = Link::spawn(settings(1), LineCodec::new(512), move || async move {
        let tcp = TcpStream::connect(addr).await?;
        let mut handshake = Handshake::new(tcp, LineCodec::new(512), "test server");
        assert_eq!(&handshake.next_line().await?[..], b"hello");
        handshake.send("LOGIN alice".to_owned()).await?;
        while &handshake.next_line().await?[..] != b"WELCOME" {}
        Ok(handshake.finish())
    });
    connected(&mut link).await;
    assert_eq!(next(&mut link).await, text("first after"));
    link.send("on the link".to_owned()).await.unwrap();
    let (login, later, _stream) = server.await.unwrap();
    assert_eq!(login, "LOGIN alice\r\n");
    assert_eq!(later, "on the link\r\n");
}

#[tokio::test]
async fn a_handshake_cut_short_is_retried_with_the_peer_named() {
    let (addr, server) = serve(|s| async move { drop(s) }).await;
    let mut link: LineLink = Link::spawn(settings(1), LineCodec::new(512), move || async move {
        let tcp = TcpStream::connect(addr).await?;
        let mut handshake = Handshake::new(tcp, LineCodec::new(512), "test server");
        handshake.next_line().await?;
        Ok(handshake.finish())
    });
    assert_eq!(
        next(&mut link).await,
        state(LinkState::Connecting { attempt: 1 })
    );
    let LinkEvent::State(LinkState::Retrying { reason, .. }) = next(&mut link).await else {
        panic!("expected a retry");
    };
    assert_eq!(
        reason,
        "test server: closed the connection during the login"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn a_sender_closes_the_link_after_what_is_queued() {
    let (mut link, server) = linked_to_a_recorder().await;
    let sender = link.sender();
    sender.send("QUIT :bye".to_owned()).await.unwrap();
    sender.close();
    // The owner sees the close, then the end.
    assert_eq!(next(&mut link).await, state(LinkState::Closed));
    let end = tokio::time::timeout(GUARD, link.next()).await.unwrap();
    assert_eq!(end, None);
    assert_eq!(server.await.unwrap(), "QUIT :bye\r\n");
    assert!(sender.is_gone());
}

#[tokio::test]
async fn close_with_a_last_line_the_server_hangs_up_on_is_a_close_not_a_drop() {
    // An IRC server: it closes the connection as soon as it reads QUIT.
    let (addr, server) = serve(|s| async move {
        let mut lines = BufReader::new(s).lines();
        let mut read = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            read.push_str(&line);
            read.push('\n');
            if line.starts_with("QUIT") {
                break;
            }
        }
        read
    })
    .await;
    let mut link = tcp_link(settings(5), addr, 512);
    connected(&mut link).await;
    let sender = link.sender();
    sender.send("PRIVMSG bob :bye".to_owned()).await.unwrap();
    sender.close_with("QUIT :gone".to_owned());
    assert_eq!(server.await.unwrap(), "PRIVMSG bob :bye\nQUIT :gone\n");
    // Closed, then the end: the hang-up is not reported as a lost
    // connection, nor tried again.
    assert_eq!(next(&mut link).await, state(LinkState::Closed));
    let end = tokio::time::timeout(GUARD, link.next()).await.unwrap();
    assert_eq!(end, None);
}
