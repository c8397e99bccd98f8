//! What the macro understood of the impl block.

use proc_macro2::{Span, TokenStream};

/// The impl block, with every `#[on]` attribute already removed.
pub(crate) struct Model {
    pub(crate) item: syn::ItemImpl,
    pub(crate) handlers: Vec<Handler>,
    /// What the `#[on(..)]` attributes were meant to be, even malformed ones.
    pub(crate) attempted: Attempted,
}

/// What to emit when the input cannot become a [`Model`].
pub(crate) struct Unusable {
    /// The input, minus every `#[on]`.
    pub(crate) tokens: TokenStream,
    /// The self type of an inherent, non-generic impl block: a fallback
    /// `Backend` impl is emitted for it.
    pub(crate) self_ty: Option<Box<syn::Type>>,
}

#[derive(Default)]
pub(crate) struct Attempted {
    /// An `#[on(Login)]` was written on a method.
    pub(crate) login: bool,
    /// An `#[on(..)]` was already reported (its event unreadable, or not on
    /// a method): it may have been meant as `Login`, so a missing `Login`
    /// is not reported on top.
    pub(crate) reported: bool,
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
    /// The return type, if written.
    pub(crate) output_ty: Option<syn::Type>,
    /// The first and last spans of the return type, or the method's name
    /// twice when there is none: where return-type errors are reported.
    pub(crate) output_span: (Span, Span),
    pub(crate) cfg: Vec<syn::Attribute>,
}
