use spectrum_backend::prelude::*;
use spectrum_backend::{Backend, EventKind};

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_ctx: &Ctx, _login: Login) -> Result<Self> {
        Ok(Session)
    }
}

fn main() {
    assert_eq!(<Session as Backend>::EVENTS, &[EventKind::Login]);
}
