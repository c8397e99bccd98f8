//! Shape rules for handlers: checked syntactically, all at once, each
//! reported at the narrowest token.

use std::collections::HashMap;

use syn::spanned::Spanned;

use crate::diag::Errors;
use crate::model::{Checked, Class, Handler, Model};

/// Events a backend receives, for the protobuf-spelling hint.
const INCOMING: &[&str] = &[
    "Login",
    "Logout",
    "Exit",
    "StatusChanged",
    "ConvMessage",
    "JoinRoom",
    "LeaveRoom",
    "BuddyChanged",
    "BuddyRemoved",
    "BuddyTyping",
    "BuddyTyped",
    "BuddyStoppedTyping",
    "Attention",
    "VCard",
    "VCardUpdate",
    "RoomSubjectChanged",
    "RawXml",
    "Buddies",
];

/// Messages only backends send, and what to call instead of handling them.
const OUTGOING: &[(&str, &str)] = &[
    (
        "Connected",
        "return `Ok(session)` from the `#[on(Login)]` handler; the runtime sends CONNECTED",
    ),
    (
        "Disconnected",
        "call `ctx.disconnect(code, reason)`, or return an error from a handler",
    ),
    ("Pong", "nothing: the runtime answers every PING itself"),
    ("Ping", "nothing: the runtime answers every PING itself"),
    ("Stats", "nothing: the runtime sends STATS after every PONG"),
    (
        "BackendConfig",
        "nothing: the runtime derives BACKEND_CONFIG from your handlers (see `Runtime::capabilities`)",
    ),
    (
        "ParticipantChanged",
        "call `ctx.participant(room, nick)`, or `ctx.room_joined(&join)` to answer a join",
    ),
    (
        "RoomNicknameChanged",
        "call `ctx.room_nickname_changed(room, nick)`",
    ),
    ("AuthRequest", "call `ctx.auth_request(buddy)`"),
    ("RoomList", "call `ctx.room_list(rooms)`"),
    ("ConvMessageAck", "call `ctx.message_ack(buddy, id)`"),
    (
        "Query",
        "call `ctx.backend().query(command)`; the answer is its return value",
    ),
];

fn class_of(event: &syn::Ident) -> Class {
    if event == "Login" {
        Class::Login
    } else if event == "Logout" {
        Class::Logout
    } else if event == "Exit" {
        Class::Exit
    } else {
        Class::Session
    }
}

/// `TYPE_CONV_MESSAGE`, `CONV_MESSAGE` or `conv_message` → `ConvMessage`,
/// when that names an event.
pub(crate) fn looks_like_protobuf_name(ident: &syn::Ident) -> Option<&'static str> {
    let text = ident.to_string();
    if !text.contains('_') && text.chars().any(char::is_uppercase) {
        return None;
    }
    let squashed: String = text
        .trim_start_matches("TYPE_")
        .split('_')
        .collect::<String>()
        .to_lowercase();
    INCOMING
        .iter()
        .chain(OUTGOING.iter().map(|(n, _)| n))
        .copied()
        .find(|n| n.to_lowercase() == squashed)
}

pub(crate) fn validate(model: &Model, errors: &mut Errors) -> Vec<Checked> {
    let mut checked = Vec::new();
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for handler in &model.handlers {
        let name = handler.event.to_string();
        if let Some((_, instead)) = OUTGOING.iter().find(|(n, _)| *n == name) {
            errors.spanned(
                &handler.event,
                format_args!(
                    "`{name}` is sent by backends, not received; it cannot be handled with `#[on(..)]`\n= help: {instead}"
                ),
            );
            continue;
        }
        if let Some(first) = seen.get(&name) {
            errors.spanned(
                &handler.event,
                format_args!(
                    "event `{name}` is already handled by `{first}`; each event may have only one handler"
                ),
            );
            continue;
        }
        seen.insert(name, &handler.sig.ident);
        if let Some(c) = check(handler, errors) {
            checked.push(c);
        }
    }
    if !model.attempted.login {
        errors.spanned(
            &model.item.self_ty,
            "a `#[backend]` needs an `#[on(Login)]` handler: it constructs the session\n= help: add `#[on(Login)] async fn login(ctx: &Ctx, login: Login) -> Result<Self> { .. }`",
        );
    }
    checked
}

/// Is `ty` `&Ctx`-like (`&Ctx`, `&mut Ctx`, `Ctx`, `&BackendCtx`...)?
/// Returns (is a reference, is mutable, the type's last name).
fn ctx_like(ty: &syn::Type) -> Option<(bool, bool, String)> {
    let (is_ref, is_mut, inner) = match ty {
        syn::Type::Reference(r) => (true, r.mutability.is_some(), &*r.elem),
        other => (false, false, other),
    };
    let syn::Type::Path(p) = inner else {
        return None;
    };
    let last = p.path.segments.last()?.ident.to_string();
    (last == "Ctx" || last == "BackendCtx").then_some((is_ref, is_mut, last))
}

