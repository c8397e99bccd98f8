#![allow(unused_imports)]
use spectrum_backend::prelude::*;

struct Session;

trait Greet {
    fn greet(&self) -> &'static str;
}

#[backend]
impl Greet for Session {
    fn greet(&self) -> &'static str {
        "hello"
    }
}

fn main() {
    let _ = Session.greet();
}
