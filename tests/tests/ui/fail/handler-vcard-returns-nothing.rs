#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(VCard)]
    async fn vcard(&mut self, _request: VCard) {}
}

fn main() {}
