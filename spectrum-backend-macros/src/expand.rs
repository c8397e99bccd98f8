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
        Err(emitted) => {
            let errors = errors.finish().map(|e| e.into_compile_error());
            return quote!(#emitted #errors);
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
            let fallback = fallback(&model, &krate);
            let e = e.into_compile_error();
            quote!(#item #fallback #e)
        }
    }
}

/// A `Backend` impl that compiles, so that code using the type reports no
/// second error while the first is being fixed.
fn fallback(model: &Model, krate: &TokenStream) -> TokenStream {
    let self_ty = &model.item.self_ty;
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
/// async, its future checked for `Send` at the method's name.
fn call(
    h: &Checked,
    krate: &TokenStream,
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
        let send = paths::respan(quote!(#krate::__private::assert_send), span);
        quote_spanned!(span=> #send(Self::#method(#(#args),*)).await)
    } else {
        quote_spanned!(span=> Self::#method(#(#args),*))
    }
}

/// Converts the payload for the user's parameter, spanned at its type.
fn payload(
    h: &Checked,
    krate: &TokenStream,
    ev: &TokenStream,
    value: TokenStream,
) -> Option<TokenStream> {
    let ty = h.msg_ty.as_ref()?;
    let span = syn::spanned::Spanned::span(ty);
    let payload_of = paths::respan(quote!(#krate::__private::PayloadOf), span);
    Some(quote_spanned!(span=> <#ty as #payload_of<#ev>>::from_payload(#value)))
}

/// Normalises the return value, spanned at the return type.
fn output(
    h: &Checked,
    krate: &TokenStream,
    success: TokenStream,
    value: TokenStream,
) -> TokenStream {
    let span = h.output_span;
    let handler_output = paths::respan(quote!(#krate::__private::HandlerOutput), span);
    quote_spanned!(span=> <_ as #handler_output<#success>>::into_result(#value))
}

fn backend_impl(model: &Model, handlers: &[Checked], krate: &TokenStream) -> TokenStream {
    let self_ty = &model.item.self_ty;
    let incoming = quote!(#krate::__private::Incoming);
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
                let call = call(h, krate, None, &ctx, msg);
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
                let call = call(h, krate, Some(quote!(self)), &ctx, msg);
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
                let call = call(h, krate, None, &ctx, None);
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
                let call = call(h, krate, Some(quote!(self)), &ctx, msg);
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
