//! What the macro understood of the impl block.

use proc_macro2::Span;

/// The impl block, with every `#[on]` attribute already removed.
pub(crate) struct Model {
    pub(crate) item: syn::ItemImpl,
    pub(crate) handlers: Vec<Handler>,
    /// Whether any `#[on(..)]` was written, even a malformed one.
    pub(crate) attempted: Attempted,
}

#[derive(Default)]
pub(crate) struct Attempted {
    pub(crate) any: bool,
    pub(crate) login: bool,
}

/// One method tagged `#[on(Event)]`.
pub(crate) struct Handler {
    pub(crate) event: syn::Ident,
    pub(crate) sig: syn::Signature,
    /// `#[cfg(..)]` of the method, copied onto what is generated for it.
    pub(crate) cfg: Vec<syn::Attribute>,
}

/// How an event's handler must look.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// Constructs the session: no receiver, returns `Self`.
    Login,
    /// Consumes the session: `self` by value.
    Logout,
    /// Backend-wide, once: no receiver.
    Exit,
    /// Every other event: `&mut self` (or `&self`), a message.
    Session,
}

/// A handler whose shape passed validation.
pub(crate) struct Checked {
    pub(crate) event: syn::Ident,
    pub(crate) class: Class,
    pub(crate) method: syn::Ident,
    pub(crate) is_async: bool,
    pub(crate) takes_ctx: bool,
    pub(crate) msg_ty: Option<syn::Type>,
    /// The return type's span, or the signature's when there is none.
    pub(crate) output_span: Span,
    pub(crate) cfg: Vec<syn::Attribute>,
}
