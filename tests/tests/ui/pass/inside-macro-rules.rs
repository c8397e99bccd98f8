use spectrum_backend::prelude::*;
use spectrum_backend::{Backend, EventKind};

macro_rules! session {
    ($name:ident, $event:ident) => {
        struct $name {
            seen: u32,
        }

        #[backend]
        impl $name {
            #[on(Login)]
            async fn login(_login: Login) -> Self {
                $name { seen: 0 }
            }

            #[on($event)]
            fn message(&mut self, _msg: ConversationMessage) {
                self.seen += 1;
            }
        }
    };
}

session!(Chat, ConvMessage);
session!(Buzz, Attention);

fn main() {
    assert_eq!(
        <Chat as Backend>::EVENTS,
        &[EventKind::Login, EventKind::ConvMessage]
    );
    assert_eq!(
        <Buzz as Backend>::EVENTS,
        &[EventKind::Login, EventKind::Attention]
    );
}
