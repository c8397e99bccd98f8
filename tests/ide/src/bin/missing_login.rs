//! No handler constructs the session.
use spectrum_backend::prelude::*;

struct Session;

#[backend]
impl Session {
//   ^ error: needs an `#[on(Login)]` handler
    #[on(ConvMessage)]
    async fn message(&mut self, msg: ConversationMessage) {
        let _id: String = msg.id;
        //                    ^ error: expected String, found Option<String>
    }
}

fn main() {}
