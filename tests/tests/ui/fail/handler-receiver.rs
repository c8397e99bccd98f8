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
    async fn message(self, _msg: ConversationMessage) {}

    #[on(StatusChanged)]
    async fn status(_ctx: &Ctx, _status: Status) {}
}

fn main() {}
