//! The `#[backend]` and `#[on(..)]` attributes of
//! [`spectrum-backend`](https://docs.rs/spectrum-backend).
//!
//! Depend on `spectrum-backend` and use its re-exports; this crate is an
//! implementation detail. The macro is a small compiler: `parse` turns the
//! impl block into a model, `validate` checks every handler's shape and
//! reports all mistakes at once, `expand` writes the `Backend` impl. On any
//! error the impl block is still emitted, so IDEs keep working.

mod args;
mod diag;
mod expand;
mod model;
mod parse;
mod paths;
mod validate;

use proc_macro::TokenStream;

/// Turns an inherent impl block into a Spectrum 2 backend.
///
/// The type is one user's session. Methods tagged `#[on(Event)]` handle
/// events; the others stay ordinary methods. `#[on(Login)]` is required and
/// constructs the session. See the `spectrum_backend` crate docs.
///
/// `#[backend(crate = path)]` names the `spectrum_backend` crate when it is
/// renamed or re-exported.
#[proc_macro_attribute]
pub fn backend(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::backend(args.into(), input.into()).into()
}

/// Binds a method of a `#[backend]` impl block to an event, e.g.
/// `#[on(ConvMessage)]`. Only meaningful inside `#[backend]`, which removes
/// it; anywhere else it is an error, and the item is kept as written.
#[proc_macro_attribute]
pub fn on(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::stray_on(args.into(), input.into()).into()
}
