//! The smallest useful Spectrum 2 backend: every message comes back.
//!
//! Each user gets a contact called `echo`; anything they send to any
//! contact is sent back by that contact, with typing notifications, message
//! receipts, and a vCard on request. Run it the way Spectrum 2 does, or
//! against the simulator:
//!
//! ```text
//! cargo run -p spectrum-sim -- run --cargo echo --script examples/echo/demo.sim
//! ```

use spectrum_backend::prelude::*;

/// One logged-in user.
struct Echo {
    /// Messages echoed so far, shown in the vCard.
    echoed: u64,
}

#[backend]
impl Echo {
    /// There is no network to log in to; only an empty name is refused.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        if login.legacy_name.trim().is_empty() {
            return Err(Error::invalid_username("a legacy name is required"));
        }
        ctx.buddy("echo").alias("Echo").group("Bots").await?;
        Ok(Echo { echoed: 0 })
    }

    /// Types, then answers with the same text from the same contact. The
    /// receipt the user's client may have asked for goes out when this
    /// returns `Ok`.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        ctx.typing(msg.to()).await?;
        ctx.message(msg.to(), msg.text()).await?;
        self.echoed += 1;
        Ok(())
    }

    /// Mirrors the user's typing (XMPP `composing`).
    #[on(BuddyTyping)]
    async fn typing(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        ctx.typing(&buddy.buddy_name).await
    }

    /// Mirrors a pause: Spectrum 2 turns an XMPP `paused` into BUDDY_TYPED.
    /// Without it the client would show the contact typing until the next
    /// message.
    #[on(BuddyTyped)]
    async fn paused(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        ctx.typed(&buddy.buddy_name).await
    }

    /// Mirrors the end of typing (XMPP `active` or `inactive`).
    #[on(BuddyStoppedTyping)]
    async fn stopped(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        ctx.stopped_typing(&buddy.buddy_name).await
    }

    /// Every contact has a vCard; a synchronous handler is enough.
    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        VCardReply::new()
            .fullname(format!("Echo of {}", request.buddy_name))
            .nickname(format!("{} messages echoed", self.echoed))
    }

    #[on(Logout)]
    async fn logout(self, _logout: Logout) {}
}

// Messages are allocated on the connection's thread and freed on a session's
// (and back): mimalloc handles that far better than glibc's malloc (see the
// benchmarks in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    spectrum_backend::main::<Echo>()
}
