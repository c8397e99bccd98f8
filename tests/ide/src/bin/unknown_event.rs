//! A misspelt event name.
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

    #[on(ConvMesage)]
    //   ^ rustc-only: cannot find type `ConvMesage`
    async fn message(&mut self, _msg: ConversationMessage) {}

    #[on(BuddyTyping)]
    async fn typing(&mut self, buddy: Buddy) {
        let count: u32 = buddy.buddy_name;
        //                     ^ error: expected u32, found String
        self.sent += count;
    }
}

fn main() {}
