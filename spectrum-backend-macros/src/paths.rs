//! Paths into `spectrum_backend`, spanned where the user will look.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;

/// The runtime crate's path: `::spectrum_backend` or `#[backend(crate = ..)]`.
pub(crate) fn krate(custom: Option<&syn::Path>) -> TokenStream {
    match custom {
        Some(path) => quote!(#path),
        None => quote!(::spectrum_backend),
    }
}

/// The same tokens with every span moved to `span`, so that an error about
/// a generated path points at the user's token rather than at `#[backend]`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// `krate::event::Name`, spanned at the event name in `#[on(Name)]`.
pub(crate) fn event(krate: &TokenStream, event: &syn::Ident) -> TokenStream {
    let krate = respan(krate.clone(), event.span());
    let ev = quote::quote_spanned!(event.span()=> #krate::event::#event);
    ev
}
