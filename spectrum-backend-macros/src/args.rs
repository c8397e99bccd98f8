//! `#[backend(crate = path)]`.

use crate::diag::Errors;

pub(crate) struct BackendArgs {
    pub(crate) krate: Option<syn::Path>,
}

pub(crate) fn parse(args: proc_macro2::TokenStream, errors: &mut Errors) -> BackendArgs {
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            if krate.is_some() {
                return Err(meta.error("duplicate `crate` argument\n= help: remove this one"));
            }
            krate = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let help = if name.contains("crate") || name == "krate" {
                "\n= help: did you mean `crate`?"
            } else {
                "\n= help: the only argument is `crate = path::to::spectrum_backend`"
            };
            Err(meta.error(format_args!("unknown `#[backend]` argument `{name}`{help}")))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    BackendArgs { krate }
}
