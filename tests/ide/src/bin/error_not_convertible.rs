//! A handler error type the runtime cannot turn into a DISCONNECTED code.
use spectrum_backend::prelude::*;

#[derive(Debug)]
struct LegacyError;

struct Session;

#[backend]
impl Session {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Session
    }

    #[on(ConvMessage)]
    async fn message(&mut self, _msg: ConversationMessage) -> Result<(), LegacyError> {
        //                                                    ^ rustc-only: cannot be converted into `spectrum_backend::Error`
        Err(LegacyError)
    }

    #[on(BuddyTyping)]
    async fn typing(&mut self, buddy: Buddy) {
        let _groups: usize = buddy.group;
        //                         ^ error: expected usize, found Vec<String, Global>
    }
}

fn main() {}
