//! A handler that never yields while it is polled inline, on the
//! connection thread itself: the watchdog gives the connection to a new
//! thread, so PING is still answered and other users are still served,
//! while the spinning user's later events wait, in order, for it.
//!
//! The only time bounds are the harness's guard against a hang and a bound
//! far above the protocol's needs (2 s) on each PONG.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use spectrum_backend::prelude::*;
use spectrum_backend::proto::Payload;
use spectrum_backend::testing::MainInstance;

mod common;

static RELEASE: AtomicBool = AtomicBool::new(false);
static SPINNING: AtomicUsize = AtomicUsize::new(0);
/// The thread the spinning handler runs on.
static SPUN_ON: Mutex<Option<String>> = Mutex::new(None);

struct Hog;

#[backend]
impl Hog {
    #[on(Login)]
    fn login(_login: Login) -> Self {
        Hog
    }

    /// `spin` spins inside the handler's future, never reaching an
    /// `.await` until released; anything else is echoed.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        if msg.message == "spin" {
            *SPUN_ON.lock().unwrap_or_else(|p| p.into_inner()) =
                std::thread::current().name().map(str::to_owned);
            SPINNING.fetch_add(1, Ordering::AcqRel);
            while !RELEASE.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            SPINNING.fetch_sub(1, Ordering::AcqRel);
            return ctx.message(&msg.buddy_name, "released").send().await;
        }
        ctx.message(&msg.buddy_name, &msg.message).send().await
    }
}

async fn reply_to(
    main: &mut MainInstance,
    user: &'static str,
) -> spectrum_backend::testing::Result<String> {
    main.expect("a reply", move |p| match p {
        Payload::ConvMessage(m) if m.user_name == user => Some(m.message.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_handler_that_never_yields_on_the_connection_thread_cannot_starve_pong()
-> spectrum_backend::testing::Result<()> {
    // The backend as a process runs it, with a single pool thread.
    let (mut main, backend) = common::on_own_runtime::<Hog>(1).await?;
    main.login("a@localhost", "x", "x").await?;
    main.login("b@localhost", "x", "x").await?;
    main.send_message("a@localhost", "bob", "spin").await?;
    let started = std::time::Instant::now();
    while SPINNING.load(Ordering::Acquire) < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the handler never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The handler holds the thread that read its frame: the connection's.
    let spun_on = SPUN_ON.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(spun_on.as_deref(), Some("spectrum-io"));
    // a's next event waits behind the spinning one.
    main.send_message("a@localhost", "bob", "after").await?;
    for _ in 0..5 {
        let rtt = tokio::time::timeout(Duration::from_secs(2), main.ping())
            .await
            .expect("no PONG within 2 s while a handler spins on the connection thread")?;
        assert!(rtt < Duration::from_secs(2), "PONG after {rtt:?}");
    }
    // Another user is served meanwhile.
    main.send_message("b@localhost", "bob", "hello").await?;
    assert_eq!(reply_to(&mut main, "b@localhost").await?, "hello");
    assert_eq!(SPINNING.load(Ordering::Acquire), 1, "still spinning");
    assert!(
        !main
            .unconsumed()
            .any(|p| matches!(p, Payload::ConvMessage(m) if m.user_name == "a@localhost")),
        "a's handler replied while it should spin"
    );
    // Released: a's replies, in order.
    RELEASE.store(true, Ordering::Release);
    assert_eq!(reply_to(&mut main, "a@localhost").await?, "released");
    assert_eq!(reply_to(&mut main, "a@localhost").await?, "after");
    assert_eq!(main.exit().await?, 0);
    assert!(backend.join().expect("backend thread").is_ok());
    Ok(())
}
