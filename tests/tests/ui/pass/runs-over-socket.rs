//! The expansion exercised over a real socket: a backend with every handler
//! shape, driven the way Spectrum 2's main instance drives it.

use std::sync::atomic::{AtomicU32, Ordering};

use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{Failure, MainInstance};

static LOGGED_OUT: AtomicU32 = AtomicU32::new(0);
static EXITED: AtomicU32 = AtomicU32::new(0);

struct Session {
    user: String,
    messages: u32,
    stopped: u32,
    status: Option<String>,
}

#[backend]
impl Session {
    /// async, with a context, `Result<Self>`.
    #[on(Login)]
    async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
        ctx.buddy("bob").alias("Bob").send().await?;
        Ok(Session {
            user: login.user,
            messages: 0,
            stopped: 0,
            status: None,
        })
    }

    /// async, `&mut self`, returns `()`.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) {
        self.messages += 1;
        let text = format!("echo: {}", msg.message);
        let _ = ctx.message(&msg.buddy_name, text).send().await;
    }

    /// async, `&self`, `Result<(), spectrum_backend::Error>`.
    #[on(BuddyTyping)]
    async fn typing(&self, ctx: &Ctx, buddy: Buddy) -> Result<(), spectrum_backend::Error> {
        ctx.typing(&buddy.buddy_name).await
    }

    /// sync, no context, `Result<(), std::io::Error>`.
    #[on(BuddyStoppedTyping)]
    fn stopped(&mut self, _buddy: Buddy) -> Result<(), std::io::Error> {
        self.stopped += 1;
        Ok(())
    }

    /// sync, no context, returns `()`.
    #[on(StatusChanged)]
    fn status(&mut self, status: Status) {
        self.status = status.status_message;
    }

    /// sync, answers the request with a vCard.
    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        VCardReply::new()
            .fullname(format!("{} of {}", request.buddy_name, self.user))
            .nickname(format!(
                "{} {} {}",
                self.messages,
                self.stopped,
                self.status.as_deref().unwrap_or("-")
            ))
    }

    /// async, answers the join with the room's occupants.
    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, room: Room) -> Result<()> {
        ctx.room_joined(&room).occupant("carol").send().await
    }

    /// `self` by value, message omitted.
    #[on(Logout)]
    async fn logout(self, ctx: &Ctx) {
        LOGGED_OUT.fetch_add(1, Ordering::SeqCst);
        let _ = ctx.message("bob", "bye").send().await;
    }

    /// Once per process.
    #[on(Exit)]
    async fn exit(backend: &BackendCtx) -> Result<()> {
        let _ = backend.config();
        EXITED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

const USER: &str = "alice@localhost";

#[tokio::main]
async fn main() -> std::result::Result<(), Failure> {
    let mut main = MainInstance::start::<Session>("[service]\njid = ui.localhost\n").await?;
    main.handshake().await?;

    main.login(USER, "alice", "secret").await?;
    let roster = main
        .expect("BUDDY_CHANGED for bob", |p| match p {
            Payload::BuddyChanged(b) if b.buddy_name == "bob" => Some(b.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(roster.alias.as_deref(), Some("Bob"));

    main.send_message(USER, "bob", "hi").await?;
    let reply = main.expect_message(USER).await?;
    assert_eq!(
        (reply.buddy_name.as_str(), reply.message.as_str()),
        ("bob", "echo: hi")
    );

    let buddy = proto::Buddy {
        user_name: USER.into(),
        buddy_name: "bob".into(),
        ..Default::default()
    };
    main.send(Payload::BuddyTyping(buddy.clone())).await?;
    let typing = main
        .expect("BUDDY_TYPING", |p| match p {
            Payload::BuddyTyping(b) => Some(b.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (typing.user_name.as_str(), typing.buddy_name.as_str()),
        (USER, "bob")
    );
    main.send(Payload::BuddyStoppedTyping(buddy)).await?;

    main.set_status(USER, proto::StatusType::StatusAway, "lunch")
        .await?;

    let card = main.vcard(USER, "bob").await?;
    assert_eq!(card.fullname.as_deref(), Some("bob of alice@localhost"));
    assert_eq!(card.nickname.as_deref(), Some("1 1 lunch"));

    let occupants = main.join_room(USER, "#rust", "alice", "").await?;
    let nicks: Vec<&str> = occupants.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(nicks, ["carol", "alice"]);

    main.logout(USER, "alice").await?;
    let bye = main.expect_message(USER).await?;
    assert_eq!(bye.message, "bye");
    assert_eq!(LOGGED_OUT.load(Ordering::SeqCst), 1);

    assert_eq!(main.exit().await?, 0);
    assert_eq!(LOGGED_OUT.load(Ordering::SeqCst), 1);
    assert_eq!(EXITED.load(Ordering::SeqCst), 1);
    Ok(())
}