fn check(handler: &Handler, errors: &mut Errors) -> Option<Checked> {
    let sig = &handler.sig;
    let event = &handler.event;
    let class = class_of(event);
    let mut errs = Errors::default();

    if let Some(c) = &sig.constness {
        errs.spanned(c, "handlers cannot be `const fn`");
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        errs.spanned(u, "handlers cannot be `unsafe fn`");
    }
    if let Some(abi) = &sig.abi {
        errs.spanned(abi, "handlers cannot have an `extern` ABI");
    }
    if let Some(v) = &sig.variadic {
        errs.spanned(v, "handlers cannot be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errs.spanned(&sig.generics, "handlers cannot have generic parameters");
    }

    // The receiver.
    let mut inputs = sig.inputs.iter().peekable();
    let receiver = match inputs.peek() {
        Some(syn::FnArg::Receiver(r)) => {
            let r = r.clone();
            inputs.next();
            Some(r)
        }
        _ => None,
    };
    match (class, &receiver) {
        (Class::Login, Some(r)) => errs.spanned(
            r,
            "the `Login` handler constructs the session, so it takes no `self`\n= help: write `async fn login(ctx: &Ctx, login: Login) -> Result<Self>`",
        ),
        (Class::Exit, Some(r)) => errs.spanned(
            r,
            "the `Exit` handler runs once for the whole backend, so it takes no `self`\n= help: write `async fn exit(backend: &BackendCtx)`",
        ),
        (Class::Logout, Some(r)) if !matches!(r.kind, syn::ReceiverKind::Value) => errs.spanned(
            r,
            "the `Logout` handler ends the session, so it takes `self` by value\n= help: write `async fn logout(self, ctx: &Ctx, logout: Logout)`",
        ),
        (Class::Logout, None) => errs.at(
            sig.paren_token.span.join(),
            "the `Logout` handler ends the session, so it takes `self` by value as its first parameter",
        ),
        (Class::Session, Some(r)) if matches!(r.kind, syn::ReceiverKind::Value) => errs.spanned(
            r,
            format_args!(
                "handlers must take `&mut self`; only the `Logout` handler takes `self` by value\n= help: write `&mut self` in the handler for `{event}`"
            ),
        ),
        (Class::Session, Some(r)) if !matches!(r.kind, syn::ReceiverKind::Reference(..)) => {
            errs.spanned(r, "handlers must take `&mut self`, without a type annotation")
        }
        (Class::Session, None) => errs.at(
            sig.paren_token.span.join(),
            format_args!("handlers must take `&mut self` as the first parameter (handler for `{event}`)"),
        ),
        _ => {}
    }

    // The other parameters: an optional context, then the message.
    let expected = match class {
        Class::Login => "`(ctx: &Ctx, login: Login)`",
        Class::Logout => "`(self, ctx: &Ctx, logout: Logout)`",
        Class::Exit => "`(backend: &BackendCtx)`",
        Class::Session => "`(&mut self, ctx: &Ctx, msg: <payload>)`",
    };
    let ctx_name = if class == Class::Exit {
        "BackendCtx"
    } else {
        "Ctx"
    };
    let mut takes_ctx = false;
    let mut msg_ty = None;
    for (i, arg) in inputs.enumerate() {
        let syn::FnArg::Typed(arg) = arg else {
            continue;
        };
        let ty = &*arg.ty;
        if let syn::Type::ImplTrait(_) = ty {
            errs.spanned(
                ty,
                "handlers cannot have generic parameters (`impl Trait` in argument position)",
            );
            continue;
        }
        match (ctx_like(ty), i, &msg_ty) {
            (Some((is_ref, is_mut, name)), 0, _) => {
                if !is_ref || is_mut || name != ctx_name {
                    errs.spanned(
                        ty,
                        format_args!("the context parameter must be `&{ctx_name}`"),
                    );
                }
                takes_ctx = true;
            }
            (Some(_), _, _) => errs.spanned(
                ty,
                format_args!(
                    "the context parameter must come first, right after the receiver: {expected}"
                ),
            ),
            (None, _, None) if class != Class::Exit => msg_ty = Some(ty.clone()),
            (None, _, _) => errs.spanned(
                arg,
                format_args!("unexpected parameter: the handler for `{event}` takes {expected}"),
            ),
        }
    }
    if msg_ty.is_none() && matches!(class, Class::Session | Class::Login) {
        errs.at(
            sig.paren_token.span.join(),
            format_args!(
                "the handler for `{event}` is missing its message parameter: it takes {expected}\n= help: see `spectrum_backend::event::{event}` for the payload type"
            ),
        );
    }
    if class == Class::Login && matches!(sig.output, syn::ReturnType::Default) {
        errs.spanned(
            &sig.ident,
            "the `Login` handler constructs the session: it must return `Self` or `Result<Self, E>`",
        );
    }

    let ok = errs.is_empty();
    if let Some(e) = errs.finish() {
        errors.push(e);
    }
    ok.then(|| Checked {
        event: event.clone(),
        class,
        method: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        takes_ctx,
        msg_ty,
        output_span: match &sig.output {
            syn::ReturnType::Type(_, ty) => ty.span(),
            syn::ReturnType::Default => sig.ident.span(),
        },
        cfg: handler.cfg.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_spellings_map_to_events() {
        let id = |s: &str| syn::Ident::new(s, proc_macro2::Span::call_site());
        assert_eq!(
            looks_like_protobuf_name(&id("TYPE_CONV_MESSAGE")),
            Some("ConvMessage")
        );
        assert_eq!(
            looks_like_protobuf_name(&id("conv_message")),
            Some("ConvMessage")
        );
        assert_eq!(looks_like_protobuf_name(&id("TYPE_VCARD")), Some("VCard"));
        assert_eq!(looks_like_protobuf_name(&id("login")), Some("Login"));
        assert_eq!(looks_like_protobuf_name(&id("Login")), None);
        assert_eq!(looks_like_protobuf_name(&id("Logn")), None);
    }
}
