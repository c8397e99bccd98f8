//! Every accepted handler shape compiles.

use spectrum_backend::prelude::*;
use spectrum_backend::{Backend, EventKind};

/// Async handlers with a context, `-> ()`, `&self`, and both error types.
struct Full;

#[backend]
impl Full {
    #[on(Login)]
    async fn login(_ctx: &Ctx, _login: Login) -> Result<Self> {
        Ok(Full)
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _ctx: &Ctx, _msg: ConversationMessage) {}

    #[allow(clippy::unused_unit)]
    #[on(StatusChanged)]
    fn status(&mut self, _ctx: &Ctx, _status: Status) -> () {}

    #[on(BuddyTyping)]
    fn typing(&self, _buddy: Buddy) -> Result<(), std::io::Error> {
        Ok(())
    }

    #[on(BuddyTyped)]
    async fn typed(&mut self, _buddy: Buddy) -> Result<(), spectrum_backend::Error> {
        Ok(())
    }

    #[on(BuddyStoppedTyping)]
    async fn stopped(&self, _ctx: &Ctx, _buddy: Buddy) -> Result<()> {
        Ok(())
    }

    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        VCardReply::new().fullname(request.buddy_name)
    }

    #[on(Logout)]
    async fn logout(self) {}

    #[on(Exit)]
    async fn exit(_backend: &BackendCtx) {}
}

/// Sync handlers, `Self` and `Result<Self, E>` constructors, payloads of
/// other events, Logout with its message, Exit without the backend context.
struct Lean;

#[backend]
impl Lean {
    #[on(Login)]
    fn login(_login: Login) -> Result<Self, std::io::Error> {
        Ok(Lean)
    }

    #[on(JoinRoom)]
    fn join(&mut self, _room: Room) {}

    #[on(LeaveRoom)]
    async fn leave(&mut self, _ctx: &Ctx, _room: Room) -> Result<()> {
        Ok(())
    }

    #[on(RawXml)]
    fn raw(&mut self, _xml: String) {}

    #[on(Buddies)]
    fn roster(&mut self, _buddies: Buddies) {}

    #[on(VCard)]
    async fn vcard(&mut self, _ctx: &Ctx, _request: VCard) -> Result<VCardReply> {
        Ok(VCardReply::new())
    }

    #[on(Logout)]
    fn logout(self, _ctx: &Ctx, _logout: Logout) -> Result<()> {
        Ok(())
    }

    #[on(Exit)]
    fn exit() {}
}

/// A constructor returning `Self` without a context.
struct Bare;

#[backend]
impl Bare {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Bare
    }
}

fn main() {
    let full = <Full as Backend>::EVENTS;
    assert_eq!(full.len(), 9);
    assert!(full.contains(&EventKind::VCard));
    assert!(full.contains(&EventKind::Exit));
    let lean = <Lean as Backend>::EVENTS;
    assert_eq!(lean.len(), 8);
    assert!(lean.contains(&EventKind::RawXml));
    assert_eq!(<Bare as Backend>::EVENTS, &[EventKind::Login]);
}
