//! [`Model`] → `impl Backend`, and the fallback emitted on error.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};

use crate::diag::Errors;
use crate::model::{Checked, Class, Model};
use crate::{args, parse, paths, validate};

/// The whole attribute: always emits the impl block (minus `#[on]`), then
/// either the generated `Backend` impl or the errors with a fallback impl.
pub(crate) fn backend(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    let krate = paths::krate(args.krate.as_ref());
    let model = match parse::parse(input, &mut errors) {
        Ok(model) => model,
        Err(unusable) => {
            let tokens = unusable.tokens;
            let fallback = unusable.self_ty.map(|ty| fallback(&ty, &krate));
            let errors = errors.finish().map(|e| e.into_compile_error());
            return quote!(#tokens #fallback #errors);
        }
    };
    let handlers = validate::validate(&model, &mut errors);
    let item = model.item.to_token_stream();
    match errors.finish() {
        None => {
            let generated = backend_impl(&model, &handlers, &krate);
            quote!(#item #generated)
        }
        Some(e) => {
            let fallback = fallback(&model.item.self_ty, &krate);
            let e = e.into_compile_error();
            quote!(#item #fallback #e)
        }
    }
}

/// `#[on(..)]` outside a `#[backend]` impl block: an error at the event
/// name (the attribute's own tokens are not given to the macro, and a
/// call-site span would add "this error originates in the attribute macro"
/// noise), then the item unchanged.
pub(crate) fn stray_on(args: TokenStream, input: TokenStream) -> TokenStream {
    let span = args
        .clone()
        .into_iter()
        .next()
        .or_else(|| input.clone().into_iter().next())
        .map_or_else(proc_macro2::Span::call_site, |t| t.span());
    let error = syn::Error::new(
        span,
        "`#[on(..)]` must be used on a method inside an impl block annotated with `#[backend]`\n= help: annotate its impl block with `#[backend]`, or move it into one",
    )
    .into_compile_error();
    quote!(#error #input)
}

/// A `Backend` impl that compiles, so that code using the type reports no
/// second error while the first is being fixed.
fn fallback(self_ty: &syn::Type, krate: &TokenStream) -> TokenStream {
    quote! {
        impl #krate::Backend for #self_ty {
            const EVENTS: &'static [#krate::EventKind] = &[];
            fn login(
                _: &#krate::Ctx,
                _: #krate::proto::Login,
            ) -> impl ::core::future::Future<Output = #krate::Result<Self>> + ::core::marker::Send {
                async { ::core::unreachable!("`#[backend]` failed to expand") }
            }
        }
    }
}

/// The call of the user's method: `Self::m(self?, ctx?, msg?)`, awaited when
/// async. Its future is checked for `Send` at the method's name, so that a
/// non-`Send` handler is reported there rather than at `#[backend]`. The
/// binding ends before the await: held across it, it would be a second
/// copy of the handler's future in the generated one.
fn call(
    h: &Checked,
    receiver: Option<TokenStream>,
    ctx: &TokenStream,
    msg: Option<TokenStream>,
) -> TokenStream {
    let method = &h.method;
    let mut args = Vec::new();
    args.extend(receiver);
    if h.takes_ctx {
        args.push(ctx.clone());
    }
    args.extend(msg);
    let span = method.span();
    if h.is_async {
        quote_spanned! {span=> {
            let __future = Self::#method(#(#args),*);
            let _: &dyn ::core::marker::Send = &__future;
            __future
        }.await}
    } else {
        quote_spanned!(span=> Self::#method(#(#args),*))
    }
}

/// Converts the payload for the user's parameter. The parameter's type is
/// the qualified self type, so a wrong type is reported on all of it.
fn payload(
    h: &Checked,
    krate: &TokenStream,
    ev: &TokenStream,
    value: TokenStream,
) -> Option<TokenStream> {
    let ty = h.msg_ty.as_ref()?;
    let (_, last) = paths::span_range(ty);
    let payload_of = paths::respan(quote!(#krate::handler::PayloadOf), last);
    Some(quote_spanned!(last=> <#ty as #payload_of<#ev>>::from_payload(#value, __ctx)))
}

/// Normalises the return value into `Result<success>`, converting its error
/// into `spectrum_backend::Error`. Both checks are reported on the whole
/// return type: it is the qualified self type of the first, and the second's
/// self type is spanned across it.
fn output(
    h: &Checked,
    krate: &TokenStream,
    success: TokenStream,
    value: TokenStream,
) -> TokenStream {
    let (first, last) = h.output_span;
    let handler_output = paths::respan(quote!(#krate::handler::HandlerOutput), last);
    let from_error = paths::respan(quote!(#krate::handler::FromHandlerError), last);
    let error = paths::respan_range(quote!(#krate::Error), h.output_span);
    let returned = match &h.output_ty {
        Some(ty) => quote!(#ty),
        None => quote_spanned!(first=> _),
    };
    quote_spanned! {last=>
        <#returned as #handler_output<#success>>::into_result(#value)
            .map_err(<#error as #from_error<_>>::from_handler_error)
    }
}

fn backend_impl(model: &Model, handlers: &[Checked], krate: &TokenStream) -> TokenStream {
    let self_ty = &model.item.self_ty;
    let incoming = quote!(#krate::handler::Incoming);
    let ctx = quote!(__ctx);
    let mut events = Vec::new();
    let mut login = None;
    let mut logout = None;
    let mut exit = None;
    let mut arms = Vec::new();
    for h in handlers {
        let ev = paths::event(krate, &h.event);
        let cfg = &h.cfg;
        events.push(quote!(#(#cfg)* <#ev as #incoming>::KIND,));
        match h.class {
            Class::Login => {
                let msg = payload(h, krate, &ev, quote!(__login));
                let out = output(h, krate, quote!(Self), quote!(__out));
                let call = call(h, None, &ctx, msg);
                login = Some(quote! {
                    #(#cfg)*
                    fn login(
                        #ctx: &#krate::Ctx,
                        __login: #krate::proto::Login,
                    ) -> impl ::core::future::Future<Output = #krate::Result<Self>> + ::core::marker::Send {
                        async move {
                            let __out = #call;
                            #out
                        }
                    }
                });
            }
            Class::Logout => {
                let msg = payload(h, krate, &ev, quote!(__logout));
                let out = output(h, krate, quote!(()), quote!(__out));
                let call = call(h, Some(quote!(self)), &ctx, msg);
                logout = Some(quote! {
                    #(#cfg)*
                    fn logout(
                        self,
                        #ctx: &#krate::Ctx,
                        __logout: #krate::proto::Logout,
                    ) -> impl ::core::future::Future<Output = #krate::Result<()>> + ::core::marker::Send {
                        async move {
                            let _ = &__logout;
                            let __out = #call;
                            #out
                        }
                    }
                });
            }
            Class::Exit => {
                let out = output(h, krate, quote!(()), quote!(__out));
                let call = call(h, None, &ctx, None);
                exit = Some(quote! {
                    #(#cfg)*
                    fn exit(
                        #ctx: &#krate::BackendCtx,
                    ) -> impl ::core::future::Future<Output = #krate::Result<()>> + ::core::marker::Send {
                        async move {
                            let __out = #call;
                            #out
                        }
                    }
                });
            }
            Class::Session => {
                let msg = payload(h, krate, &ev, quote!(__payload));
                let out = output(h, krate, quote!(<#ev as #incoming>::Output), quote!(__out));
                let call = call(h, Some(quote!(self)), &ctx, msg);
                arms.push(quote! {
                    #(#cfg)*
                    let __event = match <#ev as #incoming>::extract(__event) {
                        ::core::result::Result::Ok((__payload, __meta)) => {
                            let __out = #call;
                            let __out = #out?;
                            return <#ev as #incoming>::finish(#ctx, __meta, __out).await;
                        }
                        ::core::result::Result::Err(__event) => __event,
                    };
                });
            }
        }
    }
    let handle = (!arms.is_empty()).then(|| {
        quote! {
            fn handle(
                &mut self,
                #ctx: &#krate::Ctx,
                __event: #krate::Event,
            ) -> impl ::core::future::Future<Output = #krate::Result<()>> + ::core::marker::Send {
                async move {
                    #(#arms)*
                    #krate::unhandled(#ctx, __event).await
                }
            }
        }
    });
    quote! {
        impl #krate::Backend for #self_ty {
            const EVENTS: &'static [#krate::EventKind] = &[#(#events)*];
            #login
            #handle
            #logout
            #exit
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;
    use quote::quote;

    fn expand(args: &str, input: &str) -> String {
        let args = TokenStream::from_str(args).expect("args tokens");
        let input = TokenStream::from_str(input).expect("input tokens");
        super::backend(args, input).to_string()
    }

    fn errors(out: &str) -> usize {
        out.matches("compile_error").count()
    }

    #[test]
    fn a_valid_impl_gets_a_backend_impl_and_loses_its_on_attributes() {
        let out = expand(
            "",
            "impl S {
                #[on(Login)] async fn login(_l: Login) -> Self { S }
                #[on(ConvMessage)] fn message(&mut self, _m: ConversationMessage) {}
                fn plain(&self) {}
            }",
        );
        assert_eq!(errors(&out), 0, "{out}");
        assert!(
            out.contains("impl :: spectrum_backend :: Backend for S"),
            "{out}"
        );
        assert!(out.contains("fn plain"), "{out}");
        assert!(!out.contains("# [on"), "{out}");
    }

    #[test]
    fn the_crate_path_can_be_renamed() {
        let out = expand(
            "crate = reexport::sb",
            "impl S { #[on(Login)] fn login(_l: Login) -> Self { S } }",
        );
        assert_eq!(errors(&out), 0, "{out}");
        assert!(
            out.contains("impl reexport :: sb :: Backend for S"),
            "{out}"
        );
        assert!(!out.contains("spectrum_backend"), "{out}");
    }

    #[test]
    fn every_mistake_is_reported_and_the_impl_is_still_emitted() {
        let out = expand(
            "",
            r#"impl S {
                #[on(Login)] async fn login(_l: Login) -> Self { S }
                #[on] async fn a(&mut self, _m: ConversationMessage) {}
                #[on(BuddyTyping, BuddyTyped)] async fn b(&mut self, _b: Buddy) {}
                #[on("StatusChanged")] async fn c(&mut self, _s: Status) {}
                #[on(JoinRoom)] async fn d(self, _r: Room) {}
                fn plain(&self) {}
            }"#,
        );
        assert_eq!(errors(&out), 4, "{out}");
        assert!(out.contains("fn plain"), "{out}");
        assert!(!out.contains("# [on"), "{out}");
        // The fallback `Backend` impl, so that `T: Backend` holds elsewhere.
        assert!(out.contains("Backend for S"), "{out}");
        assert!(
            out.contains("const EVENTS : & 'static [:: spectrum_backend :: EventKind] = & [] ;"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_login_is_not_reported_after_a_malformed_one() {
        let out = expand("", "impl S { #[on] fn login(_l: Login) -> Self { S } }");
        assert_eq!(errors(&out), 1, "{out}");
        let out = expand("", "impl S { fn plain(&self) {} }");
        assert_eq!(errors(&out), 1, "{out}");
        assert!(out.contains("needs an `#[on(Login)]` handler"), "{out}");
    }

    #[test]
    fn input_that_does_not_parse_is_returned_without_on_attributes() {
        let out = expand(
            "",
            "impl S {
                #[on(Login)] fn login(l: Login) -> Self { let _x = l.; S }
                #[spectrum_backend::on(Exit)] fn exit() {}
            }",
        );
        assert_eq!(errors(&out), 1, "{out}");
        assert!(!out.contains("on ("), "{out}");
        assert!(out.contains("fn login"), "{out}");
        assert!(out.contains("Backend for S"), "{out}");
        // Not for a trait impl or a generic one.
        for input in [
            "impl Greet for S { fn f() { x. } }",
            "impl<T> S<T> { fn f() { x. } }",
        ] {
            let out = expand("", input);
            assert_eq!(errors(&out), 1, "{out}");
            assert!(!out.contains("Backend for"), "{out}");
        }
    }

    #[test]
    fn trait_and_generic_impls_get_no_fallback() {
        for input in [
            "impl Greet for S { fn greet(&self) {} }",
            "impl<T> S<T> { #[on(Login)] fn login(_l: Login) -> Self { todo!() } }",
        ] {
            let out = expand("", input);
            assert_eq!(errors(&out), 1, "{out}");
            assert!(!out.contains("Backend for"), "{out}");
            assert!(!out.contains("# [on"), "{out}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        for (args, input) in [
            ("", ""),
            ("", "struct S;"),
            ("", "fn f() {}"),
            ("", "impl S"),
            ("", "impl S { #[on()] fn f() {} }"),
            ("", "impl S { #[on(::)] fn f() {} }"),
            ("", "impl S { #[on = 1] fn f() {} }"),
            (
                "",
                "impl S { #[on(Login)] const X: u8 = 0; #[on(Login)] type T = u8; }",
            ),
            (
                "",
                "impl S { #[on(Login)] fn login(self: Box<Self>, _l: Login) -> Self {} }",
            ),
            (
                "",
                "impl S { #[on(Login)] fn login(_l: Login) -> impl Sized {} }",
            ),
            (
                "",
                "impl S { #[on(Exit)] fn exit(_b: &BackendCtx, _x: u8) {} }",
            ),
            ("crate", "impl S {}"),
            ("crate =", "impl S {}"),
            ("crate = 1", "impl S {}"),
            ("a::b = c", "impl S {}"),
            ("=", "impl S {}"),
        ] {
            let out = expand(args, input);
            assert!(errors(&out) >= 1, "{args} / {input}: {out}");
        }
    }

    #[test]
    fn a_stray_on_keeps_its_item() {
        let out = super::stray_on(
            quote!(Login),
            quote!(
                fn login() {}
            ),
        )
        .to_string();
        assert_eq!(errors(&out), 1, "{out}");
        assert!(out.contains("fn login"), "{out}");
        let out = super::stray_on(TokenStream::new(), TokenStream::new()).to_string();
        assert_eq!(errors(&out), 1, "{out}");
    }
}
