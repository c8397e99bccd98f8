//! Input → [`Model`]: find the handlers and take their `#[on]` off.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;

use crate::diag::Errors;
use crate::model::{Attempted, Handler, Model, Unusable};
use crate::validate::looks_like_protobuf_name;

/// Parses the item under `#[backend]`. When it cannot become a [`Model`],
/// returns what to emit in its place.
pub(crate) fn parse(input: TokenStream, errors: &mut Errors) -> Result<Model, Unusable> {
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return Err(Unusable {
                self_ty: inherent_self_ty(input.clone()).map(Box::new),
                tokens: strip_on_tokens(input),
            });
        }
    };
    let syn::Item::Impl(mut item) = item else {
        let first = input
            .clone()
            .into_iter()
            .next()
            .map(|t| t.span())
            .unwrap_or_else(proc_macro2::Span::call_site);
        errors.at(first, "`#[backend]` can only be applied to an inherent `impl` block, e.g. `#[backend] impl MyBackend { .. }`");
        return Err(Unusable {
            tokens: strip_on_tokens(input),
            self_ty: None,
        });
    };
    let mut shape_ok = true;
    if let Some((path, _)) = &item.trait_ {
        errors.spanned(
            path,
            "`#[backend]` must be placed on an inherent impl block (`impl MyBackend { .. }`), not on a trait impl",
        );
        shape_ok = false;
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.spanned(
            &item.generics,
            "`#[backend]` does not support generic impl blocks\n= help: put it on an impl for one concrete type, e.g. `impl MySession<Irc> { .. }`",
        );
        shape_ok = false;
    }
    let mut handlers = Vec::new();
    let mut attempted = Attempted::default();
    for impl_item in &mut item.items {
        match impl_item {
            syn::ImplItem::Fn(method) => {
                let ons = take_on_attrs(&mut method.attrs);
                let mut ons = ons.into_iter();
                if let Some(first) = ons.next() {
                    let event = event_name(&first, errors);
                    attempted.reported |= event.is_none();
                    if let Some(event) = event {
                        attempted.login |= event == "Login";
                        let cfg = method
                            .attrs
                            .iter()
                            .filter(|a| a.path().is_ident("cfg"))
                            .cloned()
                            .collect();
                        handlers.push(Handler {
                            event,
                            sig: method.sig.clone(),
                            cfg,
                        });
                    }
                }
                for extra in ons {
                    attempted.reported = true;
                    errors.spanned(
                        &extra,
                        "a handler can be bound to only one event; move this `#[on(..)]` to its own method",
                    );
                }
            }
            syn::ImplItem::Const(c) => misplaced(&mut c.attrs, errors, &mut attempted),
            syn::ImplItem::Type(t) => misplaced(&mut t.attrs, errors, &mut attempted),
            syn::ImplItem::Macro(m) => misplaced(&mut m.attrs, errors, &mut attempted),
            _ => {}
        }
    }
    if !shape_ok {
        return Err(Unusable {
            tokens: item.into_token_stream(),
            self_ty: None,
        });
    }
    Ok(Model {
        item,
        handlers,
        attempted,
    })
}

fn misplaced(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors, attempted: &mut Attempted) {
    for attr in take_on_attrs(attrs) {
        attempted.reported = true;
        errors.spanned(
            &attr,
            "`#[on(..)]` can only be applied to methods\n= help: put it on the method that handles the event",
        );
    }
}

fn is_on(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "on")
}

fn take_on_attrs(attrs: &mut Vec<syn::Attribute>) -> Vec<syn::Attribute> {
    let (on, rest) = std::mem::take(attrs)
        .into_iter()
        .partition(|a| is_on(a.path()));
    *attrs = rest;
    on
}

/// The event name inside `#[on(..)]`.
fn event_name(attr: &syn::Attribute, errors: &mut Errors) -> Option<syn::Ident> {
    const EXPECTED: &str = "expected an event name: `#[on(Login)]`";
    let list = match &attr.meta {
        syn::Meta::List(list) if !list.tokens.is_empty() => list,
        _ => {
            errors.spanned(attr, EXPECTED);
            return None;
        }
    };
    let tokens: Vec<TokenTree> = list.tokens.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Ident(ident)] => {
            if let Some(rust_name) = looks_like_protobuf_name(ident) {
                errors.spanned(
                    ident,
                    format_args!(
                        "unknown event `{ident}`\n= help: use the Rust variant name `{rust_name}`"
                    ),
                );
                return None;
            }
            Some(ident.clone())
        }
        [TokenTree::Literal(lit)] if lit.to_string().starts_with('"') => {
            errors.at(
                lit.span(),
                "expected a single event name, e.g. `#[on(Login)]`\n= help: write the event name without quotes",
            );
            None
        }
        _ => {
            errors.at(
                list.tokens.span(),
                "expected a single event name, e.g. `#[on(Login)]`",
            );
            None
        }
    }
}

/// The self type of `impl Type { .. }`, read without parsing the body: for
/// an inherent, non-generic impl block whose methods do not parse yet, so
/// that the fallback `Backend` impl can still be emitted.
fn inherent_self_ty(input: TokenStream) -> Option<syn::Type> {
    let header = |stream: syn::parse::ParseStream<'_>| {
        stream.call(syn::Attribute::parse_outer)?;
        stream.parse::<Option<syn::Token![unsafe]>>()?;
        stream.parse::<syn::Token![impl]>()?;
        if stream.peek(syn::Token![<]) {
            return Err(stream.error("a generic impl block"));
        }
        let self_ty: syn::Type = stream.parse()?;
        let body;
        syn::braced!(body in stream);
        body.parse::<TokenStream>()?;
        Ok(self_ty)
    };
    syn::parse::Parser::parse2(header, input).ok()
}

/// Removes `# [on(..)]` (and `#[path::on(..)]`) wherever it appears, for
/// input that does not parse: otherwise rustc would add "cannot find
/// attribute `on`" to the real syntax error.
pub(crate) fn strip_on_tokens(tokens: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(tt) = iter.next() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(g)) = iter.peek()
                    && g.delimiter() == Delimiter::Bracket
                    && attr_is_on(g.stream())
                {
                    iter.next();
                    continue;
                }
                out.push(TokenTree::Punct(p));
            }
            TokenTree::Group(g) => {
                let mut group = proc_macro2::Group::new(g.delimiter(), strip_on_tokens(g.stream()));
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

fn attr_is_on(stream: TokenStream) -> bool {
    let mut last_ident = None;
    for tt in stream {
        match tt {
            TokenTree::Ident(i) => last_ident = Some(i),
            TokenTree::Punct(p) if p.as_char() == ':' => {}
            TokenTree::Group(_) => break,
            _ => return false,
        }
    }
    last_ident.is_some_and(|i| i == "on")
}
