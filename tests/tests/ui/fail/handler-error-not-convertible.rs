#![allow(unused_imports)]
use spectrum_backend::prelude::*;

#[derive(Debug)]
struct LegacyError;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _msg: ConversationMessage) -> Result<(), LegacyError> {
        Err(LegacyError)
    }
}

fn main() {}
