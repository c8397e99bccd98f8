#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on]
    async fn message(&mut self, _msg: ConversationMessage) {}

    #[on(BuddyTyping, BuddyTyped)]
    async fn typing(&mut self, _buddy: Buddy) {}

    #[on("StatusChanged")]
    async fn status(&mut self, _status: Status) {}
}

fn main() {}
