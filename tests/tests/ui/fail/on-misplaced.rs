#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Plain;

impl Plain {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Plain
    }
}

#[spectrum_backend::on(ConvMessage)]
async fn message(_msg: ConversationMessage) {}

fn main() {
    let _ = Plain::login;
    let _ = message;
}
