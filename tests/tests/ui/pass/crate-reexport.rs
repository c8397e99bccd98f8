mod reexport {
    pub use spectrum_backend as sb;
}

use reexport::sb::prelude::{Ctx, Login, Result, Status};
use reexport::sb::{Backend, EventKind};

struct Session;

#[reexport::sb::backend(crate = reexport::sb)]
impl Session {
    #[reexport::sb::on(Login)]
    async fn login(_ctx: &Ctx, _login: Login) -> Result<Self> {
        Ok(Session)
    }

    #[on(StatusChanged)]
    fn status(&mut self, _status: Status) {}
}

fn main() {
    assert_eq!(
        <Session as Backend>::EVENTS,
        &[EventKind::Login, EventKind::StatusChanged]
    );
}
