//! Handlers taking views, and replies awaited directly, built without a
//! session, stored, and sent in batches.

use spectrum_backend::prelude::*;
use spectrum_backend::reply::{Buddy as BuddyReply, Message, Participant, Reply};
use spectrum_backend::view::Target;

struct Session {
    /// Replies built ahead, sent later.
    pending: Vec<Message>,
}

/// A network read loop's parser: no `Ctx` in sight.
fn parse(line: &str) -> Message {
    Message::new("network", line).headline()
}

#[backend]
impl Session {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        ctx.buddy("echo").alias("Echo").await?;
        ctx.send_all([BuddyReply::new("a"), BuddyReply::new("b")]).await?;
        Ok(Session {
            pending: vec![parse("motd")],
        })
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        match msg.target() {
            Target::Contact(c) => ctx.message(c, msg.text()).xhtml("<b>x</b>").await?,
            Target::Room(r) => ctx.room_message(r, "me", msg.text()).await?,
            Target::Occupant { room, nickname } => {
                ctx.private_message(room, nickname, msg.text()).send().await?
            }
        }
        if let Some(receipt) = msg.defer_receipt(ctx) {
            ctx.send(receipt).await?;
        }
        let _raw: &ConversationMessage = msg.raw();
        let _deref: &str = &msg.buddy_name;
        ctx.send_all(self.pending.drain(..)).await
    }

    #[on(StatusChanged)]
    async fn status(&mut self, ctx: &Ctx, presence: view::Presence) -> Result<()> {
        if presence.status() == StatusType::StatusAway {
            ctx.send(Participant::new("#r", "me").status(StatusType::StatusAway))
                .await?;
        }
        Ok(())
    }

    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
        let _ = join.password();
        ctx.room_joined(&join).occupant("bob").await
    }

    #[on(LeaveRoom)]
    fn leave(&mut self, _leave: view::Join) {}

    #[on(BuddyTyping)]
    async fn typing(&mut self, ctx: &Ctx, buddy: Buddy) -> Result<()> {
        let frame = Message::new(&buddy.buddy_name, "typing?").into_payload(ctx.user());
        ctx.send(frame).await?;
        ctx.typing(buddy.buddy_name).await
    }
}

fn main() {}
