//! An endless line from a legacy server does not grow the process: the
//! link refuses it as it arrives. Alone in its test binary so that the
//! process's peak memory is this test's.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use spectrum_backend::gateway::link::{Line, LineCodec, Link, LinkEvent, LinkSettings, LinkState};
use spectrum_backend::testing::ProcessMemory;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// What the server sends without a line end.
const ENDLESS: usize = 256 * 1024 * 1024;

#[tokio::test]
async fn an_endless_line_keeps_memory_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..ENDLESS / chunk.len() {
            s.write_all(&chunk).await.unwrap();
        }
        s.write_all(b"\ndone\n").await.unwrap();
        s
    });
    let before = ProcessMemory::read(std::process::id()).unwrap();
    let mut link: Link<Line, String> = Link::spawn(
        LinkSettings::new("endless"),
        LineCodec::new(8192),
        move || async move { Ok(TcpStream::connect(addr).await?) },
    );
    let mut events = Vec::new();
    while events.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(60), link.next())
            .await
            .unwrap()
            .unwrap();
        events.push(event);
    }
    assert_eq!(
        events,
        [
            LinkEvent::State(LinkState::Connecting { attempt: 1 }),
            LinkEvent::State(LinkState::Up),
            LinkEvent::Received(Line::TooLong),
            LinkEvent::Received(Line::Text("done".into())),
        ]
    );
    let after = ProcessMemory::read(std::process::id()).unwrap();
    let grown_mib = after.hwm_kib.saturating_sub(before.hwm_kib) / 1024;
    // Buffering the line would take 256 MiB; the test's own server chunk
    // and runtime take a few.
    assert!(grown_mib < 32, "peak memory grew by {grown_mib} MiB");
    drop(server.await.unwrap());
}
