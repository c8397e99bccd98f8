//! Paths into `spectrum_backend`, spanned where the user will look.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};

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
    quote::quote_spanned!(event.span()=> #krate::event::#event)
}

/// The spans of the first and last tokens of `tokens` (the call site for
/// none).
///
/// A generated expression whose first token is spanned at the first and
/// whose last token is spanned at the last makes rustc underline the whole
/// user item, e.g. all of `Result<(), MyError>` instead of only `Result`.
pub(crate) fn span_range(tokens: &impl ToTokens) -> (Span, Span) {
    let mut iter = tokens.to_token_stream().into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    let last = iter.last().map_or(first, |t| t.span());
    (first, last)
}

/// `tokens` spanned so that rustc underlines from `first` to `last`: the
/// first token at `first`, every other at `last`.
pub(crate) fn respan_range(tokens: TokenStream, (first, last): (Span, Span)) -> TokenStream {
    let mut out: Vec<TokenTree> = respan(tokens, last).into_iter().collect();
    if let Some(head) = out.first_mut() {
        head.set_span(first);
    }
    out.into_iter().collect()
}
