#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(Logout)]
    async fn logout(&mut self, _ctx: &Ctx, _logout: Logout) {}
}

fn main() {}
