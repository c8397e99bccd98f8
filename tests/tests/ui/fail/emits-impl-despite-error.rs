#![allow(unused_imports)]
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

    fn sent(&self) -> u32 {
        self.sent
    }
}

fn is_backend<T: Backend>() {}

fn main() {
    is_backend::<Session>();
    let _ = Session { sent: 1 }.sent();
}
