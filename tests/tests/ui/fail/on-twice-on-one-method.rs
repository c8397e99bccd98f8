#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(BuddyTyping)]
    #[on(BuddyTyped)]
    async fn typing(&mut self, _buddy: Buddy) {}
}

fn main() {}
