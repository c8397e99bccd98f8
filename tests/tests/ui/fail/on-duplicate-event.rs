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
    async fn message(&mut self, _msg: ConversationMessage) {}

    #[on(ConvMessage)]
    async fn message_again(&mut self, _msg: ConversationMessage) {}
}

fn main() {}
