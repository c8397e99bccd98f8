//! PINGs are answered as soon as they are read, ahead of the frames in
//! front of them in the same read, and each PING gets exactly one PONG
//! whether it was answered ahead or in turn.

use bytes::BytesMut;
use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};

const USER: &str = "alice@localhost";

struct Echo;

#[backend]
impl Echo {
    #[on(Login)]
    fn login(_login: Login) -> Self {
        Echo
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        ctx.message(&msg.buddy_name, msg.message).send().await
    }
}

fn put(buf: &mut BytesMut, payload: &Payload) {
    payload
        .encode_frame(buf, proto::DEFAULT_MAX_FRAME_LENGTH)
        .expect("a small frame encodes");
}

fn put_messages(buf: &mut BytesMut, from: usize, count: usize) {
    for k in from..from + count {
        put(
            buf,
            &Payload::ConvMessage(proto::ConversationMessage {
                user_name: USER.into(),
                buddy_name: "bob".into(),
                message: format!("m{k}"),
                ..Default::default()
            }),
        );
    }
}

async fn started() -> HarnessResult<MainInstance> {
    let mut main = MainInstance::start::<Echo>("[service]\njid = localhost\n").await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    Ok(main)
}

#[tokio::test]
async fn a_ping_behind_a_read_of_messages_is_answered_before_their_replies() -> HarnessResult<()> {
    let mut main = started().await?;
    let mut buf = BytesMut::new();
    put_messages(&mut buf, 0, 200);
    put(&mut buf, &Payload::Ping);
    // One write, read by the backend at once (about 8 KiB).
    main.send_raw(&buf).await?;
    let mut echoes_before = 0;
    loop {
        match main.recv().await? {
            Payload::Pong => break,
            Payload::ConvMessage(_) => echoes_before += 1,
            _ => {}
        }
    }
    // Handled in turn, the PING would have waited for all 200 of them, and
    // its PONG would be written after their replies.
    assert!(
        echoes_before < 64,
        "{echoes_before} echoes came before the PONG"
    );
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn every_ping_gets_one_pong_ahead_or_in_turn() -> HarnessResult<()> {
    let mut main = started().await?;
    let mut buf = BytesMut::new();
    put_messages(&mut buf, 0, 100);
    put(&mut buf, &Payload::Ping);
    put_messages(&mut buf, 100, 100);
    put(&mut buf, &Payload::Ping);
    // A PING in another valid form (with an empty payload field): answered
    // when it is decoded, not ahead.
    buf.extend_from_slice(&[0, 0, 0, 4, 0x08, proto::MessageType::Ping as u8, 0x12, 0]);
    put_messages(&mut buf, 200, 50);
    put(&mut buf, &Payload::Ping);
    main.send_raw(&buf).await?;
    main.send_message(USER, "bob", "last").await?;
    main.expect("the last echo", |p| match p {
        Payload::ConvMessage(m) if m.message == "last" => Some(()),
        _ => None,
    })
    .await?;
    let pongs = |main: &MainInstance| {
        main.received()
            .filter(|p| matches!(p, Payload::Pong))
            .count()
    };
    // The handshake's PING, then these four.
    assert_eq!(pongs(&main), 5);
    let echoes = main
        .received()
        .filter(|p| matches!(p, Payload::ConvMessage(_)))
        .count();
    assert_eq!(echoes, 251);
    main.ping().await?;
    main.send_message(USER, "bob", "after").await?;
    main.expect("the echo after the PING", |p| match p {
        Payload::ConvMessage(m) if m.message == "after" => Some(()),
        _ => None,
    })
    .await?;
    assert_eq!(pongs(&main), 6);
    main.exit().await?;
    Ok(())
}
