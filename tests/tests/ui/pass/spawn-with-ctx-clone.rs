//! A handler hands a clone of its context to a task that answers later.

use spectrum_backend::prelude::*;
use spectrum_backend::testing::{Failure, MainInstance};

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            let text = format!("later: {}", msg.message);
            let _ = ctx.message(&msg.buddy_name, text).send().await;
        });
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Failure> {
    let mut main = MainInstance::start::<Session>("[service]\njid = spawn.localhost\n").await?;
    main.handshake().await?;
    main.login("alice@localhost", "alice", "secret").await?;
    main.send_message("alice@localhost", "bob", "hi").await?;
    let reply = main.expect_message("alice@localhost").await?;
    assert_eq!(reply.buddy_name, "bob");
    assert_eq!(reply.message, "later: hi");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}
