#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(&mut self, _ctx: &Ctx, _login: Login) -> Result<Self> {
        Ok(Session)
    }
}

fn main() {}
