//! The context parameter after the message.
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _msg: ConversationMessage, _ctx: &Ctx) {}
    //                                                           ^ error: the context parameter must come first

    #[on(Logout)]
    async fn logout(self, logout: Logout) {
        let _user: u64 = logout.user;
        //                      ^ error: expected u64, found String
    }
}

fn main() {}
