#![allow(unused_imports)]
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
        let text = Rc::new(msg.message);
        ctx.message(&msg.buddy_name, text.as_str()).send().await?;
        drop(text);
        Ok(())
    }
}

fn main() {}
