//! `self` by value outside the Logout handler; the impl is still emitted,
//! so its other methods and the Backend trait still resolve.
use spectrum_backend::Backend;
use spectrum_backend::prelude::*;

struct Session {
    sent: u32,
}

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session { sent: 0 }
    }

    #[on(ConvMessage)]
    async fn message(self, _msg: ConversationMessage) {}
    //               ^ error: only the `Logout` handler takes `self` by value

    #[on(BuddyTyping)]
    async fn typing(&mut self, _buddy: Buddy) {
        self.sent = "many";
        //          ^ error: expected u32, found &'static str
    }

    fn sent(&self) -> u32 {
        self.sent
    }
}

fn is_backend<T: Backend>() {}

fn main() {
    is_backend::<Session>();
    let _: u32 = Session { sent: 1 }.sent();
}
