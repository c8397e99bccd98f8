//! The two backends being compared, each run as its own process.

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use prost::Message;
use spectrum_backend::prelude::*;
use spectrum_proto::{self as proto, MessageType, WrapperMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The framework echo backend, with the slow handlers the benchmarks need.
pub(crate) struct Bench;

#[backend]
impl Bench {
    #[on(Login)]
    fn login(_login: Login) -> Self {
        Bench
    }

    /// Echoes the text. `block:<ms>` first blocks the thread (a synchronous
    /// legacy library); `sleep:<ms>` first waits asynchronously.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        if let Some(ms) = msg
            .message
            .strip_prefix("block:")
            .and_then(|m| m.parse().ok())
        {
            std::thread::sleep(Duration::from_millis(ms));
        } else if let Some(ms) = msg
            .message
            .strip_prefix("sleep:")
            .and_then(|m| m.parse().ok())
        {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        ctx.message(&msg.buddy_name, msg.message).send().await
    }

    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: Room) -> Result<()> {
        ctx.room_joined(&join).occupant("bot").send().await
    }

    #[on(VCard)]
    fn vcard(&mut self, request: VCard) -> VCardReply {
        VCardReply::new().fullname(request.buddy_name)
    }

    #[on(Logout)]
    fn logout(self) {}
}

/// The ceiling: one task, manual framing, prost, replies batched per read.
/// It writes exactly the bytes the framework writes for an echo.
pub(crate) async fn handwritten(host: &str, port: u16) -> std::io::Result<()> {
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut output = BytesMut::with_capacity(64 * 1024);
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        while input.len() >= 4 {
            let len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
            if input.len() < 4 + len {
                break;
            }
            input.advance(4);
            let body = input.split_to(len).freeze();
            let Ok(wrapper) = WrapperMessage::decode(body) else {
                continue;
            };
            let payload = wrapper.payload.unwrap_or_default();
            let reply = match MessageType::try_from(wrapper.r#type) {
                Ok(MessageType::Ping) => WrapperMessage::new(MessageType::Pong, None),
                Ok(MessageType::Exit) => return Ok(()),
                Ok(MessageType::Login) => {
                    let Ok(login) = proto::Login::decode(payload) else {
                        continue;
                    };
                    let connected = proto::Connected { user: login.user };
                    WrapperMessage::new(
                        MessageType::Connected,
                        Some(connected.encode_to_vec().into()),
                    )
                }
                Ok(MessageType::ConvMessage) => {
                    let Ok(m) = proto::ConversationMessage::decode(payload) else {
                        continue;
                    };
                    let echo = proto::ConversationMessage {
                        user_name: m.user_name,
                        buddy_name: m.buddy_name,
                        message: m.message,
                        nickname: Some(String::new()),
                        xhtml: Some(String::new()),
                        timestamp: Some(String::new()),
                        headline: Some(false),
                        id: None,
                        pm: Some(false),
                        carbon: Some(false),
                        attachment: Vec::new(),
                    };
                    WrapperMessage::new(MessageType::ConvMessage, Some(echo.encode_to_vec().into()))
                }
                _ => continue,
            };
            output.put_u32(reply.encoded_len() as u32);
            reply.encode_raw(&mut output);
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
    }
}
