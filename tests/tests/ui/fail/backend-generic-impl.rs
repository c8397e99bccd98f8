#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session<T>(T);

#[backend]
impl<T: Default + Send + 'static> Session<T> {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session(T::default())
    }
}

fn main() {}
