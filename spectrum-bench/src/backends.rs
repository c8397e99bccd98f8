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
        ctx.message(msg.buddy_name, msg.message).await
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

/// The driver's ceiling: no runtime, no codec, no decode beyond the frame's
/// type. A blocking loop that answers PING with a prepared PONG, LOGIN with
/// CONNECTED, and sends every CONV_MESSAGE back exactly as it came.
pub(crate) fn raw(host: &str, port: u16) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};

    use crate::load::{bytes_field, put_frame, wrapper};
    const PONG: [u8; 6] = [0, 0, 0, 2, 0x08, MessageType::Pong as u8];

    let mut stream = std::net::TcpStream::connect((host, port))?;
    stream.set_nodelay(true)?;
    let mut input = vec![0u8; 256 * 1024];
    let mut have = 0;
    let mut output = BytesMut::with_capacity(256 * 1024);
    loop {
        if have == input.len() {
            input.resize(input.len() * 2, 0);
        }
        let n = stream.read(&mut input[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        let mut at = 0;
        let data = &input[..have];
        while let Some(header) = data.get(at..at + 4) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(frame) = data.get(at..at + 4 + len) else {
                break;
            };
            let (kind, payload) = wrapper(&frame[4..]);
            match i32::try_from(kind)
                .ok()
                .and_then(|k| MessageType::try_from(k).ok())
            {
                Some(MessageType::Ping) => output.put_slice(&PONG),
                Some(MessageType::ConvMessage) => output.put_slice(frame),
                Some(MessageType::Login) => {
                    let user = bytes_field(payload, 1).unwrap_or_default();
                    let mut connected = BytesMut::new();
                    connected.put_u8(0x0a);
                    prost::encoding::encode_varint(user.len() as u64, &mut connected);
                    connected.put_slice(user);
                    put_frame(&mut output, MessageType::Connected as u64, Some(&connected));
                }
                Some(MessageType::Exit) => {
                    stream.write_all(&output)?;
                    return Ok(());
                }
                _ => {}
            }
            at += 4 + len;
        }
        input.copy_within(at..have, 0);
        have -= at;
        if !output.is_empty() {
            stream.write_all(&output)?;
            output.clear();
        }
    }
}
