//! Event markers: one type per event name usable in `#[on(..)]`.
//!
//! `#[on(ConvMessage)]` refers to [`event::ConvMessage`](ConvMessage). The
//! markers carry, in their trait impls, the payload each event delivers, so a
//! typo gets rustc's own "a struct with a similar name exists" suggestion and
//! a wrong payload type is reported at the parameter.
//!
//! Markers of messages that only backends send ([`Connected`],
//! [`ParticipantChanged`]...) exist too, so that `#[on(Connected)]` is
//! refused with the reply helper to call instead.

use std::future::Future;

use futures_util::future::Either;

use crate::ctx::{Ctx, VCardReply};
use crate::events::payload_types;
use crate::events::{Event, EventKind};
use crate::handler::{Incoming, PayloadOf};
use crate::reply::Receipt;
use crate::view;

macro_rules! markers {
    (
        lifecycle { $($(#[doc = $ld:literal])* $l:ident $(($lp:ident))?;)* }
        session { $($(#[doc = $sd:literal])* $s:ident($sp:ident) $(<- $sv:ident)?;)* }
        request { $($(#[doc = $rd:literal])* $r:ident($rp:ident) $(<- $rv:ident)?;)* }
        outgoing { $($(#[doc = $od:literal])* $o:ident => $hint:literal;)* }
    ) => {
        $(
            $(#[doc = $sd])*
            #[derive(Debug, Clone, Copy)]
            pub struct $s;

            impl Incoming for $s {
                type Payload = payload_types::$sp;
                type Output = ();
                type Meta = Option<Receipt>;
                const KIND: EventKind = EventKind::$s;
                fn extract(event: Event) -> Result<(payload_types::$sp, Option<Receipt>), Event> {
                    match event {
                        Event::$s(p) => {
                            let receipt = p.receipt_asked(EventKind::$s);
                            Ok((p, receipt))
                        }
                        other => Err(other),
                    }
                }
                fn finish(
                    ctx: &Ctx,
                    receipt: Option<Receipt>,
                    _output: (),
                ) -> impl Future<Output = crate::Result<()>> + Send {
                    send_receipt(ctx, receipt)
                }
            }

            #[diagnostic::do_not_recommend]
            impl PayloadOf<$s> for payload_types::$sp {
                fn from_payload(payload: payload_types::$sp, _ctx: &Ctx) -> Self {
                    payload
                }
            }
        )*
        $(
            $(#[doc = $ld])*
            #[derive(Debug, Clone, Copy)]
            pub struct $l;

            impl Incoming for $l {
                type Payload = markers!(@payload $($lp)?);
                type Output = ();
                type Meta = ();
                const KIND: EventKind = EventKind::$l;
                fn extract(event: Event) -> Result<(Self::Payload, ()), Event> {
                    Err(event)
                }
                async fn finish(_ctx: &Ctx, _meta: (), _output: ()) -> crate::Result<()> {
                    Ok(())
                }
            }

            $(
                #[diagnostic::do_not_recommend]
                impl PayloadOf<$l> for payload_types::$lp {
                    fn from_payload(payload: payload_types::$lp, _ctx: &Ctx) -> Self {
                        payload
                    }
                }
            )?
        )*
        $(
            $(#[doc = $rd])*
            #[derive(Debug, Clone, Copy)]
            pub struct $r;

            #[diagnostic::do_not_recommend]
            impl PayloadOf<$r> for payload_types::$rp {
                fn from_payload(payload: payload_types::$rp, _ctx: &Ctx) -> Self {
                    payload
                }
            }
        )*
        $(
            $(#[doc = $od])*
            ///
            /// Only backends send this message: it cannot be handled with
            #[doc = concat!("`#[on(..)]`; instead, ", $hint, ".")]
            #[derive(Debug, Clone, Copy)]
            pub struct $o;
        )*
    };
    (@payload) => { () };
    (@payload $p:ident) => { payload_types::$p };
}

spectrum_events::events!(markers);

// The one request event: its handler's answer is sent by the runtime.
impl Incoming for VCard {
    type Payload = payload_types::VCard;
    type Output = VCardReply;
    type Meta = (i32, String);
    const KIND: EventKind = EventKind::VCard;
    fn extract(event: Event) -> Result<(payload_types::VCard, (i32, String)), Event> {
        match event {
            Event::VCard(p) => {
                let meta = (p.id, p.buddy_name.clone());
                Ok((p, meta))
            }
            other => Err(other),
        }
    }
    fn finish(
        ctx: &Ctx,
        (id, buddy): (i32, String),
        reply: VCardReply,
    ) -> impl Future<Output = crate::Result<()>> + Send {
        ctx.send_vcard(id, &buddy, reply)
    }
}

/// The receipt a message asks for: only a CONV_MESSAGE with a non-empty id
/// does (the XMPP client sent an XEP-0184 request).
trait AsksReceipt {
    fn receipt_asked(&self, _kind: EventKind) -> Option<Receipt> {
        None
    }
}

impl AsksReceipt for payload_types::ConversationMessage {
    fn receipt_asked(&self, kind: EventKind) -> Option<Receipt> {
        match self.id.as_deref() {
            Some(id) if kind == EventKind::ConvMessage && !id.is_empty() => {
                Some(Receipt::new(self.buddy_name.as_str(), id))
            }
            _ => None,
        }
    }
}

impl AsksReceipt for payload_types::Status {}
impl AsksReceipt for payload_types::Room {}
impl AsksReceipt for payload_types::Buddy {}
impl AsksReceipt for payload_types::Buddies {}
impl AsksReceipt for payload_types::VCard {}
impl AsksReceipt for payload_types::String {}

/// After a handler succeeded: the receipt the message asked for, unless the
/// handler sent or deferred it.
///
/// Not an `async fn`, nor are the `finish` methods that return it: their
/// futures sit in every handler's, and an `async fn` keeps its arguments
/// beside what it awaits.
fn send_receipt(
    ctx: &Ctx,
    receipt: Option<Receipt>,
) -> impl Future<Output = crate::Result<()>> + Send + '_ {
    match receipt {
        Some(r) if !ctx.take_receipt_handled(r.id()) => Either::Left(ctx.send(r)),
        _ => Either::Right(std::future::ready(Ok(()))),
    }
}

// The views a handler may take instead of the protocol message. Written
// out, so that a view given to the wrong event is reported with the impl
// that names its event.

#[diagnostic::do_not_recommend]
impl PayloadOf<ConvMessage> for view::Message {
    fn from_payload(payload: payload_types::ConversationMessage, ctx: &Ctx) -> Self {
        view::Message::new(payload, ctx)
    }
}

#[diagnostic::do_not_recommend]
impl PayloadOf<StatusChanged> for view::Presence {
    fn from_payload(payload: payload_types::Status, _ctx: &Ctx) -> Self {
        view::Presence::new(payload)
    }
}

#[diagnostic::do_not_recommend]
impl PayloadOf<JoinRoom> for view::Join {
    fn from_payload(payload: payload_types::Room, _ctx: &Ctx) -> Self {
        view::Join::new(payload)
    }
}

#[diagnostic::do_not_recommend]
impl PayloadOf<LeaveRoom> for view::Join {
    fn from_payload(payload: payload_types::Room, _ctx: &Ctx) -> Self {
        view::Join::new(payload)
    }
}
