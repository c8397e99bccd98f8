//! A handler that takes the wrong message type.
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _ctx: &Ctx, _msg: Buddy) {}
    //                                            ^ rustc-only: is not the payload type of event

    #[on(BuddyTyping)]
    async fn typing(&mut self, buddy: Buddy) {
        let _name: char = buddy.alias;
        //                      ^ error: expected char, found Option<String>
    }
}

fn main() {}
