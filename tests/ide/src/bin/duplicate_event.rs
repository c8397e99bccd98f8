//! Two handlers for one event.
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
    //   ^ error: event `ConvMessage` is already handled by `message`
    async fn message_again(&mut self, msg: ConversationMessage) {
        let _len: bool = msg.message.len();
        //                           ^ error: expected bool, found usize
    }
}

fn main() {}
