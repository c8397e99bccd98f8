#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_ctx: &Ctx, _login: Login) {}
}

fn main() {}
