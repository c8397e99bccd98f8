#![allow(unused_imports)]
use spectrum_backend::prelude::*;

#[backend]
struct Session;

fn main() {
    let _ = Session;
}
