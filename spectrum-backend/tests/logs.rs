//! What the backend writes to its log, captured from a real run over a
//! socket: refused frames by type and length only, and frames sent by a
//! session's own background tasks in that session's span.
//!
//! One test per binary: the capture is the process's global subscriber.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use spectrum_backend::prelude::*;
use spectrum_backend::testing::{MainInstance, Result};

/// Collects everything logged.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Its login starts a task of its own (no span of its own) that greets.
struct Greeter;

#[backend]
impl Greeter {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Self {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = ctx.message("greeter", "hello from a task").send().await;
        });
        Greeter
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_frames_log_type_and_length_and_task_frames_carry_the_session() -> Result<()> {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("spectrum_backend=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mut main = MainInstance::start::<Greeter>("[service]\njid = logs.localhost\n").await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "pw").await?;
    main.expect_message("alice@localhost").await?;

    // 1 MiB of payload under an unknown type (99), and a PONG, which only
    // backends send: both refused.
    let body_len = 1 << 20;
    let mut frame = vec![0x08, 99, 0x12];
    let mut n = body_len;
    while n >= 0x80 {
        frame.push((n as u8) | 0x80);
        n >>= 7;
    }
    frame.push(n as u8);
    frame.extend(std::iter::repeat_n(b'Q', body_len));
    let mut bytes = (frame.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&frame);
    bytes.extend_from_slice(&[0, 0, 0, 2, 0x08, 0x0a]);
    bytes.extend_from_slice(&[0, 0, 0, 2, 0x08, 0x09]);
    main.send_raw(&bytes).await?;
    main.expect_type(spectrum_backend::proto::MessageType::Pong)
        .await?;
    assert_eq!(main.exit().await?, 0);

    let log = capture.text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("should not; ignored"))
        .collect();
    assert_eq!(refused.len(), 2, "{log}");
    assert!(refused[0].contains("kind=type 99"), "{}", refused[0]);
    assert!(
        refused[0].contains(&format!("len={body_len}")),
        "{}",
        refused[0]
    );
    assert!(refused[1].contains("kind=TYPE_PONG"), "{}", refused[1]);
    assert!(!log.contains("QQQQ"), "a payload was logged");
    assert!(log.len() < 64 * 1024, "{} bytes of log", log.len());

    // The frame the task sent is logged in the session's span.
    let greeting = log
        .lines()
        .find(|l| l.contains("TYPE_CONV_MESSAGE") && l.contains(" out "))
        .unwrap_or_else(|| panic!("no CONV_MESSAGE out: {log}"));
    assert!(
        greeting.contains("session{user=alice@localhost}")
            && greeting.contains("backend{id=\"1\"}"),
        "{greeting}"
    );
    Ok(())
}
