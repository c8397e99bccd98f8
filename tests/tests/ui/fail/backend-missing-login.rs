#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(ConvMessage)]
    async fn message(&mut self, _msg: ConversationMessage) {}
}

fn main() {}
