//! Shape rules for handlers: checked syntactically, all at once, each
//! reported at the narrowest token.
//!
//! What only types can tell (the payload type, the return type, `Send`, an
//! unknown event name) is left to rustc: `expand` spans those checks at the
//! user's tokens and the runtime's traits carry the wording.

use std::collections::HashMap;

use crate::diag::Errors;
use crate::model::{Checked, Class, Handler, Model};
use crate::paths;

// The events a backend receives (with their payload as named in the
// prelude) and those only backends send (with what to call instead): the
// runtime's own table. Used for wording (the protobuf-spelling hint, the
// expected signature, the refusal of backend-only messages); the runtime's
// types stay the authority for everything else.
use spectrum_events::{INCOMING, OUTGOING};

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

/// The payload's name for a known incoming event.
fn payload_name(event: &syn::Ident) -> Option<&'static str> {
    INCOMING
        .iter()
        .find(|(name, _)| event == name)
        .and_then(|(_, payload)| *payload)
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
        .map(|(n, _)| n)
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
        if let Some(c) = check(handler, &model.item.self_ty, errors) {
            checked.push(c);
        }
    }
    if !model.attempted.login && !model.attempted.reported {
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

/// The signature each kind of handler takes, for messages.
fn expected_signature(class: Class, event: &syn::Ident) -> String {
    let payload = payload_name(event).unwrap_or("<payload>");
    match class {
        Class::Login => "`(ctx: &Ctx, login: Login)`".to_owned(),
        Class::Logout => "`(self, ctx: &Ctx, logout: Logout)`".to_owned(),
        Class::Exit => "`(backend: &BackendCtx)`".to_owned(),
        Class::Session => format!("`(&mut self, ctx: &Ctx, msg: {payload})`"),
    }
}

/// Whether `ty` names the session type: `Self`, or the impl's own type.
fn is_session_type(ty: &syn::Type, self_ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else {
        return false;
    };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if p.qself.is_none() && p.path.segments.len() == 1 && last.ident == "Self" {
        return true;
    }
    let syn::Type::Path(own) = self_ty else {
        return false;
    };
    own.path
        .segments
        .last()
        .is_some_and(|own| own.ident == last.ident)
}

/// A `Login` return type that certainly is not `Self` or `Result<Self, E>`:
/// the type to point at. `()` and `Result<(), E>` (copied from another
/// handler) are the common cases; a plain name without generic arguments
/// may be an alias and is left to the type checker.
fn wrong_login_output<'a>(ty: &'a syn::Type, self_ty: &syn::Type) -> Option<&'a syn::Type> {
    match ty {
        syn::Type::Tuple(_) => Some(ty),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let first = args.args.iter().find_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })?;
            if is_session_type(ty, self_ty) || is_session_type(first, self_ty) {
                None
            } else {
                Some(first)
            }
        }
        _ => None,
    }
}

