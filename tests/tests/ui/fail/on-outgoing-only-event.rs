#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ParticipantChanged)]
    async fn participant(&mut self, _msg: spectrum_backend::proto::Participant) {}
}

fn main() {}
