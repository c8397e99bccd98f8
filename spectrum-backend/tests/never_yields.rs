//! A handler that never yields (a busy loop, in a synchronous handler or in
//! an `async` one without an `.await`) occupies its thread for good: the
//! connection thread, which polls handlers inline, or a pool thread. With
//! more such handlers than pool threads, and with one holding the
//! connection thread, PING must still get its PONG and other users must
//! still be served: Spectrum 2 kills a backend that misses one PONG.
//!
//! The only time bound is the harness's guard against a hang, and a bound
//! far above the protocol's needs (2 s) on each PONG.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};

mod common;

/// Pool threads of the backend's runtime: each gets one spinning handler.
const WORKERS: usize = 2;

/// Releases the spinning handlers.
static RELEASE: AtomicBool = AtomicBool::new(false);
/// Handlers spinning right now.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

fn spin() {
    SPINNING.fetch_add(1, Ordering::AcqRel);
    while !RELEASE.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    SPINNING.fetch_sub(1, Ordering::AcqRel);
}

struct Spinner;

#[backend]
impl Spinner {
    #[on(Login)]
    fn login(_login: Login) -> Self {
        Spinner
    }

    /// Spins inside the handler's future, never reaching an `.await` until
    /// released.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        spin();
        ctx.message(&msg.buddy_name, "released").send().await
    }

    /// A synchronous handler that spins.
    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        spin();
        VCardReply::new().fullname(request.buddy_name)
    }

    #[on(Logout)]
    fn logout(self) {}
}

#[tokio::test]
async fn handlers_that_never_yield_on_every_pool_thread_cannot_starve_pong()
-> spectrum_backend::testing::Result<()> {
    // The backend as a process runs it: a multi-threaded pool, here of a
    // known size, on threads of its own.
    let (mut main, backend) = common::on_own_runtime::<Spinner>(WORKERS).await?;
    let users = ["a@localhost", "b@localhost", "c@localhost"];
    for user in users {
        main.login(user, "x", "x").await?;
    }
    // More spinning handlers than pool threads, a synchronous one and
    // `async` ones.
    main.send(Payload::Vcard(proto::VCard {
        user_name: users[0].into(),
        buddy_name: "bob".into(),
        id: 7,
        ..Default::default()
    }))
    .await?;
    main.send_message(users[1], "bob", "spin").await?;
    main.send_message(users[2], "bob", "spin").await?;
    let started = std::time::Instant::now();
    while SPINNING.load(Ordering::Acquire) < WORKERS {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the handlers never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // At least as many handlers spin as there are pool threads: PING after
    // PING is answered all the same, and no handler has replied meanwhile.
    for _ in 0..5 {
        let rtt = tokio::time::timeout(Duration::from_secs(2), main.ping())
            .await
            .expect("no PONG within 2 s while every pool thread spins")?;
        assert!(rtt < Duration::from_secs(2), "PONG after {rtt:?}");
    }
    assert!(
        SPINNING.load(Ordering::Acquire) >= WORKERS,
        "still spinning"
    );
    assert!(
        !main
            .unconsumed()
            .any(|p| matches!(p, Payload::ConvMessage(_) | Payload::Vcard(_))),
        "a handler replied while it should spin"
    );
    // Released, every handler finishes and answers, the third one too.
    RELEASE.store(true, Ordering::Release);
    let vcard = main.expect("the vCard", |p| match p {
        Payload::Vcard(v) => Some(v.id),
        _ => None,
    });
    assert_eq!(vcard.await?, 7);
    for _ in &users[1..] {
        let reply = main.expect("a reply", |p| match p {
            Payload::ConvMessage(m) => Some(m.message.clone()),
            _ => None,
        });
        assert_eq!(reply.await?, "released");
    }
    assert_eq!(main.exit().await?, 0);
    assert!(backend.join().expect("backend thread").is_ok());
    Ok(())
}
