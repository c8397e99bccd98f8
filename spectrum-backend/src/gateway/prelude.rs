//! Everything a gateway backend names, in one import: the crate's
//! [`prelude`](crate::prelude) (handlers, views, replies) and the gateway
//! building blocks (links, rooms, contacts, link reports).
//!
//! ```
//! use spectrum_backend::gateway::prelude::*;
//!
//! let settings = LinkSettings::new("irc.example.net");
//! let rooms = Rooms::new("alice@example.org");
//! let contacts = Contacts::new("alice@example.org");
//! # let _ = (settings, rooms, contacts);
//! ```

pub use crate::gateway::contacts::{Contact, Contacts};
pub use crate::gateway::link::{
    Backoff, ConnectError, Connection, Endpoints, Handshake, Keepalive, Line, LineCodec, Link,
    LinkEvent, LinkSender, LinkSettings, LinkState, Retries,
};
pub use crate::gateway::rooms::{Flags, JoinAction, JoinRequest, Occupant, Rooms};
pub use crate::gateway::text::split_lines;
pub use crate::prelude::*;
pub use crate::proto::{self, Payload};
pub use crate::reply::Reply as _;
pub use crate::view::Target;
pub use crate::{Capabilities, Config, LinkLogin, LinkReport};
