#![allow(unused_imports)]
use spectrum_backend::Backend;
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, msg: ConversationMessage) {
        let _x = msg.;
    }
}

fn is_backend<T: Backend>() {}

fn main() {
    is_backend::<Session>();
}
