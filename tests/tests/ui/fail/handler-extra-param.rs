#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _ctx: &Ctx, _msg: ConversationMessage, _extra: u32) {}
}

fn main() {}
