#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Renamed;

#[backend(krate = spectrum_backend)]
impl Renamed {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Renamed
    }
}

struct Twice;

#[backend(crate = spectrum_backend, crate = spectrum_backend)]
impl Twice {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Twice
    }
}

fn main() {}
