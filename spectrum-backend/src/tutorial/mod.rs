//! A tutorial: from the smallest backend to a networked one.
//!
//! Every snippet here is compiled by `cargo test` (they are doctests), so
//! they stay true to the API.
//!
//! # 1. The smallest backend
//!
//! A backend is one impl block: the type is one user's session, each
//! `#[on(..)]` method handles one event. The Login handler builds the
//! session; returning `Ok` tells Spectrum 2 the user is connected.
//!
//! ```no_run
//! use spectrum_backend::prelude::*;
//!
//! struct Echo;
//!
//! #[backend]
//! impl Echo {
//!     #[on(Login)]
//!     async fn login(_login: Login) -> Self {
//!         Echo
//!     }
//!
//!     /// `view::Message` says what the wire means: whom the message is
//!     /// for, its text; a receipt the user's client asked for is sent when
//!     /// this returns `Ok`.
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
//!         // A reply is awaited to be sent.
//!         ctx.message(msg.to(), msg.text()).await
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     spectrum_backend::main::<Echo>()
//! }
//! ```
//!
//! Build it and point Spectrum 2's `backend` setting at the executable, or
//! try it with `spectrum-sim`.
//!
//! # 2. A networked backend: a link, rooms, owned replies
//!
//! The legacy network here is an imaginary line protocol: `MSG to text`
//! sends, `FROM who text` receives, `JOIN room nick` joins and the server
//! answers `NAMES room own-nick nick...`.
//!
//! * The connection is a [`Link`](crate::gateway::link::Link): it reconnects
//!   with backoff, bounds what is queued and how long a line may be.
//!   [`Ctx::follow_link`](crate::Ctx::follow_link) tells Spectrum 2 and the
//!   user about it (CONNECTED, "lost the connection...", "reconnected",
//!   DISCONNECTED when it gives up).
//! * A task reads the network. It turns lines into owned
//!   [`reply`](crate::reply) values, which need no `Ctx` to be built, and
//!   sends them with `ctx.send`/`ctx.send_all`.
//! * Rooms go through the session's tracker
//!   ([`Ctx::with_rooms`](crate::Ctx::with_rooms)): it turns an occupant list
//!   into the frames Spectrum 2 wants, and lets the runtime answer the
//!   JOIN_ROOM that Spectrum 2 replays after CONNECTED by itself.
//!
//! ```no_run
//! use spectrum_backend::gateway::link::{Line, LineCodec, Link, LinkEvent, LinkSender, LinkSettings};
//! use spectrum_backend::gateway::rooms::Occupant;
//! use spectrum_backend::prelude::*;
//! use spectrum_backend::proto::Payload;
//! use spectrum_backend::reply::{Message, Reply as _};
//! use spectrum_backend::view::Target;
//! use spectrum_backend::LinkReport;
//! use tokio::net::TcpStream;
//!
//! struct Chat {
//!     to_network: LinkSender<String>,
//! }
//!
//! /// What one line from the network means: replies, or room news.
//! fn parse(ctx: &Ctx, line: &str) -> Vec<Payload> {
//!     let mut words = line.splitn(3, ' ');
//!     match (words.next(), words.next(), words.next()) {
//!         (Some("FROM"), Some(who), Some(text)) => {
//!             vec![Message::new(who, text).into_payload(ctx.user())]
//!         }
//!         (Some("NAMES"), Some(room), Some(names)) => {
//!             let mut names = names.split(' ');
//!             let own = names.next().unwrap_or_default();
//!             let occupants: Vec<Occupant> = names.map(Occupant::new).collect();
//!             ctx.with_rooms(|rooms| rooms.joined(room, own, occupants))
//!         }
//!         _ => Vec::new(),
//!     }
//! }
//!
//! #[backend]
//! impl Chat {
//!     #[on(Login)]
//!     async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
//!         let server = ctx.config().get("backend.server").unwrap_or("127.0.0.1:6667").to_owned();
//!         let name = login.legacy_name.clone();
//!         let mut link: Link<Line, String> = Link::spawn(
//!             LinkSettings::new("chat"),
//!             LineCodec::new(4096),
//!             move || {
//!                 let (server, name) = (server.clone(), name.clone());
//!                 async move {
//!                     let stream = TcpStream::connect(server).await?;
//!                     let _ = name; // log in with it here
//!                     Ok(stream)
//!                 }
//!             },
//!         );
//!         let to_network = link.sender();
//!         ctx.follow_link(link.states(), LinkReport::new("chat"));
//!         // The read loop: a task of the session, ended with it.
//!         let reader = ctx.clone();
//!         tokio::spawn(async move {
//!             loop {
//!                 let event = tokio::select! {
//!                     event = link.next() => event,
//!                     () = reader.ended() => None,
//!                 };
//!                 match event {
//!                     Some(LinkEvent::Received(Line::Text(bytes))) => {
//!                         let line = String::from_utf8_lossy(&bytes);
//!                         let frames = parse(&reader, &line);
//!                         if reader.send_all(frames).await.is_err() {
//!                             return;
//!                         }
//!                     }
//!                     Some(_) => {}
//!                     None => return,
//!                 }
//!             }
//!         });
//!         Ok(Chat { to_network })
//!     }
//!
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
//!         let to = match msg.target() {
//!             Target::Contact(name) | Target::Room(name) => name.to_owned(),
//!             Target::Occupant { nickname, .. } => nickname.to_owned(),
//!         };
//!         if let Target::Room(room) = msg.target() {
//!             // Spectrum 2 does not echo room messages: the backend does.
//!             let own = ctx.with_rooms(|r| r.own_nickname(room).map(str::to_owned));
//!             ctx.room_message(room, own.unwrap_or_default(), msg.text()).await?;
//!         }
//!         // Waits while the network is slow: backpressure reaches the handler.
//!         self.to_network
//!             .send(format!("MSG {to} {}", msg.text()))
//!             .await
//!             .map_err(|_| Error::network("the chat network is gone"))
//!     }
//!
//!     #[on(JoinRoom)]
//!     async fn join(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
//!         // The tracker remembers the request; the NAMES line answers it.
//!         ctx.with_rooms(|r| r.join_requested(join.raw()));
//!         self.to_network
//!             .send(format!("JOIN {} {}", join.room(), join.nickname()))
//!             .await
//!             .map_err(|_| Error::network("the chat network is gone"))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     spectrum_backend::main::<Chat>()
//! }
//! ```
//!
//! # 3. Asking the user: a two-factor login
//!
//! [`Ctx::ask`](crate::Ctx::ask) sends a question from a pseudo-contact and
//! waits for the user's next message to it; that message does not reach the
//! ConvMessage handler. It works inside the Login handler.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use spectrum_backend::prelude::*;
//!
//! struct Guarded;
//!
//! #[backend]
//! impl Guarded {
//!     #[on(Login)]
//!     async fn login(ctx: &Ctx, login: Login) -> Result<Self> {
//!         // Here the network would say that it wants a code.
//!         let code = ctx
//!             .ask(format!("Enter the code sent to {}", login.legacy_name))
//!             .from("login")
//!             .timeout(Duration::from_secs(120))
//!             .await?; // no answer in time: the login fails with a clear error
//!         if code.trim().len() != 6 {
//!             return Err(Error::authentication_failed("that is not a 6-digit code"));
//!         }
//!         Ok(Guarded)
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     spectrum_backend::main::<Guarded>()
//! }
//! ```
//!
//! # 4. Receipts on delivery
//!
//! A message that asks for a receipt gets it when its handler returns `Ok`.
//! To acknowledge only once the network confirms, take the receipt over
//! and send it later: it is an owned value like every reply.
//!
//! ```no_run
//! use spectrum_backend::prelude::*;
//! use spectrum_backend::reply::Receipt;
//!
//! struct Careful {
//!     unconfirmed: Vec<Receipt>,
//! }
//!
//! #[backend]
//! impl Careful {
//!     #[on(Login)]
//!     async fn login(_login: Login) -> Self {
//!         Careful { unconfirmed: Vec::new() }
//!     }
//!
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
//!         self.unconfirmed.extend(msg.defer_receipt(ctx));
//!         // ... send to the network; when it confirms:
//!         ctx.send_all(self.unconfirmed.drain(..)).await
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     spectrum_backend::main::<Careful>()
//! }
//! ```
#![cfg_attr(feature = "store", doc = include_str!("store.md"))]
