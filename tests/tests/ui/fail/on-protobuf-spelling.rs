#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(TYPE_CONV_MESSAGE)]
    async fn message(&mut self, _msg: ConversationMessage) {}
}

fn main() {}
