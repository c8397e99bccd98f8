use spectrum_backend::prelude::*;
use spectrum_backend::{Backend, EventKind};

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[cfg(any())]
    #[on(ConvMessage)]
    async fn message(&mut self, _msg: NotCompiled) {}

    #[cfg(all())]
    #[on(StatusChanged)]
    async fn status(&mut self, _status: Status) {}
}

fn main() {
    assert_eq!(
        <Session as Backend>::EVENTS,
        &[EventKind::Login, EventKind::StatusChanged]
    );
}
