//! A handler whose future holds an `Rc` across an await.
use std::rc::Rc;

use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        //       ^ rustc-only: future cannot be sent between threads safely
        let text = Rc::new(msg.message);
        ctx.message(&msg.buddy_name, text.as_str()).send().await?;
        drop(text);
        Ok(())
    }

    #[on(BuddyTyping)]
    async fn typing(&mut self, buddy: Buddy) {
        let _status: String = buddy.status;
        //                          ^ error: expected String, found Option<i32>
    }
}

fn main() {}
