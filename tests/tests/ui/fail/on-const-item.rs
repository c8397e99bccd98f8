#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    const GREETING: &str = "hello";
}

fn main() {
    let _ = Session::GREETING;
}