fn check(handler: &Handler, self_ty: &syn::Type, errors: &mut Errors) -> Option<Checked> {
    let sig = &handler.sig;
    let event = &handler.event;
    let class = class_of(event);
    let expected = expected_signature(class, event);
    let mut errs = Errors::default();

    if let Some(c) = &sig.constness {
        errs.spanned(c, "handlers cannot be `const fn`; remove `const`");
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        errs.spanned(
            u,
            "handlers cannot be `unsafe fn`; remove `unsafe` and use an `unsafe` block inside",
        );
    }
    if let Some(abi) = &sig.abi {
        errs.spanned(abi, "handlers cannot have an `extern` ABI; remove it");
    }
    if let Some(v) = &sig.variadic {
        errs.spanned(v, "handlers cannot be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errs.spanned(
            &sig.generics,
            "handlers cannot have generic parameters; name the concrete types",
        );
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
            "the `Logout` handler ends the session, so it takes `self` by value as its first parameter\n= help: write `async fn logout(self, ctx: &Ctx, logout: Logout)`",
        ),
        (Class::Session, Some(r)) if matches!(r.kind, syn::ReceiverKind::Value) => errs.spanned(
            r,
            format_args!(
                "handlers take `&mut self` or `&self`; only the `Logout` handler takes `self` by value\n= help: write `&mut self` in the handler for `{event}`"
            ),
        ),
        (Class::Session, Some(r)) if !matches!(r.kind, syn::ReceiverKind::Reference(..)) => errs
            .spanned(
                r,
                "handlers take `&mut self` or `&self`, without a type annotation",
            ),
        (Class::Session, None) => errs.at(
            sig.paren_token.span.join(),
            format_args!(
                "the handler for `{event}` must take `&mut self` or `&self` as its first parameter\n= help: write {expected}"
            ),
        ),
        _ => {}
    }

    // The other parameters: an optional context, then the message.
    let ctx_name = if class == Class::Exit {
        "BackendCtx"
    } else {
        "Ctx"
    };
    let mut takes_ctx = false;
    let mut msg_ty = None;
    let mut msg_seen = false;
    for (i, arg) in inputs.enumerate() {
        let syn::FnArg::Typed(arg) = arg else {
            continue;
        };
        let ty = &*arg.ty;
        match (ctx_like(ty), i, msg_seen) {
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
            (None, _, false) if class != Class::Exit => {
                msg_seen = true;
                if let syn::Type::ImplTrait(_) = ty {
                    let payload = payload_name(event).unwrap_or("<payload>");
                    errs.spanned(
                        ty,
                        format_args!(
                            "the message parameter cannot be `impl Trait`\n= help: write the payload type of `{event}`: `{payload}`"
                        ),
                    );
                } else {
                    msg_ty = Some(ty.clone());
                }
            }
            (None, _, _) => errs.spanned(
                arg,
                format_args!(
                    "unexpected parameter: the handler for `{event}` takes {expected}\n= help: remove this parameter"
                ),
            ),
        }
    }
    if !msg_seen && matches!(class, Class::Session | Class::Login) {
        let payload = payload_name(event).unwrap_or("<payload>");
        errs.at(
            sig.paren_token.span.join(),
            format_args!(
                "the handler for `{event}` is missing its message parameter\n= help: add a `{payload}` parameter: {expected}"
            ),
        );
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output
        && let syn::Type::ImplTrait(_) = &**ty
    {
        errs.spanned(
            ty,
            "handlers cannot return `impl Trait`; name the type, e.g. `Result<()>`",
        );
    }
    if class == Class::Login {
        const NOT_A_CONSTRUCTOR: &str = "the `Login` handler constructs the session: it must return `Self` or `Result<Self, E>`";
        match &sig.output {
            syn::ReturnType::Default => errs.spanned(
                &sig.ident,
                format_args!("{NOT_A_CONSTRUCTOR}\n= help: add `-> Result<Self>`"),
            ),
            syn::ReturnType::Type(_, ty) => {
                if let Some(wrong) = wrong_login_output(ty, self_ty) {
                    errs.spanned(
                        wrong,
                        format_args!("{NOT_A_CONSTRUCTOR}\n= help: write `Self` here"),
                    );
                }
            }
        }
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
        output_ty: match &sig.output {
            syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
            syn::ReturnType::Default => None,
        },
        output_span: match &sig.output {
            syn::ReturnType::Type(_, ty) => paths::span_range(ty),
            syn::ReturnType::Default => (sig.ident.span(), sig.ident.span()),
        },
        cfg: handler.cfg.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> syn::Type {
        syn::parse_str(s).expect("a type")
    }

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
        assert_eq!(
            looks_like_protobuf_name(&id("TYPE_CONNECTED")),
            Some("Connected")
        );
        assert_eq!(looks_like_protobuf_name(&id("login")), Some("Login"));
        assert_eq!(looks_like_protobuf_name(&id("Login")), None);
        assert_eq!(looks_like_protobuf_name(&id("Logn")), None);
        assert_eq!(looks_like_protobuf_name(&id("TYPE_NOPE")), None);
    }

    #[test]
    fn login_outputs_that_cannot_be_a_session() {
        let session = ty("Session");
        let wrong = |s: &str| {
            let t = ty(s);
            wrong_login_output(&t, &session).map(|w| quote::quote!(#w).to_string())
        };
        assert_eq!(wrong("()"), Some("()".to_owned()));
        assert_eq!(wrong("Result<()>"), Some("()".to_owned()));
        assert_eq!(wrong("Result<(), MyError>"), Some("()".to_owned()));
        assert_eq!(wrong("std::io::Result<String>"), Some("String".to_owned()));
        for fine in [
            "Self",
            "Session",
            "crate::Session",
            "Result<Self>",
            "Result<Self, MyError>",
            "anyhow::Result<Session>",
            // Plain names may be aliases: left to the type checker.
            "LoginResult",
            "i32",
        ] {
            assert_eq!(wrong(fine), None, "{fine}");
        }
    }
}
