#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    // The view of another event.
    #[on(ConvMessage)]
    async fn message(&mut self, _ctx: &Ctx, _msg: view::Presence) {}

    // A reply awaited directly is fine; a question is awaited for its answer.
    #[on(StatusChanged)]
    async fn status(&mut self, ctx: &Ctx, _presence: view::Presence) -> Result<()> {
        let answer: () = ctx.ask("code?").await?;
        ctx.message("a", "b").await
    }
}

fn main() {}
